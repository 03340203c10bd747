package decode

// #include "bridge.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"unsafe"
)

// Picture is a decoded picture in 4:2:0 planes together with how its values
// map to colours. It is an image.Image (through the embedded YCbCr).
type Picture struct {
	image.YCbCr
	// BT709 is true when the stream signals the BT.709 matrix; otherwise
	// BT.601 applies (what encoders assume when they signal nothing).
	BT709 bool
	// FullRange is true for full-range (0-255) values, false for the usual
	// limited (16-235) range.
	FullRange bool
}

// YCbCrImage returns the picture's planes as an image.YCbCr (for readers
// that type-switch on it).
func (p *Picture) YCbCrImage() *image.YCbCr { return &p.YCbCr }

// CopyPicture copies src into dst, which is reallocated when nil or of
// another size, and returns it.
func CopyPicture(dst, src *Picture) *Picture {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h || dst.SubsampleRatio != src.SubsampleRatio {
		dst = &Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, w, h), src.SubsampleRatio)}
	}
	copyPlane(dst.Y, dst.YStride, src.Y[src.YOffset(src.Rect.Min.X, src.Rect.Min.Y):], src.YStride, w, h)
	cw, ch := chromaSize(src)
	co := src.COffset(src.Rect.Min.X, src.Rect.Min.Y)
	copyPlane(dst.Cb, dst.CStride, src.Cb[co:], src.CStride, cw, ch)
	copyPlane(dst.Cr, dst.CStride, src.Cr[co:], src.CStride, cw, ch)
	dst.BT709, dst.FullRange = src.BT709, src.FullRange
	return dst
}

func copyPlane(dst []byte, ds int, src []byte, ss, w, h int) {
	if ds == w && ss == w {
		copy(dst[:w*h], src[:w*h])
		return
	}
	for y := range h {
		copy(dst[y*ds:y*ds+w], src[y*ss:y*ss+w])
	}
}

// chromaSize is the size of p's Cb and Cr planes.
func chromaSize(p *Picture) (w, h int) {
	w, h = p.Rect.Dx(), p.Rect.Dy()
	switch p.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	}
	return w, h
}

// ErrScale is returned for pictures or targets a Scaler cannot handle.
var ErrScale = errors.New("decode: cannot scale")

// Scaler converts pictures (*Picture in 4:2:0, or *image.RGBA) to RGBA or
// BGRX at any size with libswscale (bilinear when the size changes). It keeps
// its swscale set-up between calls, so converting a stream of same-sized
// pictures costs only the pixel work. Not safe for concurrent use.
type Scaler struct {
	h *scalerMem
}

// scalerMem holds the C side; Close or the Scaler's cleanup frees it once.
type scalerMem struct{ c *C.kv_scaler }

func (m *scalerMem) free() {
	if m.c != nil {
		C.kv_scaler_free(m.c)
		m.c = nil
	}
}

// NewScaler returns a Scaler. Its C memory is freed by Close, or when the
// Scaler is garbage collected.
func NewScaler() *Scaler {
	s := &Scaler{h: &scalerMem{c: C.kv_scaler_new()}}
	runtime.AddCleanup(s, (*scalerMem).free, s.h)
	return s
}

// ToBGRX converts src and scales it to w x h pixels into dst, 4 bytes per
// pixel in the order blue, green, red, unused (X11's 24-bit TrueColor), with
// stride bytes per row. dst must hold stride*h bytes.
func (s *Scaler) ToBGRX(dst []byte, stride, w, h int, src image.Image) error {
	if err := checkTarget(len(dst), stride, w, h); err != nil {
		return err
	}
	return s.scale(C.AV_PIX_FMT_BGR0, dst, stride, w, h, src)
}

// ToRGBA converts src to RGBA at its own size into dst (reallocated when nil
// or of another size) and returns it.
func (s *Scaler) ToRGBA(dst *image.RGBA, src image.Image) (*image.RGBA, error) {
	b := src.Bounds()
	if b.Empty() {
		return dst, fmt.Errorf("%w: empty picture", ErrScale)
	}
	if b.Dx() > maxSide || b.Dy() > maxSide {
		return dst, fmt.Errorf("%w: %dx%d picture (each side at most %d)", ErrScale, b.Dx(), b.Dy(), maxSide)
	}
	if dst == nil || dst.Rect.Dx() != b.Dx() || dst.Rect.Dy() != b.Dy() {
		dst = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	}
	// dst may be a caller's sub-image: its pixels start at Rect.Min.
	pix := dst.Pix[min(dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y), len(dst.Pix)):]
	if err := checkTarget(len(pix), dst.Stride, b.Dx(), b.Dy()); err != nil {
		return dst, err
	}
	return dst, s.scale(C.AV_PIX_FMT_RGBA, pix, dst.Stride, b.Dx(), b.Dy(), src)
}

// maxSide is the largest picture side a Scaler handles (as FFmpeg's
// checks), maxStride the largest row stride in bytes (so that strides and
// plane sizes fit C's int and never overflow).
const (
	maxSide   = 16384
	maxStride = 1 << 20
)

// checkTarget checks that a destination of n bytes holds h rows of w
// 4-byte pixels, stride bytes apart: stride*h bytes in all.
func checkTarget(n, stride, w, h int) error {
	if w <= 0 || h <= 0 || w > maxSide || h > maxSide || stride < 4*w || stride > maxStride || n < stride*h {
		return fmt.Errorf("%w: target %dx%d (stride %d, %d bytes; need stride >= %d and stride*height bytes)",
			ErrScale, w, h, stride, n, 4*w)
	}
	return nil
}

// plane is one source plane for kv_scale: the bytes from the picture's
// first pixel on.
type plane struct {
	b      []byte
	stride int
}

// ptr is the plane's first byte for C, or nil for an absent plane.
func (p plane) ptr() *C.uint8_t {
	if len(p.b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&p.b[0]))
}

// fits reports whether the plane holds rows rows of rowBytes bytes.
func (p plane) fits(rowBytes, rows int) bool {
	return p.stride >= rowBytes && p.stride <= maxStride && len(p.b) >= p.stride*(rows-1)+rowBytes
}

// sourcePlanes returns src's planes and pixel format for kv_scale, checked
// to hold a picture of its bounds' size.
func sourcePlanes(src image.Image) (C.int, [3]plane, error) {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw <= 0 || sh <= 0 {
		return 0, [3]plane{}, fmt.Errorf("%w: empty picture", ErrScale)
	}
	if sw > maxSide || sh > maxSide {
		return 0, [3]plane{}, fmt.Errorf("%w: %dx%d picture (each side at most %d)", ErrScale, sw, sh, maxSide)
	}
	switch p := src.(type) {
	case *Picture:
		if p.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			return 0, [3]plane{}, fmt.Errorf("%w: %v chroma (want 4:2:0)", ErrScale, p.SubsampleRatio)
		}
		yo, co := p.YOffset(b.Min.X, b.Min.Y), p.COffset(b.Min.X, b.Min.Y)
		if yo < 0 || co < 0 || yo >= len(p.Y) || co >= len(p.Cb) || co >= len(p.Cr) {
			return 0, [3]plane{}, fmt.Errorf("%w: picture planes do not hold its bounds %v", ErrScale, b)
		}
		pl := [3]plane{{p.Y[yo:], p.YStride}, {p.Cb[co:], p.CStride}, {p.Cr[co:], p.CStride}}
		cw, ch := (sw+1)/2, (sh+1)/2
		if !pl[0].fits(sw, sh) || !pl[1].fits(cw, ch) || !pl[2].fits(cw, ch) {
			return 0, [3]plane{}, fmt.Errorf("%w: picture planes do not hold its bounds %v", ErrScale, b)
		}
		return C.AV_PIX_FMT_YUV420P, pl, nil
	case *image.RGBA:
		o := p.PixOffset(b.Min.X, b.Min.Y)
		if o < 0 || o >= len(p.Pix) {
			return 0, [3]plane{}, fmt.Errorf("%w: RGBA pixels do not hold its bounds %v", ErrScale, b)
		}
		pl := [3]plane{{p.Pix[o:], p.Stride}}
		if !pl[0].fits(4*sw, sh) {
			return 0, [3]plane{}, fmt.Errorf("%w: RGBA pixels do not hold its bounds %v", ErrScale, b)
		}
		return C.AV_PIX_FMT_RGBA, pl, nil
	}
	return 0, [3]plane{}, fmt.Errorf("%w: %T pictures", ErrScale, src)
}

// scale runs kv_scale; dst was checked by checkTarget.
func (s *Scaler) scale(df C.int, dst []byte, stride, w, h int, src image.Image) error {
	sf, pl, err := sourcePlanes(src)
	if err != nil {
		return err
	}
	c := s.h.c
	if c == nil {
		return fmt.Errorf("%w: scaler closed or out of memory", ErrScale)
	}
	var bt709, full bool
	if p, ok := src.(*Picture); ok {
		bt709, full = p.BT709, p.FullRange
	}
	b := src.Bounds()
	rc := C.kv_scale(c, sf, C.int(b.Dx()), C.int(b.Dy()),
		pl[0].ptr(), C.int(pl[0].stride), C.size_t(len(pl[0].b)),
		pl[1].ptr(), C.int(pl[1].stride), C.size_t(len(pl[1].b)),
		pl[2].ptr(), C.int(pl[2].stride), C.size_t(len(pl[2].b)),
		cbool(bt709), cbool(full), df, C.int(w), C.int(h),
		(*C.uint8_t)(unsafe.Pointer(&dst[0])), C.int(stride), C.size_t(len(dst)))
	// The C scaler is freed by s's cleanup once s is unreachable: s must
	// stay reachable until kv_scale has returned. (cgo keeps the Go buffers
	// passed as arguments alive during the call; these say so explicitly.)
	runtime.KeepAlive(s)
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
	if rc < 0 {
		return fmt.Errorf("%w: %dx%d to %dx%d failed", ErrScale, b.Dx(), b.Dy(), w, h)
	}
	return nil
}

// Close frees the Scaler's C memory; later calls return ErrScale. Idempotent.
func (s *Scaler) Close() { s.h.free() }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
