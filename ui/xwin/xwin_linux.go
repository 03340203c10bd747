//go:build linux && cgo

// The Surface and its lifecycle: Open (its own Display connection and the
// child window), Close, and trap, which reports the X errors of a batch of
// requests; the C part catches those errors per connection. Geometry, image
// buffers and drawing are in draw_linux.go.

package xwin

/*
#cgo pkg-config: x11 xext
#include <pthread.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <X11/Xlib.h>
#include <X11/Xlibint.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

// X errors of our own connections. Every Surface's Display gets, for each
// error code, a wire-to-error hook (XESetWireToError: Xlib's extension hook
// "to intercept an X error before it is otherwise examined", kept per
// connection in dpy->error_vec). _XError calls it before the process-wide
// handler; it records the first error code in the connection's slot and
// returns False, so the error never reaches XSetErrorHandler's handler,
// whichever is installed (GLFW's, the application's or Xlib's default one,
// which exits). Nothing process-wide is changed: errors of other connections
// go wherever they went before. The slots are guarded by xwin_err_mu (the
// hook runs on whatever thread reads the error); each slot is read and reset
// by its Surface, which uses its connection under its own mutex.
typedef struct xwin_errslot {
	Display *dpy;
	int code; // first error since the last xwin_errors_take, 0 for none
	struct xwin_errslot *next;
} xwin_errslot;

static pthread_mutex_t xwin_err_mu = PTHREAD_MUTEX_INITIALIZER;
static xwin_errslot *xwin_err_slots;

// Runs inside Xlib with the display locked: no Xlib calls here.
static Bool xwin_wire_error(Display *d, XErrorEvent *he, xError *we) {
	(void)we;
	pthread_mutex_lock(&xwin_err_mu);
	for (xwin_errslot *s = xwin_err_slots; s; s = s->next) {
		if (s->dpy == d) { // the newest slot of d (a closed display's address may be reused)
			if (s->code == 0) s->code = he->error_code ? he->error_code : 255;
			break;
		}
	}
	pthread_mutex_unlock(&xwin_err_mu);
	return False; // installed on our connections only: never pass them on
}

// Returns and clears the first error recorded since the last call.
static int xwin_errors_take(xwin_errslot *s) {
	pthread_mutex_lock(&xwin_err_mu);
	int code = s->code;
	s->code = 0;
	pthread_mutex_unlock(&xwin_err_mu);
	return code;
}

// Forgets s; call it after XCloseDisplay (whose errors s still catches).
static void xwin_errors_detach(xwin_errslot *s) {
	pthread_mutex_lock(&xwin_err_mu);
	for (xwin_errslot **p = &xwin_err_slots; *p; p = &(*p)->next) {
		if (*p == s) { *p = s->next; break; }
	}
	pthread_mutex_unlock(&xwin_err_mu);
	free(s);
}

// Starts capturing d's errors; NULL when out of memory.
static xwin_errslot *xwin_errors_attach(Display *d) {
	xwin_errslot *s = calloc(1, sizeof *s);
	if (!s) return NULL;
	s->dpy = d;
	pthread_mutex_lock(&xwin_err_mu);
	s->next = xwin_err_slots;
	xwin_err_slots = s;
	pthread_mutex_unlock(&xwin_err_mu);
	// The first call allocates d's error_vec and returns the previous hook
	// (Xlib's default); NULL means it could not allocate.
	if (!XESetWireToError(d, 1, xwin_wire_error)) {
		xwin_errors_detach(s);
		return NULL;
	}
	for (int i = 2; i < 256; i++) XESetWireToError(d, i, xwin_wire_error);
	return s;
}

static int xwin_visual_ok(Visual *v) {
	return v && v->class == TrueColor && v->red_mask == 0xff0000 &&
		v->green_mask == 0xff00 && v->blue_mask == 0xff;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Surface is a child window of an X11 window that shows BGRX pictures.
//
// It is safe for concurrent use: all Xlib calls are serialised by one mutex,
// and the Surface owns its own Display connection (never GLFW's). The child
// window selects only Expose events, so mouse and keyboard events propagate
// to the parent. Surfaces that are children of the same parent stack in the
// order they were opened: a later one lies above an earlier one, however
// they are mapped and unmapped (mapping does not raise).
type Surface struct {
	mu      sync.Mutex
	dpy     *C.Display      // nil once closed
	errs    *C.xwin_errslot // dpy's X errors (C memory; freed by Close)
	win     C.Window
	gc      C.GC
	visual  *C.Visual
	depth   C.int
	shm     bool               // MIT-SHM offered and not (yet) failed
	img     *C.XImage          // nil while the size is zero
	shmInfo *C.XShmSegmentInfo // C memory; non-nil while img is a shm image
	x, y    int                // current position
	w, h    int                // current size = image size
	mapped  bool               // window is mapped
	drawn   bool               // img holds a picture that was shown
	exposed bool               // an Expose arrived since the last put
}

// Open creates an unmapped child window of parent (an X11 window id) on
// $DISPLAY. It uses MIT-SHM when the server offers it and attaching a
// segment works (it does not on remote displays), otherwise plain XPutImage.
// The parent must have a 24 or 32-bit TrueColor visual with BGRX byte order,
// otherwise the error wraps ErrUnsupported.
func Open(parent uintptr) (*Surface, error) {
	if parent == 0 || parent > 0x1fffffff { // X resource ids have 29 bits
		return nil, fmt.Errorf("xwin: open: invalid parent window id %#x", parent)
	}
	dpy := C.XOpenDisplay(nil)
	if dpy == nil {
		return nil, fmt.Errorf("xwin: open display %q: %w", os.Getenv("DISPLAY"), ErrUnsupported)
	}
	errs := C.xwin_errors_attach(dpy)
	if errs == nil {
		C.XCloseDisplay(dpy)
		return nil, errors.New("xwin: open: out of memory")
	}
	s := &Surface{dpy: dpy, errs: errs}
	if err := s.create(C.Window(parent)); err != nil {
		C.XCloseDisplay(dpy) // frees any server resources created so far
		C.xwin_errors_detach(errs)
		return nil, fmt.Errorf("xwin: open (parent %#x): %w", parent, err)
	}
	return s, nil
}

func (s *Surface) create(parent C.Window) error {
	var attr C.XWindowAttributes
	var st C.Status
	if err := s.trap(func() { st = C.XGetWindowAttributes(s.dpy, parent, &attr) }); err != nil {
		return fmt.Errorf("get parent attributes: %w", err)
	}
	if st == 0 {
		return errors.New("get parent attributes: XGetWindowAttributes failed")
	}
	if (attr.depth != 24 && attr.depth != 32) || C.xwin_visual_ok(attr.visual) == 0 ||
		C.XImageByteOrder(s.dpy) != C.LSBFirst {
		return fmt.Errorf("parent visual (depth %d) is not BGRX TrueColor: %w", int(attr.depth), ErrUnsupported)
	}
	s.visual, s.depth = attr.visual, attr.depth
	var swa C.XSetWindowAttributes
	swa.background_pixmap = C.None // an expose keeps the old pixels: no flash
	swa.event_mask = C.ExposureMask
	err := s.trap(func() {
		s.win = C.XCreateWindow(s.dpy, parent, 0, 0, 1, 1, 0, attr.depth, C.InputOutput,
			attr.visual, C.CWBackPixmap|C.CWEventMask, &swa)
		s.gc = C.XCreateGC(s.dpy, C.Drawable(s.win), 0, nil)
	})
	if err != nil {
		return fmt.Errorf("create child window: %w", err)
	}
	s.shm = C.XShmQueryExtension(s.dpy) != 0
	return nil
}

// trap runs f (Xlib calls on s.dpy), XSyncs and reports the first X error
// caused by those calls. The errors are caught per connection (see
// xwin_wire_error): no process-wide error handler is touched.
func (s *Surface) trap(f func()) error {
	C.xwin_errors_take(s.errs) // an error of an earlier, untrapped request is stale
	f()
	C.XSync(s.dpy, C.False)
	code := C.xwin_errors_take(s.errs)
	if code == 0 {
		return nil
	}
	var buf [128]C.char
	C.XGetErrorText(s.dpy, code, &buf[0], C.int(len(buf)))
	return fmt.Errorf("X11 error %d (%s)", int(code), C.GoString(&buf[0]))
}

// Close destroys the child window, frees the image and shm segment and
// closes the display connection. It is idempotent; other methods return
// ErrClosed afterwards. X errors during teardown (e.g. the parent, and with
// it the child, is already gone) are ignored: closing the connection frees
// all of its server resources anyway.
func (s *Surface) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpy == nil {
		return nil
	}
	s.freeImage()
	_ = s.trap(func() {
		C.XFreeGC(s.dpy, s.gc)
		C.XDestroyWindow(s.dpy, s.win)
	})
	C.XCloseDisplay(s.dpy)
	C.xwin_errors_detach(s.errs)
	s.dpy, s.errs, s.mapped, s.shm = nil, nil, false, false
	return nil
}
