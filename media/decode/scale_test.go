package decode_test

import (
	"errors"
	"image"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// decodeBoth decodes clip twice, to RGBA and to pictures, and calls check for
// every pair.
func decodeBoth(t *testing.T, c decode.Codec, clip [][]byte, check func(i int, rgba *image.RGBA, pic *decode.Picture)) {
	t.Helper()
	dr, err := decode.NewVideoDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	dp, err := decode.NewVideoDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	for i, f := range clip {
		rgba, err := dr.Decode(f)
		if err != nil {
			t.Fatalf("frame %d: Decode: %v", i, err)
		}
		pic, err := dp.DecodePicture(f)
		if err != nil {
			t.Fatalf("frame %d: DecodePicture: %v", i, err)
		}
		if (rgba == nil) != (pic == nil) {
			t.Fatalf("frame %d: Decode gave a picture: %v, DecodePicture: %v", i, rgba != nil, pic != nil)
		}
		if rgba != nil {
			check(i, rgba, pic)
		}
	}
}

// TestPictureToRGBA: a decoded Picture converted by a Scaler is the picture
// Decode returns (same swscale conversion), for every codec.
func TestPictureToRGBA(t *testing.T) {
	for _, c := range []decode.Codec{decode.H264, decode.VP8, decode.VP9} {
		t.Run(string(c), func(t *testing.T) {
			clip, err := decodetest.Clip(c, 320, 240, 10, 1_000_000, 60)
			if err != nil {
				t.Fatal(err)
			}
			s := decode.NewScaler()
			defer s.Close()
			var dst *image.RGBA
			n := 0
			decodeBoth(t, c, clip, func(i int, rgba *image.RGBA, pic *decode.Picture) {
				n++
				if pic.SubsampleRatio != image.YCbCrSubsampleRatio420 || pic.Rect != rgba.Rect {
					t.Fatalf("frame %d: picture %v %v, want 4:2:0 %v", i, pic.SubsampleRatio, pic.Rect, rgba.Rect)
				}
				if dst, err = s.ToRGBA(dst, pic); err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(dst.Pix, rgba.Pix); d > 2 {
					t.Fatalf("frame %d: RGBA from the picture differs from Decode's by %d", i, d)
				}
				if err := decodetest.CheckQuadrants(dst, 20); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				cp := decode.CopyPicture(nil, pic)
				if maxDiff(cp.Y, pic.Y) != 0 || maxDiff(cp.Cb, pic.Cb) != 0 || cp.BT709 != pic.BT709 {
					t.Fatalf("frame %d: CopyPicture differs", i)
				}
			})
			if n < 8 {
				t.Fatalf("%d pictures of 10 frames", n)
			}
		})
	}
}

// TestScalerToBGRX scales a decoded picture (and its RGBA) to a display size
// and checks each quadrant's colour lands in the right place in BGRX order.
func TestScalerToBGRX(t *testing.T) {
	clip, err := decodetest.Clip(decode.H264, 640, 480, 3, 1_000_000, 60)
	if err != nil {
		t.Fatal(err)
	}
	s := decode.NewScaler()
	defer s.Close()
	const w, h = 472, 354
	stride := w*4 + 64
	buf := make([]byte, stride*h)
	decodeBoth(t, decode.H264, clip, func(i int, rgba *image.RGBA, pic *decode.Picture) {
		for _, src := range []image.Image{pic, rgba} {
			if err := s.ToBGRX(buf, stride, w, h, src); err != nil {
				t.Fatal(err)
			}
			// Back to RGBA at the display size, then the same quadrant check.
			out := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := range h {
				for x := range w {
					p, q := buf[y*stride+4*x:], out.Pix[out.PixOffset(x, y):]
					q[0], q[1], q[2], q[3] = p[2], p[1], p[0], 255
				}
			}
			if err := decodetest.CheckQuadrants(out, 24); err != nil {
				t.Fatalf("frame %d (%T source): %v", i, src, err)
			}
		}
	})
}

func TestScalerBadInput(t *testing.T) {
	s := decode.NewScaler()
	buf := make([]byte, 64*64*4)
	src := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for _, tc := range []struct {
		name         string
		stride, w, h int
		src          image.Image
		dst          []byte
	}{
		{"zero size", 64 * 4, 0, 10, src, buf},
		{"short stride", 10, 16, 16, src, buf},
		{"short buffer", 64 * 4, 64, 65, src, buf},
		{"empty source", 64 * 4, 16, 16, image.NewRGBA(image.Rectangle{}), buf},
		{"4:4:4 picture", 64 * 4, 16, 16, &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio444)}, buf},
		{"gray image", 64 * 4, 16, 16, image.NewGray(image.Rect(0, 0, 16, 16)), buf},
	} {
		if err := s.ToBGRX(tc.dst, tc.stride, tc.w, tc.h, tc.src); !errors.Is(err, decode.ErrScale) {
			t.Errorf("%s: error %v, want ErrScale", tc.name, err)
		}
	}
	if err := s.ToBGRX(buf, 64*4, 64, 64, src); err != nil {
		t.Fatalf("good input: %v", err)
	}
	s.Close()
	s.Close()
	if err := s.ToBGRX(buf, 64*4, 64, 64, src); !errors.Is(err, decode.ErrScale) {
		t.Errorf("after Close: %v, want ErrScale", err)
	}
}

// TestScalerBounds: every buffer handed to C is checked against what C
// would touch. Destinations must hold stride*height bytes; sources must hold
// their bounds; otherwise ErrScale, and nothing outside the Go slices is
// written (guarded by canaries) or read.
func TestScalerBounds(t *testing.T) {
	s := decode.NewScaler()
	defer s.Close()
	src := image.NewRGBA(image.Rect(0, 0, 16, 16))
	const w, h, stride = 16, 16, 16*4 + 32
	// Enough for the pixels of the last row but not stride*h (the rule for
	// every destination), with a canary after it.
	backing := make([]byte, stride*h+64)
	for i := range backing {
		backing[i] = 0xa5
	}
	short := backing[: stride*(h-1)+4*w : stride*(h-1)+4*w]
	if err := s.ToBGRX(short, stride, w, h, src); !errors.Is(err, decode.ErrScale) {
		t.Errorf("destination of stride*(h-1)+4*w bytes: err = %v, want ErrScale", err)
	}
	for i := len(short); i < len(backing); i++ {
		if backing[i] != 0xa5 {
			t.Fatalf("byte %d past the destination slice was written", i-len(short))
		}
	}
	if err := s.ToBGRX(backing[:stride*h], stride, w, h, src); err != nil {
		t.Errorf("destination of stride*h bytes: %v", err)
	}
	if err := s.ToBGRX(backing, 1<<40, w, h, src); !errors.Is(err, decode.ErrScale) {
		t.Errorf("huge stride: err = %v, want ErrScale", err)
	}

	pic := func(mod func(p *decode.Picture)) *decode.Picture {
		p := &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, 32, 32), image.YCbCrSubsampleRatio420)}
		mod(p)
		return p
	}
	bad := map[string]image.Image{
		"picture bounds beyond its planes": pic(func(p *decode.Picture) { p.Rect = image.Rect(0, 0, 64, 64) }),
		"picture with short Y plane":       pic(func(p *decode.Picture) { p.Y = p.Y[:len(p.Y)-1] }),
		"picture with short Cr plane":      pic(func(p *decode.Picture) { p.Cr = p.Cr[:len(p.Cr)-16] }),
		"picture with a short Y stride":    pic(func(p *decode.Picture) { p.YStride = 8 }),
		"picture with a huge stride":       pic(func(p *decode.Picture) { p.YStride = 1 << 40 }),
		"RGBA bounds beyond its pixels":    &image.RGBA{Pix: make([]byte, 16*4*16), Stride: 16 * 4, Rect: image.Rect(0, 0, 16, 17)},
		"RGBA with a short stride":         &image.RGBA{Pix: make([]byte, 16*4*16), Stride: 15 * 4, Rect: image.Rect(0, 0, 16, 16)},
	}
	for name, img := range bad {
		if err := s.ToBGRX(backing[:stride*h], stride, w, h, img); !errors.Is(err, decode.ErrScale) {
			t.Errorf("%s: ToBGRX err = %v, want ErrScale", name, err)
		}
		if _, err := s.ToRGBA(nil, img); !errors.Is(err, decode.ErrScale) {
			t.Errorf("%s: ToRGBA err = %v, want ErrScale", name, err)
		}
	}
	// A sub-image picture reads only its own part: fine.
	sub := pic(func(*decode.Picture) {}).SubImage(image.Rect(8, 8, 24, 24)).(*image.YCbCr)
	if err := s.ToBGRX(backing[:stride*h], stride, w, h, &decode.Picture{YCbCr: *sub}); err != nil {
		t.Errorf("sub-image picture: %v", err)
	}
	// ToRGBA into a destination whose pixels do not match its bounds.
	broken := &image.RGBA{Pix: make([]byte, 10), Stride: 16 * 4, Rect: image.Rect(0, 0, 16, 16)}
	if _, err := s.ToRGBA(broken, src); !errors.Is(err, decode.ErrScale) {
		t.Errorf("ToRGBA into a short destination: err = %v, want ErrScale", err)
	}
}

// TestScalerAliveDuringCall converts with scalers nobody references once
// the call has started, while the garbage collector runs constantly: the
// Scaler's cleanup (which frees its C memory) must not run before the C
// call has returned.
func TestScalerAliveDuringCall(t *testing.T) {
	src := &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, 640, 360), image.YCbCrSubsampleRatio420)}
	const w, h = 2560, 1440 // two passes through a 5.5 MB C buffer (mmap'd: freed means unmapped)
	dst := make([]byte, w*4*h)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			runtime.GC()
		}
	}()
	deadline := time.Now().Add(time.Second)
	n := 0
	for ; time.Now().Before(deadline); n++ {
		if err := decode.NewScaler().ToBGRX(dst, w*4, w, h, src); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
	t.Logf("%d conversions", n)
}

func maxDiff(a, b []byte) int {
	m := 0
	for i := range min(len(a), len(b)) {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}
