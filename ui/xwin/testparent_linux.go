//go:build linux && cgo

package xwin

// Helpers for the tests (cgo is not allowed in _test.go files).

/*
#cgo pkg-config: x11
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

static Window xwin_test_window(Display *d, int w, int h, unsigned long bg) {
	Window win = XCreateSimpleWindow(d, DefaultRootWindow(d), 0, 0, w, h, 0, 0, bg);
	XMapWindow(d, win);
	XSync(d, False);
	return win;
}

static XImage *xwin_test_grab(Display *d, Window win, int w, int h) {
	return XGetImage(d, win, 0, 0, w, h, AllPlanes, ZPixmap);
}

static void xwin_test_free(XImage *img) { XDestroyImage(img); }

// Stand-ins for the process-wide error handlers of an application and of
// GLFW. Both count the errors of the "foreign" connection (one that is not
// a Surface's) and any other error they see ("leaked": a Surface's error
// that escaped its connection).
static Display *xwin_test_foreign;
static int xwin_test_foreign_seen, xwin_test_leaked;
static Display *xwin_test_glfw_dpy; // GLFW's own connection
static int xwin_test_glfw_code;

static void xwin_test_tally(Display *d) {
	__atomic_add_fetch(d == xwin_test_foreign ? &xwin_test_foreign_seen : &xwin_test_leaked, 1, __ATOMIC_SEQ_CST);
}

static int xwin_test_app_handler(Display *d, XErrorEvent *e) {
	(void)e;
	xwin_test_tally(d);
	return 0;
}

// Like GLFW's x11_init.c errorHandler, but counting foreign errors (GLFW
// drops them).
static int xwin_test_glfw_handler(Display *d, XErrorEvent *e) {
	if (d == xwin_test_glfw_dpy) {
		xwin_test_glfw_code = e->error_code;
		return 0;
	}
	xwin_test_tally(d);
	return 0;
}

static void xwin_test_displays(Display *foreign, Display *glfw) {
	xwin_test_foreign = foreign;
	xwin_test_glfw_dpy = glfw;
	__atomic_store_n(&xwin_test_foreign_seen, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&xwin_test_leaked, 0, __ATOMIC_SEQ_CST);
}

static XErrorHandler xwin_test_set_handler(XErrorHandler h) { return XSetErrorHandler(h); }
static XErrorHandler xwin_test_app(void) { return xwin_test_app_handler; }

static void xwin_test_counts(int *foreign, int *leaked) {
	*foreign = __atomic_load_n(&xwin_test_foreign_seen, __ATOMIC_SEQ_CST);
	*leaked = __atomic_load_n(&xwin_test_leaked, __ATOMIC_SEQ_CST);
}

// A request on d that fails with BadWindow (window 0 never exists).
static void xwin_test_bad_request(Display *d) {
	XWindowAttributes attr;
	XGetWindowAttributes(d, 0, &attr);
	XSync(d, False);
}

// One round of what GLFW does around its requests (_glfwGrabErrorHandlerX11,
// a failing request, _glfwReleaseErrorHandlerX11); reports whether GLFW's
// handler saw its own error.
static int xwin_test_glfw_round(void) {
	xwin_test_glfw_code = 0;
	XErrorHandler saved = XSetErrorHandler(xwin_test_glfw_handler);
	xwin_test_bad_request(xwin_test_glfw_dpy);
	XSync(xwin_test_glfw_dpy, False);
	XSetErrorHandler(saved);
	return xwin_test_glfw_code == BadWindow;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"unsafe"
)

// createTestWindow opens its own display connection and creates and maps a
// top-level w x h window at (0, 0) with background pixel bg (0xRRGGBB).
func createTestWindow(w, h int, bg uint32) (uintptr, func(), error) {
	d := C.XOpenDisplay(nil)
	if d == nil {
		return 0, nil, fmt.Errorf("test window: %w", ErrUnsupported)
	}
	win := C.xwin_test_window(d, C.int(w), C.int(h), C.ulong(bg))
	cleanup := func() {
		C.XDestroyWindow(d, win)
		C.XSync(d, C.False)
		C.XCloseDisplay(d)
	}
	return uintptr(win), cleanup, nil
}

// createTestParent creates a mapped green (0x00ff00) top-level window.
func createTestParent(w, h int) (uintptr, func(), error) {
	return createTestWindow(w, h, 0x00ff00)
}

// grabTestWindow reads the contents of a viewable window (including its
// children) back from the server.
func grabTestWindow(win uintptr) (*image.RGBA, error) {
	d := C.XOpenDisplay(nil)
	if d == nil {
		return nil, fmt.Errorf("grab: %w", ErrUnsupported)
	}
	defer C.XCloseDisplay(d)
	var attr C.XWindowAttributes
	if C.XGetWindowAttributes(d, C.Window(win), &attr) == 0 || attr.map_state != C.IsViewable {
		return nil, errors.New("grab: window not viewable")
	}
	w, h := int(attr.width), int(attr.height)
	xi := C.xwin_test_grab(d, C.Window(win), C.int(w), C.int(h))
	if xi == nil {
		return nil, errors.New("grab: XGetImage failed")
	}
	defer C.xwin_test_free(xi)
	if xi.bits_per_pixel != 32 || xi.byte_order != C.LSBFirst {
		return nil, fmt.Errorf("grab: unexpected image format (%d bpp)", int(xi.bits_per_pixel))
	}
	stride := int(xi.bytes_per_line)
	pix := unsafe.Slice((*byte)(unsafe.Pointer(xi.data)), stride*h)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := pix[y*stride+4*x:]
			img.SetRGBA(x, y, color.RGBA{R: p[2], G: p[1], B: p[0], A: 255})
		}
	}
	return img, nil
}

// testEventMasks reports the union of all clients' event masks and the
// do-not-propagate mask of window win.
func testEventMasks(win uintptr) (all, noPropagate int64, err error) {
	d := C.XOpenDisplay(nil)
	if d == nil {
		return 0, 0, fmt.Errorf("event masks: %w", ErrUnsupported)
	}
	defer C.XCloseDisplay(d)
	var attr C.XWindowAttributes
	if C.XGetWindowAttributes(d, C.Window(win), &attr) == 0 {
		return 0, 0, errors.New("event masks: XGetWindowAttributes failed")
	}
	return int64(attr.all_event_masks), int64(attr.do_not_propagate_mask), nil
}

// childWindow returns the X id of the surface's window (for tests).
func (s *Surface) childWindow() uintptr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uintptr(s.win)
}

// openKeepAlive opens a display connection that the tests hold open for
// their whole run: an X server resets when its last client disconnects
// (Xvfb without -noreset) and drops connections made during the reset.
func openKeepAlive() (func(), error) {
	d := C.XOpenDisplay(nil)
	if d == nil {
		return nil, fmt.Errorf("keep-alive connection: %w", ErrUnsupported)
	}
	return func() { C.XCloseDisplay(d) }, nil
}

// errorWorld stands for the rest of the process in the error tests: the
// application's process-wide error handler, a foreign connection that makes
// errors, and GLFW's connection with its handler swaps.
type errorWorld struct {
	prev            C.XErrorHandler
	foreign, glfw   *C.Display
	foreignRequests int
}

// newErrorWorld installs the application's counting handler (the one
// before it is restored by close) and opens the two connections.
func newErrorWorld() (*errorWorld, error) {
	foreign, glfw := C.XOpenDisplay(nil), C.XOpenDisplay(nil)
	if foreign == nil || glfw == nil {
		return nil, fmt.Errorf("error world: %w", ErrUnsupported)
	}
	C.xwin_test_displays(foreign, glfw)
	return &errorWorld{prev: C.xwin_test_set_handler(C.xwin_test_app()), foreign: foreign, glfw: glfw}, nil
}

// foreignError makes one error on the foreign connection. Not concurrent.
func (w *errorWorld) foreignError() {
	C.xwin_test_bad_request(w.foreign)
	w.foreignRequests++
}

// glfwRound swaps the handler as GLFW does around a failing request of its
// own; it reports whether GLFW's handler saw that error.
func (w *errorWorld) glfwRound() bool { return C.xwin_test_glfw_round() != 0 }

// counts reports how many errors of the foreign connection reached the
// process-wide handlers, and how many other errors did.
func (w *errorWorld) counts() (foreign, leaked int) {
	var f, l C.int
	C.xwin_test_counts(&f, &l)
	return int(f), int(l)
}

// setDefaultHandler installs Xlib's default handler, which exits the
// process on any error (as after XSetErrorHandler(NULL)).
func (w *errorWorld) setDefaultHandler() { C.xwin_test_set_handler(nil) }

func (w *errorWorld) close() {
	C.xwin_test_set_handler(w.prev)
	C.XCloseDisplay(w.foreign)
	C.XCloseDisplay(w.glfw)
	C.xwin_test_displays(nil, nil)
}

// provokeError makes a request that fails (BadWindow) on the surface's
// connection, the way its own calls do, and returns trap's error.
func (s *Surface) provokeError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpy == nil {
		return ErrClosed
	}
	return s.trap(func() { C.XMapWindow(s.dpy, 0) })
}

// destroyFromOutside destroys window win through a connection of its own.
func destroyFromOutside(win uintptr) error {
	d := C.XOpenDisplay(nil)
	if d == nil {
		return fmt.Errorf("destroy: %w", ErrUnsupported)
	}
	C.XDestroyWindow(d, C.Window(win))
	C.XSync(d, C.False)
	C.XCloseDisplay(d)
	return nil
}
