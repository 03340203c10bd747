package decode_test

import (
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
				if err == nil && img != nil && (img.Rect.Dx() <= 0 || len(img.Pix) != img.Rect.Dx()*img.Rect.Dy()*4) {
					t.Fatalf("%s: bad picture %v", c, img.Rect)
				}
			}
			d.Close()
		}
	})
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
