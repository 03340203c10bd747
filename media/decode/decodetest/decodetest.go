// Package decodetest makes real encoded test media for the decoder and
// receive tests: a synthetic picture with known colours, encoded with the
// same encoders the app sends with (mediadevices' x264 and libvpx), and
// checks that a decoded picture shows those colours. It is for tests only.
package decodetest

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/codec/x264"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/media/decode"
)

// Quadrants are the colours of the pattern's four quadrants: top-left,
// top-right, bottom-left, bottom-right. CheckQuadrants looks for them.
var Quadrants = [4]color.RGBA{
	{R: 220, G: 40, B: 40, A: 255},
	{R: 40, G: 200, B: 60, A: 255},
	{R: 40, G: 60, B: 220, A: 255},
	{R: 230, G: 230, B: 230, A: 255},
}

// ycc converts to BT.601 limited range, which is what decoders assume for
// untagged streams (Go's color.RGBToYCbCr is full-range JFIF).
func ycc(c color.RGBA) (y, cb, cr uint8) {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	clamp := func(v float64) uint8 { return uint8(min(max(v+0.5, 0), 255)) }
	return clamp(16 + (65.481*r+128.553*g+24.966*b)/255),
		clamp(128 + (-37.797*r-74.203*g+112*b)/255),
		clamp(128 + (112*r-93.786*g-18.214*b)/255)
}

// Draw paints frame number n of the pattern into img (4:2:0): four coloured
// quadrants in the middle half, a bar moving over a fine texture along the top
// quarter, and a scrolling texture with changing grain along the bottom
// quarter, so consecutive frames differ and the encoder has real work to do.
func Draw(img *image.YCbCr, n int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	top, bottom := h/4, h-h/4
	seed := uint32(n) * 2654435761
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c color.RGBA
			switch {
			case y < top:
				v := uint8((x/3*5 + y/3*11) % 200)
				c = color.RGBA{R: v, G: v / 2, B: 200 - v, A: 255}
				if bx := (n * 16) % w; x >= bx && x < bx+w/10 {
					c = color.RGBA{R: 250, G: 250, B: 60, A: 255}
				}
			case y >= bottom:
				v := uint8(((x+n*8)/4*7 + y/4*13) % 200)
				grain := uint8(hash(uint32(x)*73856093^uint32(y)*19349663^seed) % 24)
				c = color.RGBA{R: v + grain, G: 220 - v + grain, B: v/2 + grain, A: 255}
			default:
				q := 0
				if x >= w/2 {
					q++
				}
				if y >= h/2 {
					q += 2
				}
				c = Quadrants[q]
			}
			yy, cb, cr := ycc(c)
			img.Y[y*img.YStride+x] = yy
			if x%2 == 0 && y%2 == 0 {
				i := (y/2)*img.CStride + x/2
				img.Cb[i], img.Cr[i] = cb, cr
			}
		}
	}
}

// hash is a small integer hash for the texture grain.
func hash(v uint32) uint32 {
	v ^= v >> 16
	v *= 0x7feb352d
	v ^= v >> 15
	v *= 0x846ca68b
	v ^= v >> 16
	return v
}

// Encoder encodes successive pattern frames with a real encoder.
type Encoder struct {
	rc    codec.ReadCloser
	img   *image.YCbCr
	n     int
	Codec decode.Codec
}

// NewEncoder opens an H.264 (x264) or VP8/VP9 (libvpx) encoder for w x h
// pictures at bitrate bit/s with a keyframe every keyint frames.
func NewEncoder(c decode.Codec, w, h, bitrate, keyint int) (*Encoder, error) {
	e := &Encoder{img: image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420), Codec: c}
	r := video.ReaderFunc(func() (image.Image, func(), error) {
		Draw(e.img, e.n)
		e.n++
		return e.img, func() {}, nil
	})
	m := prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}}
	var err error
	switch c {
	case decode.H264:
		p, perr := x264.NewParams()
		if perr != nil {
			return nil, fmt.Errorf("x264 params: %w", perr)
		}
		p.BitRate, p.KeyFrameInterval, p.Preset = bitrate, keyint, x264.PresetVeryfast
		e.rc, err = p.BuildVideoEncoder(r, m)
	case decode.VP8:
		p, perr := vpx.NewVP8Params()
		if perr != nil {
			return nil, fmt.Errorf("vp8 params: %w", perr)
		}
		p.BitRate, p.KeyFrameInterval, p.LagInFrames = bitrate, keyint, 0
		e.rc, err = p.BuildVideoEncoder(r, m)
	case decode.VP9:
		p, perr := vpx.NewVP9Params()
		if perr != nil {
			return nil, fmt.Errorf("vp9 params: %w", perr)
		}
		p.BitRate, p.KeyFrameInterval, p.LagInFrames = bitrate, keyint, 0
		e.rc, err = p.BuildVideoEncoder(r, m)
	default:
		return nil, fmt.Errorf("decodetest: no encoder for %q", c)
	}
	if err != nil {
		return nil, fmt.Errorf("build %s encoder: %w", c, err)
	}
	return e, nil
}

// Next encodes the next pattern frame. Frames the encoder drops (libvpx rate
// control may) are skipped, so the result is never empty.
func (e *Encoder) Next() ([]byte, error) {
	for range 10 {
		b, release, err := e.rc.Read()
		if release != nil {
			release()
		}
		if err != nil {
			return nil, fmt.Errorf("encode %s frame %d: %w", e.Codec, e.n, err)
		}
		if len(b) > 0 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("encode %s: encoder produced no data for 10 frames", e.Codec)
}

// ForceKeyframe makes the next frame a keyframe.
func (e *Encoder) ForceKeyframe() error {
	kc, ok := e.rc.Controller().(codec.KeyFrameController)
	if !ok {
		return errors.New("decodetest: encoder cannot force keyframes")
	}
	if err := kc.ForceKeyFrame(); err != nil {
		return fmt.Errorf("force keyframe: %w", err)
	}
	return nil
}

// Close releases the encoder.
func (e *Encoder) Close() error {
	if err := e.rc.Close(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("close encoder: %w", err)
	}
	return nil
}

// Clip encodes n frames of the pattern.
func Clip(c decode.Codec, w, h, n, bitrate, keyint int) ([][]byte, error) {
	e, err := NewEncoder(c, w, h, bitrate, keyint)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, n)
	for range n {
		b, err := e.Next()
		if err != nil {
			_ = e.Close() // the encoding error is the one worth reporting
			return nil, err
		}
		out = append(out, b)
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckQuadrants verifies that img shows the pattern's four quadrant colours
// (average of a block at each quadrant's centre, within tol per channel) and
// opaque alpha.
func CheckQuadrants(img *image.RGBA, tol int) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	centres := [4]image.Point{{w / 4, h * 5 / 16}, {w * 3 / 4, h * 5 / 16}, {w / 4, h * 11 / 16}, {w * 3 / 4, h * 11 / 16}}
	var errs []error
	for q, p := range centres {
		var sum [4]int
		n := 0
		for y := p.Y - 4; y < p.Y+4; y++ {
			for x := p.X - 4; x < p.X+4; x++ {
				c := img.RGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
				sum[0] += int(c.R)
				sum[1] += int(c.G)
				sum[2] += int(c.B)
				sum[3] += int(c.A)
				n++
			}
		}
		want := Quadrants[q]
		got := color.RGBA{R: uint8(sum[0] / n), G: uint8(sum[1] / n), B: uint8(sum[2] / n), A: uint8(sum[3] / n)}
		if absDiff(got.R, want.R) > tol || absDiff(got.G, want.G) > tol || absDiff(got.B, want.B) > tol || got.A != 255 {
			errs = append(errs, fmt.Errorf("quadrant %d at %v: got %v, want %v (tol %d)", q, p, got, want, tol))
		}
	}
	return errors.Join(errs...)
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
