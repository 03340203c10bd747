package decode_test

import (
	"errors"
	"image"
	"math"
	"testing"

	"github.com/pion/mediadevices/pkg/codec/opus"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

func TestCodecFromMime(t *testing.T) {
	for in, want := range map[string]decode.Codec{
		"video/H264": decode.H264, "video/h265": decode.H265, "video/VP8": decode.VP8, "VP9": decode.VP9,
	} {
		got, err := decode.CodecFromMime(in)
		if err != nil || got != want {
			t.Errorf("CodecFromMime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"audio/opus", "video/AV1", "", "video/"} {
		if _, err := decode.CodecFromMime(in); !errors.Is(err, decode.ErrUnsupportedCodec) {
			t.Errorf("CodecFromMime(%q) error = %v; want ErrUnsupportedCodec", in, err)
		}
	}
	if _, err := decode.NewVideoDecoder("AV1"); !errors.Is(err, decode.ErrUnsupportedCodec) {
		t.Errorf("NewVideoDecoder(AV1) error = %v", err)
	}
}

// decodeClip decodes every frame and checks the colours of each picture.
func decodeClip(t *testing.T, d *decode.VideoDecoder, clip [][]byte, w, h int) int {
	t.Helper()
	pictures := 0
	for i, f := range clip {
		img, err := d.Decode(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if img == nil {
			continue
		}
		pictures++
		if img.Rect.Dx() != w || img.Rect.Dy() != h {
			t.Fatalf("frame %d: size %v, want %dx%d", i, img.Rect, w, h)
		}
		if err := decodetest.CheckQuadrants(img, 20); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	return pictures
}

func TestDecodeColours(t *testing.T) {
	for _, tc := range []struct {
		c    decode.Codec
		w, h int
	}{
		{decode.H264, 320, 240}, {decode.VP8, 320, 240}, {decode.VP9, 320, 240}, {decode.H264, 642, 362},
	} {
		t.Run(string(tc.c), func(t *testing.T) {
			clip, err := decodetest.Clip(tc.c, tc.w, tc.h, 20, 1_000_000, 60)
			if err != nil {
				t.Fatal(err)
			}
			if !decode.IsKeyframe(tc.c, clip[0]) {
				t.Fatalf("first %s frame not recognised as keyframe", tc.c)
			}
			if decode.IsKeyframe(tc.c, clip[5]) {
				t.Fatalf("%s frame 5 recognised as keyframe", tc.c)
			}
			d, err := decode.NewVideoDecoder(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if n := decodeClip(t, d, clip, tc.w, tc.h); n != len(clip) {
				t.Fatalf("decoded %d pictures from %d frames", n, len(clip))
			}
		})
	}
}

// TestNeedKeyframeAndRecovery starts mid-stream, then feeds corrupt, truncated
// and wrong-codec data and checks the decoder recovers at the next keyframe.
func TestNeedKeyframeAndRecovery(t *testing.T) {
	for _, c := range []decode.Codec{decode.H264, decode.VP8} {
		t.Run(string(c), func(t *testing.T) {
			clip, err := decodetest.Clip(c, 320, 240, 30, 1_000_000, 10)
			if err != nil {
				t.Fatal(err)
			}
			other := decode.VP8
			if c == decode.VP8 {
				other = decode.H264
			}
			wrong, err := decodetest.Clip(other, 320, 240, 2, 1_000_000, 10)
			if err != nil {
				t.Fatal(err)
			}
			d, err := decode.NewVideoDecoder(c)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for i := 1; i < 10; i++ { // delta frames before any keyframe
				if _, err := d.Decode(clip[i]); !errors.Is(err, decode.ErrNeedKeyframe) {
					t.Fatalf("delta frame %d before keyframe: err = %v, want ErrNeedKeyframe", i, err)
				}
			}
			if n := decodeClip(t, d, clip[10:13], 320, 240); n != 3 {
				t.Fatalf("decoded %d of 3 after keyframe", n)
			}
			// Garbage: every kind must give an error or nothing, never a crash.
			bad := [][]byte{
				wrong[0], wrong[1],
				clip[13][:len(clip[13])/3],
				append([]byte{0, 0, 0, 1, 0x65}, make([]byte, 300)...),
				{0x9d, 0x01, 0x2a},
				{0},
			}
			flipped := append([]byte(nil), clip[20]...) // a keyframe with its middle destroyed
			for i := len(flipped) / 4; i < len(flipped)*3/4; i++ {
				flipped[i] ^= 0x5a
			}
			bad = append(bad, flipped, clip[20][:40])
			for _, b := range bad {
				_, _ = d.Decode(b)
			}
			d.Reset()
			if _, err := d.Decode(clip[21]); !errors.Is(err, decode.ErrNeedKeyframe) {
				t.Fatalf("delta after Reset: err = %v, want ErrNeedKeyframe", err)
			}
			if n := decodeClip(t, d, clip[20:30], 320, 240); n != 10 {
				t.Fatalf("decoded %d of 10 after recovery keyframe", n)
			}
		})
	}
}

func TestCloseIdempotent(t *testing.T) {
	d, err := decode.NewVideoDecoder(decode.H264)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close()
	if _, err := d.Decode([]byte{0, 0, 1, 0x65}); !errors.Is(err, decode.ErrClosed) {
		t.Fatalf("Decode after Close: %v", err)
	}
	o, err := decode.NewOpusDecoder(48000, 2)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	o.Close()
	if _, err := o.Decode([]byte{1}, make([]int16, 1920)); !errors.Is(err, decode.ErrClosed) {
		t.Fatalf("opus Decode after Close: %v", err)
	}
}

func TestZeroAllocsPerFrame(t *testing.T) {
	clip, err := decodetest.Clip(decode.H264, 320, 240, 40, 1_000_000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	d, err := decode.NewVideoDecoder(decode.H264)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var last *image.RGBA
	for _, f := range clip[:10] {
		if last, err = d.Decode(f); err != nil {
			t.Fatal(err)
		}
	}
	i := 10
	allocs := testing.AllocsPerRun(25, func() {
		img, err := d.Decode(clip[i])
		if err != nil || img != last {
			t.Errorf("frame %d: err %v, buffer reused %v", i, err, img == last)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per decoded frame, want 0", allocs)
	}
}

// sineReader yields 20 ms chunks of a 440 Hz sine at 48 kHz mono.
func sineReader(freq float64) audio.Reader {
	n := 0
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		a := wave.NewInt16Interleaved(wave.ChunkInfo{Len: 960, Channels: 1, SamplingRate: 48000})
		for i := range 960 {
			a.Data[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(n)/48000))
			n++
		}
		return a, func() {}, nil
	})
}

func TestOpusSine(t *testing.T) {
	p, err := opus.NewParams()
	if err != nil {
		t.Fatal(err)
	}
	p.BitRate = 64000
	enc, err := p.BuildAudioEncoder(sineReader(440), prop.Media{Audio: prop.Audio{SampleRate: 48000, ChannelCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = enc.Close() }()
	for _, ch := range []int{1, 2} {
		d, err := decode.NewOpusDecoder(48000, ch)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, 5760*ch)
		var mono []float64
		for range 50 { // one second
			pkt, release, err := enc.Read()
			if err != nil {
				t.Fatal(err)
			}
			n, err := d.Decode(pkt, pcm)
			release()
			if err != nil {
				t.Fatal(err)
			}
			if n != 960 {
				t.Fatalf("decoded %d samples per channel, want 960", n)
			}
			for i := range n {
				mono = append(mono, float64(pcm[i*ch]))
			}
		}
		if _, err := d.Decode([]byte{0xff, 0xff, 0xff}, pcm); err == nil {
			t.Error("corrupt opus packet decoded without error")
		}
		if n, err := d.Decode(nil, pcm[:960*ch]); err != nil || n != 960 {
			t.Errorf("PLC: n=%d err=%v", n, err)
		}
		d.Close()
		tail := mono[len(mono)/2:] // skip codec start-up
		var sum float64
		crossings := 0
		for i, v := range tail {
			sum += v * v
			if i > 0 && (tail[i-1] < 0) != (v < 0) {
				crossings++
			}
		}
		rms := math.Sqrt(sum / float64(len(tail)))
		freq := float64(crossings) / 2 / (float64(len(tail)) / 48000)
		if rms < 5000 || rms > 9000 { // a 10000-peak sine has RMS 7071
			t.Errorf("channels=%d: RMS %.0f, want about 7071", ch, rms)
		}
		if math.Abs(freq-440) > 15 {
			t.Errorf("channels=%d: frequency %.1f Hz, want 440", ch, freq)
		}
	}
	if _, err := decode.NewOpusDecoder(44100, 2); err == nil {
		t.Error("44.1 kHz accepted")
	}
	if _, err := decode.NewOpusDecoder(48000, 3); err == nil {
		t.Error("3 channels accepted")
	}
}
