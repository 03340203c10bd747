//go:build linux && cgo

package xwin

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	red   = color.RGBA{R: 255, A: 255}
	blue  = color.RGBA{B: 255, A: 255}
	green = color.RGBA{G: 255, A: 255} // test parent background
	white = color.RGBA{R: 255, G: 255, B: 255, A: 255}
)

func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") != "" {
		closeKeepAlive, err := openKeepAlive()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		code := m.Run()
		closeKeepAlive()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func needDisplay(t *testing.T) {
	t.Helper()
	if os.Getenv("DISPLAY") == "" {
		t.Skip(`no $DISPLAY: run under xvfb-run -a -s "-screen 0 1280x800x24"`)
	}
}

func newParent(t *testing.T, w, h int) uintptr {
	t.Helper()
	id, cleanup, err := createTestParent(w, h)
	if err != nil {
		t.Fatalf("createTestParent: %v", err)
	}
	t.Cleanup(cleanup)
	return id
}

func openSurface(t *testing.T, parent uintptr) *Surface {
	t.Helper()
	s, err := Open(parent)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fillPattern paints the left half red and the right half blue (BGRX).
func fillPattern(pix []byte, stride, w, h int) bool {
	for y := 0; y < h; y++ {
		row := pix[y*stride:]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+4]
			if x < w/2 {
				p[0], p[1], p[2], p[3] = 0, 0, 255, 0
			} else {
				p[0], p[1], p[2], p[3] = 255, 0, 0, 0
			}
		}
	}
	return true
}

type probe struct {
	x, y int
	want color.RGBA
}

func patternProbes(x, y, w, h int) []probe {
	return []probe{
		{x, y, red}, {x + w/4, y + h/2, red}, {x + w/2 - 1, y + h - 1, red},
		{x + w/2, y, blue}, {x + 3*w/4, y + h/2, blue}, {x + w - 1, y + h - 1, blue},
		{x - 1, y + h/2, green}, {x + w, y + h/2, green}, {x + w/4, y - 1, green},
		{x + 3*w/4, y + h, green}, {0, 0, green},
	}
}

// checkPattern grabs parent and reports the probes that do not match.
func checkPattern(t *testing.T, parent uintptr, x, y, w, h int) []string {
	t.Helper()
	img, err := grabTestWindow(parent)
	if err != nil {
		t.Fatalf("grab: %v", err)
	}
	var bad []string
	for _, p := range patternProbes(x, y, w, h) {
		if !(image.Point{p.x, p.y}.In(img.Bounds())) {
			continue
		}
		if got := img.RGBAAt(p.x, p.y); got != p.want {
			bad = append(bad, "("+strconv.Itoa(p.x)+","+strconv.Itoa(p.y)+"): got "+
				colorString(got)+" want "+colorString(p.want))
		}
	}
	return bad
}

func colorString(c color.RGBA) string {
	return "#" + strconv.FormatUint(uint64(c.R)<<16|uint64(c.G)<<8|uint64(c.B), 16)
}

func mustPattern(t *testing.T, parent uintptr, x, y, w, h int) {
	t.Helper()
	if bad := checkPattern(t, parent, x, y, w, h); len(bad) > 0 {
		t.Fatalf("picture mismatch at %d,%d %dx%d: %s", x, y, w, h, strings.Join(bad, "; "))
	}
}

// shmExists reports whether a System V shm segment with this id exists.
func shmExists(t *testing.T, id int) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Skipf("cannot read /proc/sysvipc/shm: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}

func TestDrawResizeHide(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 640, 400)
	s := openSurface(t, parent)

	if err := s.SetGeometry(10, 20, 320, 180, true); err != nil {
		t.Fatalf("SetGeometry: %v", err)
	}
	if !s.UsesShm() {
		t.Errorf("UsesShm() = false under Xvfb, want true")
	}
	all, noProp, err := testEventMasks(s.childWindow())
	if err != nil {
		t.Fatal(err)
	}
	if all != 1<<15 || noProp != 0 { // ExposureMask only, input propagates
		t.Errorf("child event masks = %#x (do-not-propagate %#x), want only ExposureMask", all, noProp)
	}
	if err := s.Draw(fillPattern); err != nil {
		t.Fatalf("Draw: %v", err)
	}
	mustPattern(t, parent, 10, 20, 320, 180)

	// Same geometry again: no change, picture stays.
	if err := s.SetGeometry(10, 20, 320, 180, true); err != nil {
		t.Fatalf("SetGeometry (unchanged): %v", err)
	}

	// Move and resize, draw again.
	if err := s.SetGeometry(100, 50, 201, 99, true); err != nil {
		t.Fatalf("SetGeometry (resize): %v", err)
	}
	var gotW, gotH int
	err = s.Draw(func(pix []byte, stride, w, h int) bool {
		gotW, gotH = w, h
		if stride < 4*w || len(pix) != stride*h {
			t.Errorf("stride %d, len %d for %dx%d", stride, len(pix), w, h)
			return false
		}
		return fillPattern(pix, stride, w, h)
	})
	if err != nil {
		t.Fatalf("Draw after resize: %v", err)
	}
	if gotW != 201 || gotH != 99 {
		t.Fatalf("fill got %dx%d, want 201x99", gotW, gotH)
	}
	mustPattern(t, parent, 100, 50, 201, 99)

	// fill returning false shows nothing new.
	if err := s.Draw(func([]byte, int, int, int) bool { return false }); err != nil {
		t.Fatalf("Draw (false): %v", err)
	}

	// Hidden: fill must not be called, and the parent shows through.
	if err := s.SetGeometry(100, 50, 201, 99, false); err != nil {
		t.Fatalf("SetGeometry (hide): %v", err)
	}
	called := false
	if err := s.Draw(func([]byte, int, int, int) bool { called = true; return true }); err != nil {
		t.Fatalf("Draw (hidden): %v", err)
	}
	if called {
		t.Errorf("fill called while hidden")
	}
	img, err := grabTestWindow(parent)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(150, 100); got != green {
		t.Errorf("hidden surface area shows %s, want parent background", colorString(got))
	}
	// Zero size while "visible" also means unmapped.
	if err := s.SetGeometry(100, 50, 0, 99, true); err != nil {
		t.Fatalf("SetGeometry (zero width): %v", err)
	}
	if err := s.Draw(func([]byte, int, int, int) bool { called = true; return true }); err != nil || called {
		t.Errorf("Draw at zero size: err %v, fill called %v", err, called)
	}
}

func TestRedrawAfterExpose(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 400, 300)
	s := openSurface(t, parent)
	if err := s.SetGeometry(30, 40, 200, 100, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Draw(fillPattern); err != nil {
		t.Fatal(err)
	}
	mustPattern(t, parent, 30, 40, 200, 100)

	// Cover the surface with a white window, then remove it: the child has
	// no background, so the white stays until Redraw puts the image again.
	_, uncover, err := createTestWindow(400, 300, 0xffffff)
	if err != nil {
		t.Fatal(err)
	}
	uncover()
	img, err := grabTestWindow(parent)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(80, 90); got != white {
		t.Logf("after uncovering, child shows %s (expected stale white)", colorString(got))
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if err := s.Redraw(); err != nil {
			t.Fatalf("Redraw: %v", err)
		}
		bad := checkPattern(t, parent, 30, 40, 200, 100)
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("picture not restored by Redraw: %s", strings.Join(bad, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTwoSurfacesStacking(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 400, 300)
	big := openSurface(t, parent)
	inset := openSurface(t, parent)
	// The inset is mapped first: the later-opened surface stays on top anyway.
	if err := inset.SetGeometry(200, 100, 60, 40, true); err != nil {
		t.Fatal(err)
	}
	if err := big.SetGeometry(0, 0, 300, 200, true); err != nil {
		t.Fatal(err)
	}
	solid := func(b, g, r byte) func([]byte, int, int, int) bool {
		return func(pix []byte, stride, w, h int) bool {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					copy(pix[y*stride+4*x:], []byte{b, g, r, 0})
				}
			}
			return true
		}
	}
	if err := inset.Draw(solid(255, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := big.Draw(solid(0, 0, 255)); err != nil {
		t.Fatal(err)
	}
	img, err := grabTestWindow(parent)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.RGBAAt(230, 120); got != blue {
		t.Errorf("inset area shows %s, want the later-opened inset (blue) on top", colorString(got))
	}
	if got := img.RGBAAt(100, 100); got != red {
		t.Errorf("big surface shows %s, want red", colorString(got))
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 300, 200)
	s, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetGeometry(0, 0, 64, 48, true); err != nil {
		t.Fatal(err)
	}
	id1 := s.shmID()
	if id1 < 0 || !shmExists(t, id1) {
		t.Fatalf("shm segment %d not in use", id1)
	}
	// A resize replaces the segment; the old one must be gone.
	if err := s.SetGeometry(0, 0, 65, 48, true); err != nil {
		t.Fatal(err)
	}
	id2 := s.shmID()
	if id2 < 0 || !shmExists(t, id2) {
		t.Fatalf("new shm segment %d not in use", id2)
	}
	if id1 != id2 && shmExists(t, id1) {
		t.Errorf("old shm segment %d still exists after resize", id1)
	}
	if err := s.Draw(fillPattern); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if shmExists(t, id2) {
		t.Errorf("shm segment %d still exists after Close", id2)
	}
	if err := s.Draw(fillPattern); !errors.Is(err, ErrClosed) {
		t.Errorf("Draw after Close = %v, want ErrClosed", err)
	}
	if err := s.SetGeometry(0, 0, 10, 10, true); !errors.Is(err, ErrClosed) {
		t.Errorf("SetGeometry after Close = %v, want ErrClosed", err)
	}
	if err := s.Redraw(); !errors.Is(err, ErrClosed) {
		t.Errorf("Redraw after Close = %v, want ErrClosed", err)
	}
	if s.UsesShm() {
		t.Errorf("UsesShm after Close = true")
	}
}

func TestBadInput(t *testing.T) {
	needDisplay(t)
	for _, id := range []uintptr{0, 0x1ffffff0, 1 << 40} {
		if s, err := Open(id); err == nil {
			_ = s.Close()
			t.Errorf("Open(%#x) succeeded, want error", id)
		} else {
			t.Logf("Open(%#x): %v", id, err)
		}
	}
	parent := newParent(t, 100, 100)
	s := openSurface(t, parent)
	for _, g := range [][4]int{{0, 0, -1, 10}, {0, 0, 10, -1}, {0, 0, 20000, 10}, {0, 0, 10, 20000}, {40000, 0, 10, 10}} {
		if err := s.SetGeometry(g[0], g[1], g[2], g[3], true); err == nil {
			t.Errorf("SetGeometry%v succeeded, want error", g)
		}
	}
	if err := s.Draw(nil); err == nil {
		t.Errorf("Draw(nil) succeeded, want error")
	}
	// The surface still works after the rejected calls.
	if err := s.SetGeometry(0, 0, 16384, 1, true); err != nil {
		t.Errorf("SetGeometry at the size limit: %v", err)
	}
}

func TestParentDestroyed(t *testing.T) {
	needDisplay(t)
	id, cleanup, err := createTestParent(200, 100)
	if err != nil {
		t.Fatal(err)
	}
	s := openSurface(t, id)
	if err := s.SetGeometry(0, 0, 50, 50, true); err != nil {
		t.Fatal(err)
	}
	cleanup() // destroys the parent and with it the child
	if err := s.SetGeometry(10, 10, 60, 60, true); err == nil {
		t.Errorf("SetGeometry on a destroyed window succeeded, want an X error")
	} else {
		t.Logf("SetGeometry after parent destroyed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestConcurrentDrawAndGeometry(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 400, 300)
	s := openSurface(t, parent)
	if err := s.SetGeometry(0, 0, 160, 90, true); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := s.Draw(fillPattern); err != nil {
				errs <- err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := s.SetGeometry(i%40, i%30, 100+i%7*20, 60+i%5*10, i%10 != 9); err != nil {
				errs <- err
			}
			if err := s.Redraw(); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPlainXPutImage(t *testing.T) {
	needDisplay(t)
	parent := newParent(t, 300, 200)
	s := openSurface(t, parent)
	s.mu.Lock()
	s.shm = false // force the fallback path
	s.mu.Unlock()
	if err := s.SetGeometry(5, 6, 120, 70, true); err != nil {
		t.Fatal(err)
	}
	if s.UsesShm() || s.shmID() != -1 {
		t.Fatalf("shm in use after forcing it off")
	}
	if err := s.Draw(fillPattern); err != nil {
		t.Fatal(err)
	}
	mustPattern(t, parent, 5, 6, 120, 70)
	if err := s.SetGeometry(7, 8, 91, 33, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Draw(fillPattern); err != nil {
		t.Fatal(err)
	}
	mustPattern(t, parent, 7, 8, 91, 33)
}

// TestErrorsStayOnTheirConnection: goroutines draw into three surfaces and
// make X errors on them, while the rest of the process makes errors on a
// connection of its own and "GLFW" swaps the process-wide handler around
// its own failing requests, as it does on the main thread. Every surface
// error must come back from the call that caused it, none may reach a
// process-wide handler, every foreign error must reach one (the
// application's or GLFW's, whichever is installed), GLFW's handler must see
// its own errors, and nothing may exit or recurse.
func TestErrorsStayOnTheirConnection(t *testing.T) {
	needDisplay(t)
	world, err := newErrorWorld()
	if err != nil {
		t.Fatal(err)
	}
	defer world.close()
	parent := newParent(t, 400, 300)
	var surfaces []*Surface
	for i := range 3 {
		s := openSurface(t, parent)
		if err := s.SetGeometry(i*100, i*50, 160, 90, true); err != nil {
			t.Fatal(err)
		}
		surfaces = append(surfaces, s)
	}
	// Handlers that call each other (or themselves: a tail call loops)
	// hang the process: fail instead of waiting for the test timeout.
	watchdog := time.AfterFunc(2*time.Minute, func() {
		panic("TestErrorsStayOnTheirConnection hung: X error handlers calling each other in a loop?")
	})
	defer watchdog.Stop()
	const rounds = 150
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var wg sync.WaitGroup
	for i, s := range surfaces {
		for range 2 {
			wg.Go(func() {
				for range rounds {
					if err := s.Draw(fillPattern); err != nil {
						report(fmt.Errorf("surface %d: Draw: %w", i, err))
					}
				}
			})
		}
		wg.Go(func() {
			for n := range rounds {
				if err := s.provokeError(); err == nil || !strings.Contains(err.Error(), "BadWindow") {
					report(fmt.Errorf("surface %d: bad request %d: error %v, want BadWindow", i, n, err))
				}
			}
		})
	}
	wg.Go(func() {
		for range 2 * rounds {
			world.foreignError()
		}
	})
	stop := make(chan struct{})
	glfwDone := make(chan [2]int)
	go func() {
		runtime.LockOSThread() // GLFW's swaps happen on one thread
		defer runtime.UnlockOSThread()
		var n, missed int
		for {
			select {
			case <-stop:
				glfwDone <- [2]int{n, missed}
				return
			default:
			}
			if !world.glfwRound() {
				missed++
			}
			n++
		}
	}()
	wg.Wait()
	close(stop)
	glfw := <-glfwDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	foreign, leaked := world.counts()
	t.Logf("foreign errors %d, seen by the process-wide handlers %d; leaked %d; GLFW rounds %d (own errors missed %d)",
		world.foreignRequests, foreign, leaked, glfw[0], glfw[1])
	if foreign != world.foreignRequests {
		t.Errorf("%d of %d foreign errors reached the process-wide handlers", foreign, world.foreignRequests)
	}
	if leaked != 0 {
		t.Errorf("%d surface errors reached a process-wide handler", leaked)
	}
	if glfw[1] != 0 {
		t.Errorf("GLFW's handler missed %d of its own %d errors", glfw[1], glfw[0])
	}

	// A surface whose window someone else destroyed reports that on Draw.
	if err := destroyFromOutside(surfaces[0].childWindow()); err != nil {
		t.Fatal(err)
	}
	if err := surfaces[0].Draw(fillPattern); err == nil {
		t.Error("Draw into a destroyed window succeeded")
	}
	if _, leaked := world.counts(); leaked != 0 {
		t.Errorf("%d surface errors reached a process-wide handler", leaked)
	}
}

// TestErrorsWithXlibDefaultHandler: with Xlib's default error handler
// installed (it exits the process on any error; XSetErrorHandler(NULL)
// puts it back), surface errors still come back as Go errors.
func TestErrorsWithXlibDefaultHandler(t *testing.T) {
	needDisplay(t)
	world, err := newErrorWorld()
	if err != nil {
		t.Fatal(err)
	}
	defer world.close()
	parent := newParent(t, 300, 200)
	s := openSurface(t, parent)
	if err := s.SetGeometry(0, 0, 64, 48, true); err != nil {
		t.Fatal(err)
	}
	world.setDefaultHandler()
	for range 20 {
		if err := s.provokeError(); err == nil {
			t.Fatal("bad request on the surface reported no error")
		}
		if err := s.Draw(fillPattern); err != nil {
			t.Fatalf("Draw: %v", err)
		}
	}
	if err := destroyFromOutside(s.childWindow()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGeometry(5, 5, 64, 48, true); err == nil {
		t.Error("SetGeometry of a destroyed window succeeded")
	}
}
