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
