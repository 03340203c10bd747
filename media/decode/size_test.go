package decode_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// peakRSS is the process's peak resident set size in bytes.
func peakRSS(t testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Maxrss * 1024
}

// checkTooLarge checks that err is the SizeError for a w x h picture and
// the default cap.
func checkTooLarge(t *testing.T, what string, err error, c decode.Codec, w, h int) {
	t.Helper()
	var se *decode.SizeError
	if !errors.Is(err, decode.ErrPictureTooLarge) || !errors.As(err, &se) {
		t.Errorf("%s: err = %v, want ErrPictureTooLarge", what, err)
		return
	}
	want := decode.SizeError{Codec: c, Width: w, Height: h, MaxWidth: 4096, MaxHeight: 2304}
	if *se != want {
		t.Errorf("%s: %+v, want %+v", what, *se, want)
	}
	if errors.Is(err, decode.ErrDecode) {
		t.Errorf("%s: %v also wraps ErrDecode (a passing failure)", what, err)
	}
}

// TestPictureTooLarge feeds keyframes whose headers declare pictures above
// the default 4096x2304 cap (each side, or the pixel count): the decoder
// must refuse them with a SizeError that has the declared size, allocate
// nothing of that size (neither FFmpeg nor Go), and decode the real stream
// again at its next keyframe.
func TestPictureTooLarge(t *testing.T) {
	if w, h := decode.DefaultMaxWidth, decode.DefaultMaxHeight; w != 4096 || h != 2304 {
		t.Fatalf("default cap %dx%d, want 4096x2304", w, h)
	}
	sizes := [][2]int{{8192, 4608}, {16368, 16368}, {4098, 2304}, {4096, 2306}, {8192, 1024}, {1024, 8192}, {8190, 4606}}
	for _, c := range []decode.Codec{decode.H264, decode.VP8, decode.VP9} {
		t.Run(string(c), func(t *testing.T) {
			clip, err := decodetest.Clip(c, 64, 48, 2, 300_000, 60)
			if err != nil {
				t.Fatal(err)
			}
			d, err := decode.NewVideoDecoder(c)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			rss0 := peakRSS(t)
			for _, sz := range sizes {
				huge, err := decodetest.WithSize(c, clip[0], sz[0], sz[1])
				if err != nil {
					t.Fatal(err)
				}
				what := fmt.Sprintf("declared %dx%d", sz[0], sz[1])
				pic, err := d.DecodePicture(huge)
				if pic != nil {
					t.Errorf("%s: got a %v picture", what, pic.Rect)
				}
				checkTooLarge(t, what, err, c, sz[0], sz[1])
				if _, err := d.Decode(huge); !errors.Is(err, decode.ErrPictureTooLarge) {
					t.Errorf("%s: Decode (RGBA): err = %v, want ErrPictureTooLarge", what, err)
				}
				// The next real keyframe decodes (the error also asks for one).
				if _, err := d.Decode(clip[1]); !errors.Is(err, decode.ErrNeedKeyframe) {
					t.Errorf("%s: delta frame after: err = %v, want ErrNeedKeyframe", what, err)
				}
				if pic, err := d.DecodePicture(clip[0]); err != nil || pic == nil || pic.Rect.Dx() != 64 || pic.Rect.Dy() != 48 {
					t.Fatalf("%s: real keyframe after: %v, %v", what, picSize(pic), err)
				}
			}
			// Decoding 8192x4608 would take 57 MB per picture in FFmpeg (and
			// as much again in Go), 16368x16368 400 MB.
			if grew := peakRSS(t) - rss0; grew > 48<<20 {
				t.Errorf("peak RSS grew by %d MB while refusing huge pictures", grew>>20)
			}
		})
	}
}

// TestPictureSizeCap checks the cap's edges: pictures of exactly the cap
// decode, one pixel more does not; caps that are not multiples of the
// codec's block size work too.
func TestPictureSizeCap(t *testing.T) {
	for _, c := range []decode.Codec{decode.H264, decode.VP8} {
		clip, err := decodetest.Clip(c, 64, 48, 1, 300_000, 60)
		if err != nil {
			t.Fatal(err)
		}
		for _, sz := range [][2]int{{4096, 2304}, {2304, 2304}, {4096, 64}, {4094, 2302}} {
			f, err := decodetest.WithSize(c, clip[0], sz[0], sz[1])
			if err != nil {
				t.Fatal(err)
			}
			d, err := decode.NewVideoDecoder(c)
			if err != nil {
				t.Fatal(err)
			}
			// The picture data is 64x48's: the rest is concealed, or errors.
			pic, err := d.DecodePicture(f)
			d.Close()
			if errors.Is(err, decode.ErrPictureTooLarge) || (err == nil && pic == nil) {
				t.Errorf("%s %dx%d within the cap: %v, %v", c, sz[0], sz[1], picSize(pic), err)
			} else if pic != nil && (pic.Rect.Dx() != sz[0] || pic.Rect.Dy() != sz[1]) {
				t.Errorf("%s %dx%d: picture %v", c, sz[0], sz[1], pic.Rect)
			}
		}
	}
	// A real 1920x1080 H.264 stream is coded as 1920x1088: a 1920x1080 cap
	// takes it, a 1918x1080 cap does not.
	clip, err := decodetest.Clip(decode.H264, 1920, 1080, 2, 2_000_000, 60)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		w, h int
		ok   bool
	}{{1920, 1080, true}, {1918, 1080, false}, {1920, 1078, false}, {16384, 16384, true}} {
		d, err := decode.NewVideoDecoderMax(decode.H264, tc.w, tc.h)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range clip {
			pic, err := d.DecodePicture(f)
			var se *decode.SizeError
			switch {
			case tc.ok && (err != nil || pic == nil || pic.Rect.Dx() != 1920 || pic.Rect.Dy() != 1080):
				t.Errorf("cap %dx%d frame %d: %v, %v", tc.w, tc.h, i, picSize(pic), err)
			case !tc.ok && i == 0 && (!errors.As(err, &se) || se.Width != 1920 || se.Height != 1080 || se.MaxWidth != tc.w):
				t.Errorf("cap %dx%d: err = %v, want a SizeError for 1920x1080", tc.w, tc.h, err)
			}
		}
		if w, h := d.MaxSize(); w != tc.w || h != tc.h {
			t.Errorf("MaxSize() = %dx%d, want %dx%d", w, h, tc.w, tc.h)
		}
		d.Close()
	}
	for _, sz := range [][2]int{{0, 100}, {100, 0}, {16385, 100}, {100, -1}} {
		if d, err := decode.NewVideoDecoderMax(decode.H264, sz[0], sz[1]); err == nil {
			d.Close()
			t.Errorf("NewVideoDecoderMax(%dx%d) succeeded", sz[0], sz[1])
		}
	}
}
