package decode_test

import (
	"errors"
	"testing"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// FuzzVideoDecode feeds arbitrary bytes to every decoder, both before and
// after a real keyframe: it must return an error or a picture, never crash.
func FuzzVideoDecode(f *testing.F) {
	keys := map[decode.Codec][][]byte{}
	for _, c := range []decode.Codec{decode.H264, decode.VP8, decode.VP9} {
		clip, err := decodetest.Clip(c, 64, 48, 3, 300_000, 60)
		if err != nil {
			f.Fatal(err)
		}
		keys[c] = clip
		for _, fr := range clip {
			f.Add(fr)
			f.Add(fr[:len(fr)/2])
		}
	}
	f.Add([]byte{0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 1, 0x68, 0, 0, 0, 1, 0x65, 0x88})
	f.Add([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x7f, 0xff, 0x7f})
	f.Add([]byte{0x82, 0x49, 0x83, 0x42, 0x00})
	f.Add([]byte{0, 0, 1, 0x26, 0x01, 0xaf})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []decode.Codec{decode.H264, decode.H265, decode.VP8, decode.VP9} {
			decode.IsKeyframe(c, data)
			d, err := decode.NewVideoDecoder(c)
			if err != nil {
				t.Fatal(err)
			}
			feed := [][]byte{data}
			if clip := keys[c]; clip != nil {
				feed = [][]byte{clip[0], data, clip[1], data}
			}
			for _, b := range feed {
				img, err := d.Decode(b)
				if err == nil && img != nil && (img.Rect.Dx() <= 0 || len(img.Pix) != img.Rect.Dx()*img.Rect.Dy()*4 ||
					img.Rect.Dx() > decode.DefaultMaxWidth || img.Rect.Dy() > decode.DefaultMaxHeight) {
					t.Fatalf("%s: bad picture %v", c, img.Rect)
				}
				if err != nil && !errors.Is(err, decode.ErrDecode) && !errors.Is(err, decode.ErrNeedKeyframe) &&
					!errors.Is(err, decode.ErrPictureTooLarge) {
					t.Fatalf("%s: unexpected error %v", c, err)
				}
			}
			d.Close()
		}
	})
}

// FuzzPictureSize rewrites the size a real keyframe's header declares
// (H.264 SPS, VP8 and VP9 frame header) and decodes it with a small size cap
// and with the default one. The result must be a picture within the cap, or
// a SizeError exactly when the declared size exceeds the cap, or a codec
// error (the picture data does not match the declared size): never a panic,
// and never a large allocation.
func FuzzPictureSize(f *testing.F) {
	codecs := []decode.Codec{decode.H264, decode.VP8, decode.VP9}
	keys := make([][]byte, len(codecs))
	for i, c := range codecs {
		clip, err := decodetest.Clip(c, 64, 48, 1, 300_000, 60)
		if err != nil {
			f.Fatal(err)
		}
		keys[i] = clip[0]
	}
	for i := range codecs {
		for _, sz := range [][2]uint16{{64, 48}, {256, 144}, {258, 144}, {256, 146}, {8192, 4608}, {4096, 2304}, {4098, 2304}, {65535, 2}, {16383, 16383}} {
			f.Add(uint8(i), sz[0], sz[1], i%2 == 0)
		}
	}
	rss0 := peakRSS(f)
	f.Fuzz(func(t *testing.T, ci uint8, w16, h16 uint16, small bool) {
		c := codecs[int(ci)%len(codecs)]
		w, h := max(int(w16), 2), max(int(h16), 2)
		switch c {
		case decode.H264:
			w, h = w&^1, h&^1 // 4:2:0 cropping is in 2-pixel units
		case decode.VP8:
			w, h = min(w, 0x3fff), min(h, 0x3fff)
		}
		maxW, maxH := decode.DefaultMaxWidth, decode.DefaultMaxHeight
		if small {
			maxW, maxH = 256, 144
		} else if w <= maxW && h <= maxH && w*h > 1<<20 {
			return // a legal big picture: a slow decode of concealment, no news
		}
		frame, err := decodetest.WithSize(c, keys[int(ci)%len(codecs)], w, h)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decode.NewVideoDecoderMax(c, maxW, maxH)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		pic, err := d.DecodePicture(frame)
		checkSizeResult(t, c, w, h, maxW, maxH, pic, err)
		if grew := peakRSS(t) - rss0; grew > 256<<20 {
			t.Fatalf("%s declared %dx%d (cap %dx%d): peak RSS grew by %d MB", c, w, h, maxW, maxH, grew>>20)
		}
	})
}

// checkSizeResult checks FuzzPictureSize's outcome for a keyframe declaring
// w x h decoded with a maxW x maxH cap.
func checkSizeResult(t *testing.T, c decode.Codec, w, h, maxW, maxH int, pic *decode.Picture, err error) {
	t.Helper()
	over := w > maxW || h > maxH
	var se *decode.SizeError
	switch {
	case errors.As(err, &se):
		if !over || !errors.Is(err, decode.ErrPictureTooLarge) || (se.Width <= maxW && se.Height <= maxH) ||
			se.MaxWidth != maxW || se.MaxHeight != maxH || se.Codec != c {
			t.Fatalf("%s declared %dx%d, cap %dx%d: %v", c, w, h, maxW, maxH, err)
		}
	case over:
		t.Fatalf("%s declared %dx%d, cap %dx%d: %v, %v; want a SizeError", c, w, h, maxW, maxH, picSize(pic), err)
	case err != nil:
		if !errors.Is(err, decode.ErrDecode) {
			t.Fatalf("%s declared %dx%d: unexpected error %v", c, w, h, err)
		}
	case pic != nil && (pic.Rect.Dx() > maxW || pic.Rect.Dy() > maxH):
		t.Fatalf("%s: %v picture above the %dx%d cap", c, pic.Rect, maxW, maxH)
	}
}

// picSize is a picture's bounds for messages, or "no picture".
func picSize(p *decode.Picture) string {
	if p == nil {
		return "no picture"
	}
	return p.Rect.String()
}

// FuzzOpusDecode feeds arbitrary packets to the Opus decoder.
func FuzzOpusDecode(f *testing.F) {
	f.Add([]byte{0xfc, 0xff, 0xfe})
	f.Add([]byte{0x78})
	f.Add([]byte{})
	f.Add([]byte{0x03, 0x83, 0x01, 0x02, 0x03})
	d, err := decode.NewOpusDecoder(48000, 2)
	if err != nil {
		f.Fatal(err)
	}
	pcm := make([]int16, 5760*2)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n, err := d.Decode(pkt, pcm)
		if err == nil && (n < 0 || n*2 > len(pcm)) {
			t.Fatalf("decoded %d samples into %d", n, len(pcm))
		}
	})
}
