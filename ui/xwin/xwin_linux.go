//go:build linux && cgo

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

static void xwin_destroy_image(XImage *img) { XDestroyImage(img); }

static XImage *xwin_create_image(Display *d, Visual *v, int depth, int w, int h) {
	XImage *img = XCreateImage(d, v, depth, ZPixmap, 0, NULL, w, h, 32, 0);
	if (!img) return NULL;
	if (img->bits_per_pixel != 32) { XDestroyImage(img); return NULL; }
	img->data = calloc((size_t)img->bytes_per_line, (size_t)h);
	if (!img->data) { XDestroyImage(img); return NULL; }
	return img;
}

// Creates a shm image with a fresh, attached (client side) segment; the
// caller does XShmAttach and IPC_RMID. XDestroyImage of a shm image frees
// only the XImage itself.
static XImage *xwin_create_shm_image(Display *d, Visual *v, int depth, int w, int h, XShmSegmentInfo *info) {
	XImage *img = XShmCreateImage(d, v, depth, ZPixmap, NULL, info, w, h);
	if (!img) return NULL;
	if (img->bits_per_pixel != 32) { XDestroyImage(img); return NULL; }
	info->shmid = shmget(IPC_PRIVATE, (size_t)img->bytes_per_line * h, IPC_CREAT | 0600);
	if (info->shmid < 0) { XDestroyImage(img); return NULL; }
	info->shmaddr = shmat(info->shmid, NULL, 0);
	if (info->shmaddr == (char *)-1) {
		shmctl(info->shmid, IPC_RMID, NULL);
		XDestroyImage(img);
		return NULL;
	}
	img->data = info->shmaddr;
	info->readOnly = False;
	return img;
}

static void xwin_shm_remove(XShmSegmentInfo *info) { shmctl(info->shmid, IPC_RMID, NULL); }
static void xwin_shm_detach(XShmSegmentInfo *info) { shmdt(info->shmaddr); }

// Sets the X byte of every pixel (alpha on a depth-32 visual) to opaque.
static void xwin_opaque(XImage *img) {
	for (int y = 0; y < img->height; y++) {
		unsigned char *p = (unsigned char *)img->data + (size_t)y * img->bytes_per_line + 3;
		for (int x = 0; x < img->width; x++, p += 4) *p = 0xff;
	}
}

// Reads all pending events; reports whether one of them was an Expose.
static int xwin_drain(Display *d) {
	int exposed = 0;
	XEvent ev;
	while (XPending(d) > 0) {
		XNextEvent(d, &ev);
		if (ev.type == Expose) exposed = 1;
	}
	return exposed;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

const maxSide = 16384

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

// SetGeometry places the child window at (x, y) in the parent's pixel
// coordinates with size w x h, and maps it (keeping its stacking) when visible and
// w, h > 0, or unmaps it otherwise. When the size changes the image buffer is
// reallocated. It sends no X requests when nothing changed.
func (s *Surface) SetGeometry(x, y, w, h int, visible bool) error {
	if w < 0 || h < 0 || w > maxSide || h > maxSide {
		return fmt.Errorf("xwin: set geometry: invalid size %dx%d (each side must be 0..%d)", w, h, maxSide)
	}
	if x < -32768 || x > 32767 || y < -32768 || y > 32767 {
		return fmt.Errorf("xwin: set geometry: position (%d, %d) out of range", x, y)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpy == nil {
		return fmt.Errorf("xwin: set geometry: %w", ErrClosed)
	}
	show := visible && w > 0 && h > 0
	resized := w != s.w || h != s.h
	moved := x != s.x || y != s.y
	if !resized && !moved && show == s.mapped {
		return nil
	}
	if resized {
		s.freeImage()
		s.w, s.h = 0, 0
		if w > 0 && h > 0 {
			if err := s.allocImage(w, h); err != nil {
				return fmt.Errorf("xwin: set geometry: %w", err)
			}
		}
		s.w, s.h = w, h
	}
	s.x, s.y = x, y
	err := s.trap(func() {
		if w > 0 && h > 0 && (resized || moved) {
			C.XMoveResizeWindow(s.dpy, s.win, C.int(x), C.int(y), C.uint(w), C.uint(h))
		}
		if show && !s.mapped {
			C.XMapWindow(s.dpy, s.win)
		} else if !show && s.mapped {
			C.XUnmapWindow(s.dpy, s.win)
		}
	})
	if err != nil {
		return fmt.Errorf("xwin: set geometry: %w", err)
	}
	s.mapped = show
	return nil
}

// allocImage creates the image buffer for w x h, preferring MIT-SHM. A
// failed shm attempt turns shm off for good and falls back to XPutImage.
func (s *Surface) allocImage(w, h int) error {
	if s.shm {
		if s.allocShm(w, h) == nil {
			return nil
		}
		s.shm = false
	}
	img := C.xwin_create_image(s.dpy, s.visual, s.depth, C.int(w), C.int(h))
	if img == nil {
		return fmt.Errorf("create %dx%d image failed", w, h)
	}
	s.img = img
	return nil
}

func (s *Surface) allocShm(w, h int) error {
	info := (*C.XShmSegmentInfo)(C.calloc(1, C.sizeof_XShmSegmentInfo))
	if info == nil {
		return errors.New("out of memory")
	}
	img := C.xwin_create_shm_image(s.dpy, s.visual, s.depth, C.int(w), C.int(h), info)
	if img == nil {
		C.free(unsafe.Pointer(info))
		return fmt.Errorf("create %dx%d shm image failed", w, h)
	}
	var st C.Bool
	err := s.trap(func() { st = C.XShmAttach(s.dpy, info) })
	// Mark the segment for removal now: it lives on only while attached, so
	// it never leaks, even if the process dies.
	C.xwin_shm_remove(info)
	if err == nil && st == 0 {
		err = errors.New("XShmAttach failed")
	}
	if err != nil {
		C.xwin_shm_detach(info)
		C.xwin_destroy_image(img)
		C.free(unsafe.Pointer(info))
		return fmt.Errorf("attach shm: %w", err)
	}
	s.img, s.shmInfo = img, info
	return nil
}

func (s *Surface) freeImage() {
	if s.img == nil {
		return
	}
	if s.shmInfo != nil {
		_ = s.trap(func() { C.XShmDetach(s.dpy, s.shmInfo) }) // nothing to do about an error
		C.xwin_destroy_image(s.img)
		C.xwin_shm_detach(s.shmInfo)
		C.free(unsafe.Pointer(s.shmInfo))
		s.shmInfo = nil
	} else {
		C.xwin_destroy_image(s.img)
	}
	s.img = nil
	s.drawn = false
}

// Draw lets fill write the next picture straight into the image buffer and
// then shows it. pix holds 4 bytes per pixel (B, G, R, X in memory order),
// stride bytes per row, and w x h is the current size; pix is valid only
// during the call. fill runs with the Surface locked and must not call its
// methods. If fill returns false nothing is shown (it should then leave pix
// untouched, since Redraw may show the buffer again). Draw does nothing and
// does not call fill while the surface is unmapped or has zero size. It
// returns only after the server has read the buffer, so the caller may
// immediately write the next picture.
func (s *Surface) Draw(fill func(pix []byte, stride, w, h int) bool) error {
	if fill == nil {
		return errors.New("xwin: draw: nil fill function")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpy == nil {
		return fmt.Errorf("xwin: draw: %w", ErrClosed)
	}
	s.pump()
	if !s.mapped || s.img == nil {
		return nil
	}
	stride := int(s.img.bytes_per_line)
	pix := unsafe.Slice((*byte)(unsafe.Pointer(s.img.data)), stride*s.h)
	if !fill(pix, stride, s.w, s.h) {
		return nil
	}
	if s.depth == 32 {
		C.xwin_opaque(s.img)
	}
	if err := s.put(); err != nil {
		return fmt.Errorf("xwin: draw: %w", err)
	}
	s.drawn = true
	return nil
}

// Redraw shows the last picture again if the window was exposed since it
// was last shown. It processes pending X events, so call it periodically
// (e.g. 10 times a second); Draw processes pending events too.
func (s *Surface) Redraw() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpy == nil {
		return fmt.Errorf("xwin: redraw: %w", ErrClosed)
	}
	s.pump()
	if !s.exposed || !s.mapped || !s.drawn || s.img == nil {
		return nil
	}
	if err := s.put(); err != nil {
		return fmt.Errorf("xwin: redraw: %w", err)
	}
	return nil
}

func (s *Surface) pump() {
	if C.xwin_drain(s.dpy) != 0 {
		s.exposed = true
	}
}

// put copies the whole image to the window and waits (XSync) until the
// server has done so.
func (s *Surface) put() error {
	w, h := C.uint(s.w), C.uint(s.h)
	err := s.trap(func() {
		if s.shmInfo != nil {
			C.XShmPutImage(s.dpy, C.Drawable(s.win), s.gc, s.img, 0, 0, 0, 0, w, h, C.False)
		} else {
			C.XPutImage(s.dpy, C.Drawable(s.win), s.gc, s.img, 0, 0, 0, 0, w, h)
		}
	})
	if err != nil {
		return fmt.Errorf("put image: %w", err)
	}
	s.exposed = false
	return nil
}

// UsesShm reports whether MIT-SHM is in use. Before the first SetGeometry
// with a non-zero size it reports whether the server offers MIT-SHM; it turns
// false if attaching a segment failed.
func (s *Surface) UsesShm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shm
}

// shmID returns the id of the current shm segment, or -1 (for tests).
func (s *Surface) shmID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shmInfo == nil {
		return -1
	}
	return int(s.shmInfo.shmid)
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
