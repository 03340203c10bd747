// Package e2e runs the real viewer window (Fyne's GL driver) in Demo mode
// under an X server: `xvfb-run -a -s "-screen 0 1280x800x24" go test ./ui/e2e`.
// Without DISPLAY the tests skip.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/test"

	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/ui"
)

var theApp fyne.App

// TestMain runs the Fyne app on the main goroutine (GLFW needs the main
// thread) and the tests beside it.
func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") == "" {
		os.Exit(m.Run())
	}
	// Preferences in a scratch directory: the test always starts from the first-run settings.
	dir, err := os.MkdirTemp("", "kvsviewer-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Setenv("XDG_CONFIG_HOME", dir); err != nil {
		panic(err)
	}
	if err := os.MkdirAll(dir+"/fyne", 0o700); err != nil {
		panic(err)
	}
	theApp = fyneapp.NewWithID(ui.AppID + ".e2e")
	done := make(chan int, 1)
	// The tests start once the app runs, so that the app's own goroutines
	// exist before a test takes its goroutine baseline.
	theApp.Lifecycle().SetOnStarted(func() {
		go func() {
			done <- m.Run()
			fyne.Do(theApp.Quit)
		}()
	})
	theApp.Run()
	_ = os.RemoveAll(dir)
	select {
	case code := <-done:
		os.Exit(code)
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, "the app quit before the tests ended")
		os.Exit(1)
	}
}

// rect is a part of the window in captured pixels.
func rect(c fyne.Canvas, img image.Image, o fyne.CanvasObject) image.Rectangle {
	scale := float32(img.Bounds().Dx()) / c.Size().Width
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	size := o.Size()
	return image.Rect(int(pos.X*scale), int(pos.Y*scale), int((pos.X+size.Width)*scale), int((pos.Y+size.Height)*scale)).Intersect(img.Bounds())
}

// changed counts the pixels of r that differ clearly between a and b,
// skipping the pixels inside skip.
func changed(a, b image.Image, r, skip image.Rectangle) (n, total int) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if image.Pt(x, y).In(skip) {
				continue
			}
			total++
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if diff(r1, r2) > 0x2000 || diff(g1, g2) > 0x2000 || diff(b1, b2) > 0x2000 {
				n++
			}
		}
	}
	return n, total
}

func diff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// lit counts the pixels of r that are not (nearly) black.
func lit(img image.Image, r image.Rectangle) (n, total int) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			total++
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr > 0x3000 || cg > 0x3000 || cb > 0x3000 {
				n++
			}
		}
	}
	return n, total
}

// capture takes a screenshot of the window from the X server with
// ImageMagick's import, as scripts/screenshots.sh does.
func capture(t *testing.T, title string) image.Image {
	t.Helper()
	out, err := exec.Command("import", "-window", title, "png:-").Output()
	if err != nil {
		t.Fatalf("import -window %q: %v", title, err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	return img
}

// checkVideo takes two shots of the window and checks that the remote
// video moves and the local preview shows a picture.
func checkVideo(t *testing.T, w *ui.Window, when string) {
	t.Helper()
	// Wait until both views have shown a frame of this session.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var remote, local bool
		fyne.DoAndWait(func() { remote, local = w.View.Remote.HasPicture(), w.View.Local.HasPicture() })
		if remote && local {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no picture (remote %v, local %v)", when, remote, local)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The picture may reach the screen a moment after the view says it
	// shows it (a loaded machine): a few tries tell late from never.
	var problems []string
	for try := 0; try < 3; try++ {
		if problems = videoProblems(t, w, when); len(problems) == 0 {
			break
		}
		t.Logf("%s, try %d: %s", when, try+1, strings.Join(problems, "; "))
	}
	for _, p := range problems {
		t.Errorf("%s: %s", when, p)
	}
	shown, coalesced := w.View.Remote.Counts()
	t.Logf("%s: %d remote frames shown, %d coalesced", when, shown, coalesced)
}

// videoProblems takes two shots 700 ms apart and says what is wrong with
// the remote video and the preview in them (nothing: nil).
func videoProblems(t *testing.T, w *ui.Window, when string) []string {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	a := capture(t, w.Window.Title())
	time.Sleep(700 * time.Millisecond)
	b := capture(t, w.Window.Title())
	if dir := os.Getenv("E2E_SHOTS"); dir != "" {
		for i, img := range []image.Image{a, b} {
			f, err := os.Create(fmt.Sprintf("%s/%s-%d.png", dir, strings.ReplaceAll(when, " ", "-"), i))
			if err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(png.Encode(f, img), f.Close()); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := w.Window.Canvas()
	var remoteR, localR image.Rectangle
	fyne.DoAndWait(func() { remoteR, localR = rect(c, a, w.View.Remote), rect(c, a, w.View.Local) })
	if remoteR.Dx() < 320 || remoteR.Dy() < 180 {
		t.Fatalf("%s: video area only %v", when, remoteR)
	}
	var problems []string
	n, total := changed(a, b, remoteR, localR)
	t.Logf("%s: %d of %d remote video pixels changed in 700 ms", when, n, total)
	if n*1000 < total*2 { // at least 0.2%: the moving box, counter and clock
		problems = append(problems, fmt.Sprintf("the remote video is not moving: %d of %d pixels changed", n, total))
	}
	if pic, _ := lit(b, remoteR); pic*10 < total { // the pattern fills most of the letterboxed area
		problems = append(problems, fmt.Sprintf("the remote video is black: %d of %d pixels lit", pic, total))
	}
	ln, ltotal := lit(b, localR)
	t.Logf("%s: %d of %d local preview pixels lit", when, ln, ltotal)
	if ln*5 < ltotal {
		problems = append(problems, fmt.Sprintf("the local preview is black: %d of %d pixels lit", ln, ltotal))
	}
	return problems
}

// checkHiddenInOtherTab shows the Settings tab during the call and checks
// that no video shows through it (a native surface must hide with its tab),
// then goes back to the call and checks the video again.
func checkHiddenInOtherTab(t *testing.T, w *ui.Window) {
	t.Helper()
	var videoR image.Rectangle
	shot := capture(t, w.Window.Title())
	fyne.DoAndWait(func() {
		videoR = rect(w.Window.Canvas(), shot, w.View.Remote)
		w.View.SelectTab(ui.TabSettings)
	})
	// The window repaints the new tab when it gets to it (late on a loaded
	// machine): video that shows through changes between any two shots;
	// a repainted tab stops changing.
	var n, total int
	for try := 0; try < 6; try++ {
		time.Sleep(300 * time.Millisecond)
		a := capture(t, w.Window.Title())
		time.Sleep(700 * time.Millisecond)
		b := capture(t, w.Window.Title())
		if n, total = changed(a, b, videoR, image.Rectangle{}); n*1000 <= total {
			break
		}
	}
	if n*1000 > total {
		t.Errorf("Settings tab: %d of %d pixels where the video was still change: the video shows through", n, total)
	}
	var shows bool
	fyne.DoAndWait(func() { shows = w.View.Remote.Native() && w.View.Remote.HasPicture() })
	if shows {
		t.Error("Settings tab: the remote video surface is still shown")
	}
	fyne.DoAndWait(func() { w.View.SelectTab(ui.TabCall) })
	checkVideo(t, w, "back on the Call tab")
}

// openDemoWindow opens and shows a window in Demo mode on the test app,
// drawing the video into X11 child windows or, with glVideo, through Fyne.
func openDemoWindow(t *testing.T, glVideo bool) *ui.Window {
	t.Helper()
	var w *ui.Window
	var err error
	fyne.DoAndWait(func() {
		demoMode := func(s *call.Settings) { s.Mode = call.ModeDemo }
		w, err = ui.NewWindow(theApp, ui.Options{Overrides: demoMode, GLVideo: glVideo})
		if err == nil {
			// A title of its own: import finds the window by it.
			w.Window.SetTitle(fmt.Sprintf("KVS Viewer e2e %s %d", t.Name(), time.Now().UnixNano()))
			w.Show()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var native bool
	fyne.DoAndWait(func() { native = w.View.Remote.Native() && w.View.Local.Native() })
	if native == glVideo {
		t.Fatalf("video drawn natively: %v, want %v", native, !glVideo)
	}
	return w
}

func TestDemoCallConnectAndReconnect(t *testing.T) {
	if theApp == nil {
		t.Skip("needs an X display: run under xvfb-run")
	}
	if _, err := exec.LookPath("import"); err != nil {
		t.Skip("needs ImageMagick's import for screenshots")
	}
	t.Run("x11-surfaces", func(t *testing.T) { demoCallConnectAndReconnect(t, false) })
	t.Run("gl-video", func(t *testing.T) { demoCallConnectAndReconnect(t, true) })
}

func demoCallConnectAndReconnect(t *testing.T, glVideo bool) {
	// Everything the window starts (demo, controller, sessions) must end with it.
	before := goleak.IgnoreCurrent()
	w := openDemoWindow(t, glVideo)
	defer func() {
		fyne.DoAndWait(w.Window.Hide) // closing the first window would quit the app
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left after the window closed: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := w.AwaitState(ctx, call.StateLive, func() { fyne.DoAndWait(func() { test.Tap(w.View.Connect) }) }); err != nil {
		t.Fatalf("connect: %v", err)
	}
	var badge string
	fyne.DoAndWait(func() { badge = w.View.Badge.Text() })
	if badge != "Live" {
		t.Errorf("badge %q after Live", badge)
	}
	checkVideo(t, w, "after Connect")
	checkHiddenInOtherTab(t, w)

	if err := w.AwaitState(ctx, call.StateLive, func() { fyne.DoAndWait(func() { test.Tap(w.View.Reconnect) }) }); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	checkVideo(t, w, "after Reconnect")

	var sessions []ui.SessionTiming
	fyne.DoAndWait(func() { sessions = w.View.Timeline.Sessions() })
	if len(sessions) < 2 {
		t.Fatalf("timeline has %d sessions after a reconnect", len(sessions))
	}
	for _, s := range sessions[len(sessions)-2:] {
		if !s.Live {
			t.Errorf("session %d not live in the timeline: %+v", s.ID, s)
		}
	}
	if !sessions[len(sessions)-2].TornDown {
		t.Errorf("the first session's teardown is not in the timeline: %+v", sessions[len(sessions)-2])
	}

	if err := w.AwaitState(ctx, call.StateIdle, func() { fyne.DoAndWait(func() { test.Tap(w.View.Disconnect) }) }); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}
