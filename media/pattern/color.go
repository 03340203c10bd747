package pattern

import (
	"image"
	"image/color"
)

// The pattern is drawn in limited ("studio") range BT.601 YCbCr, which is what H.264 and VP8
// decoders (FFmpeg's sws_scale, browsers) assume for a stream that does not say otherwise.
// Go's image.YCbCr.At assumes full range JFIF instead, so use ToRGBA to see the colours a
// decoder will show.

// rgbToYCbCr601 converts an sRGB colour to limited range BT.601 YCbCr.
func rgbToYCbCr601(c color.RGBA) (y, cb, cr uint8) {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	fy := 16 + 0.256788*r + 0.504129*g + 0.097906*b
	fcb := 128 - 0.148223*r - 0.290993*g + 0.439216*b
	fcr := 128 + 0.439216*r - 0.367788*g - 0.071427*b
	return clamp8(fy), clamp8(fcb), clamp8(fcr)
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	default:
		return uint8(v + 0.5)
	}
}

// Fixed point (16.16) coefficients of the limited range BT.601 YCbCr to RGB conversion.
const (
	kY  = 76309  // 1.164383 * 65536
	kRV = 104597 // 1.596027 * 65536
	kGU = 25675  // 0.391762 * 65536
	kGV = 53279  // 0.812968 * 65536
	kBU = 132201 // 2.017232 * 65536
)

func clampFixed(v int32) uint8 {
	v = (v + 1<<15) >> 16
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	default:
		return uint8(v)
	}
}

// ToRGBA converts src, read as limited range BT.601 (as a video decoder would), to RGBA. It
// reuses dst when dst has src's size and allocates a new image otherwise; it returns the image
// written. Any chroma subsampling of image.YCbCr is handled.
func ToRGBA(dst *image.RGBA, src *image.YCbCr) *image.RGBA {
	b := src.Rect
	if dst == nil || dst.Rect.Dx() != b.Dx() || dst.Rect.Dy() != b.Dy() {
		dst = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := src.YOffset(x, y), src.COffset(x, y)
			yy := (int32(src.Y[yi]) - 16) * kY
			u := int32(src.Cb[ci]) - 128
			v := int32(src.Cr[ci]) - 128
			o := (x - b.Min.X) * 4
			row[o] = clampFixed(yy + kRV*v)
			row[o+1] = clampFixed(yy - kGU*u - kGV*v)
			row[o+2] = clampFixed(yy + kBU*u)
			row[o+3] = 255
		}
	}
	return dst
}

// lumaOf returns the limited range BT.601 luma (16 black .. 235 white) of an RGB colour, so
// that decoded RGBA and raw YCbCr frames are measured on the same scale.
func lumaOf(r, g, b uint8) int {
	return 16 + (16829*int(r)+33039*int(g)+6416*int(b)+1<<15)>>16
}
