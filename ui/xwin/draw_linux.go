//go:build linux && cgo

// Geometry, image buffers and drawing of a Surface: SetGeometry, the
// MIT-SHM or plain XImage buffer (allocImage, freeImage), Draw and Redraw,
// and the C helpers they call. The #cgo flags are in xwin_linux.go.

package xwin

/*
// The headers of xwin_linux.go's preamble, so that both files see the same C types.
#include <pthread.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <X11/Xlib.h>
#include <X11/Xlibint.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

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
	"unsafe"
)

const maxSide = 16384

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
