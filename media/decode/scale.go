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
// stride bytes per row.
func (s *Scaler) ToBGRX(dst []byte, stride, w, h int, src image.Image) error {
	if w <= 0 || h <= 0 || stride < 4*w || len(dst) < stride*(h-1)+4*w {
		return fmt.Errorf("%w: target %dx%d (stride %d, %d bytes)", ErrScale, w, h, stride, len(dst))
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
	if dst == nil || dst.Rect.Dx() != b.Dx() || dst.Rect.Dy() != b.Dy() {
		dst = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	}
	return dst, s.scale(C.AV_PIX_FMT_RGBA, dst.Pix, dst.Stride, b.Dx(), b.Dy(), src)
}

func (s *Scaler) scale(df C.int, dst []byte, stride, w, h int, src image.Image) error {
	c := s.h.c
	if c == nil {
		return fmt.Errorf("%w: scaler closed or out of memory", ErrScale)
	}
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw <= 0 || sh <= 0 {
		return fmt.Errorf("%w: empty picture", ErrScale)
	}
	var rc C.int
	out := (*C.uint8_t)(unsafe.Pointer(&dst[0]))
	switch p := src.(type) {
	case *Picture:
		if p.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			return fmt.Errorf("%w: %v chroma (want 4:2:0)", ErrScale, p.SubsampleRatio)
		}
		co := p.COffset(b.Min.X, b.Min.Y)
		rc = C.kv_scale(c, C.AV_PIX_FMT_YUV420P, C.int(sw), C.int(sh),
			(*C.uint8_t)(unsafe.Pointer(&p.Y[p.YOffset(b.Min.X, b.Min.Y)])), C.int(p.YStride),
			(*C.uint8_t)(unsafe.Pointer(&p.Cb[co])), C.int(p.CStride),
			(*C.uint8_t)(unsafe.Pointer(&p.Cr[co])), C.int(p.CStride),
			cbool(p.BT709), cbool(p.FullRange), df, C.int(w), C.int(h), out, C.int(stride))
	case *image.RGBA:
		rc = C.kv_scale(c, C.AV_PIX_FMT_RGBA, C.int(sw), C.int(sh),
			(*C.uint8_t)(unsafe.Pointer(&p.Pix[p.PixOffset(b.Min.X, b.Min.Y)])), C.int(p.Stride),
			nil, 0, nil, 0, 0, 0, df, C.int(w), C.int(h), out, C.int(stride))
	default:
		return fmt.Errorf("%w: %T pictures", ErrScale, src)
	}
	if rc < 0 {
		return fmt.Errorf("%w: %dx%d to %dx%d failed", ErrScale, sw, sh, w, h)
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
