//go:build linux && cgo

package xwin

/*
#cgo pkg-config: x11 xext
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

// Error trap. Serialised by trapMu on the Go side.
static Display *xwin_trap_dpy;
static int xwin_trap_code;
static XErrorHandler xwin_trap_prev;

static int xwin_trap_handler(Display *d, XErrorEvent *e) {
	if (d != xwin_trap_dpy) {
		return xwin_trap_prev ? xwin_trap_prev(d, e) : 0;
	}
	if (xwin_trap_code == 0) {
		xwin_trap_code = e->error_code ? e->error_code : 255;
	}
	return 0;
}

static void xwin_trap_begin(Display *d) {
	xwin_trap_dpy = d;
	xwin_trap_code = 0;
	xwin_trap_prev = XSetErrorHandler(xwin_trap_handler);
}

static int xwin_trap_end(Display *d) {
	XSync(d, False);
	XSetErrorHandler(xwin_trap_prev);
	xwin_trap_dpy = NULL;
	return xwin_trap_code;
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

// trapMu serialises the process-global Xlib error handler swaps.
var trapMu sync.Mutex

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
	dpy     *C.Display // nil once closed
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
	s := &Surface{dpy: dpy}
	if err := s.create(C.Window(parent)); err != nil {
		C.XCloseDisplay(dpy) // frees any server resources created so far
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

// trap runs f (Xlib calls on s.dpy) with a temporary error handler, then
// XSyncs and reports the first X error caused by those calls.
func (s *Surface) trap(f func()) error {
	trapMu.Lock()
	C.xwin_trap_begin(s.dpy)
	f()
	code := C.xwin_trap_end(s.dpy)
	trapMu.Unlock()
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
	s.dpy, s.mapped, s.shm = nil, false, false
	return nil
}
