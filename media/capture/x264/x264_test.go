package x264

import (
	"bytes"
	"errors"
	"image"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/internal/stderrtest"
	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// source returns a reader of decodetest's pattern, w x h, frame after frame.
func source(w, h int) video.Reader {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	n := 0
	return video.ReaderFunc(func() (image.Image, func(), error) {
		decodetest.Draw(img, n)
		n++
		return img, func() {}, nil
	})
}

// open builds an encoder the way media/capture does (ultrafast), logging to l.
func open(t *testing.T, w, h int, l *slog.Logger) codec.ReadCloser {
	t.Helper()
	p, err := NewParams()
	if err != nil {
		t.Fatal(err)
	}
	p.BitRate = 1_000_000
	p.Logger = l
	enc, err := p.BuildVideoEncoder(source(w, h), prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func next(t *testing.T, enc codec.ReadCloser) []byte {
	t.Helper()
	b, release, err := enc.Read()
	release()
	if err != nil || len(b) == 0 {
		t.Fatalf("encode: %d bytes, %v", len(b), err)
	}
	return b
}

// logTo returns a logger writing text lines to b at level and above.
func logTo(b *syncBuffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: level}))
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoInfoOnStderr: opening, using and closing an encoder writes nothing to
// fd 2 (mediadevices' encoder wrote "x264 [info]: using cpu capabilities", the
// profile and the statistics); x264's information goes to a debug log only.
func TestNoInfoOnStderr(t *testing.T) {
	for _, tc := range []struct {
		level     slog.Level
		wantInLog bool
	}{{slog.LevelWarn, false}, {slog.LevelDebug, true}} {
		var logs syncBuffer
		stderr := stderrtest.Capture(t, func() {
			enc := open(t, 320, 240, logTo(&logs, tc.level))
			for range 5 {
				next(t, enc)
			}
			if err := enc.Close(); err != nil {
				t.Error(err)
			}
		})
		if strings.Contains(stderr, "x264") {
			t.Errorf("log level %v: x264 wrote to stderr:\n%s", tc.level, stderr)
		}
		got := logs.String()
		if in := strings.Contains(got, "level=DEBUG msg=\"x264: using cpu capabilities"); in != tc.wantInLog {
			t.Errorf("log level %v: x264's cpu line in the log: %v, want %v; log:\n%s", tc.level, in, tc.wantInLog, got)
		}
		if tc.wantInLog && !strings.Contains(got, "x264: kb/s:") {
			t.Errorf("no statistics at close in the debug log:\n%s", got)
		}
		if strings.Contains(got, "level=WARN") || strings.Contains(got, "level=ERROR") {
			t.Errorf("x264 warned:\n%s", got)
		}
	}
}

// TestErrorsAreLogged: x264's own errors reach the logger at error level.
func TestErrorsAreLogged(t *testing.T) {
	var logs syncBuffer
	p, _ := NewParams() // no bitrate: x264 refuses ABR without one
	p.Logger = logTo(&logs, slog.LevelWarn)
	var err error
	stderr := stderrtest.Capture(t, func() {
		_, err = p.BuildVideoEncoder(source(64, 64), prop.Media{Video: prop.Video{Width: 64, Height: 64}})
	})
	if err == nil {
		t.Fatal("an encoder without a bitrate opened")
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"x264: bitrate not specified") || stderr != "" {
		t.Fatalf("error %v; log %q; stderr %q", err, logs.String(), stderr)
	}
}

// TestRoundTrip decodes what the encoder makes (FFmpeg, media/decode) and
// checks the picture: the encoder really encodes.
func TestRoundTrip(t *testing.T) {
	const w, h = 640, 360
	enc := open(t, w, h, nil)
	defer func() { _ = enc.Close() }()
	dec, err := decode.NewVideoDecoder(decode.H264)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for i := range 30 {
		b := next(t, enc)
		if !bytes.HasPrefix(b, []byte{0, 0, 0, 1}) {
			t.Fatalf("frame %d is not Annex-B: % x", i, b[:min(8, len(b))])
		}
		if i == 0 && (!decode.IsKeyframe(decode.H264, b) || !hasNAL(b, 7) || !hasNAL(b, 8)) {
			t.Fatal("the first frame is not an IDR with SPS and PPS")
		}
		img, err := dec.Decode(b)
		if err != nil || img == nil {
			t.Fatalf("decode frame %d: %v", i, err)
		}
		if img.Rect.Dx() != w || img.Rect.Dy() != h {
			t.Fatalf("decoded %v, want %dx%d", img.Rect, w, h)
		}
		if err := decodetest.CheckQuadrants(img, 24); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
}

// hasNAL reports whether an Annex-B access unit has a NAL unit of type typ.
func hasNAL(b []byte, typ byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if b[i+3]&0x1f == typ {
				return true
			}
			i += 2
		}
	}
	return false
}

// TestForceKeyFrame: the frame after ForceKeyFrame is an IDR with SPS and PPS
// (what a PLI or FIR gets), only that one, and the keyframe interval holds.
func TestForceKeyFrame(t *testing.T) {
	enc := open(t, 320, 240, nil)
	defer func() { _ = enc.Close() }()
	kc, ok := enc.Controller().(codec.KeyFrameController)
	if !ok {
		t.Fatal("no codec.KeyFrameController")
	}
	if _, ok := enc.Controller().(codec.BitRateController); !ok {
		t.Fatal("no codec.BitRateController")
	}
	var keys []int
	for i := range 130 {
		switch i {
		case 10: // twice: one IDR
			_ = kc.ForceKeyFrame()
			fallthrough
		case 25:
			if err := kc.ForceKeyFrame(); err != nil {
				t.Fatal(err)
			}
		}
		b := next(t, enc)
		if decode.IsKeyframe(decode.H264, b) {
			if !hasNAL(b, 7) || !hasNAL(b, 8) {
				t.Fatalf("IDR %d without SPS/PPS", i)
			}
			keys = append(keys, i)
		}
	}
	// 0: the first; 10: forced twice, one IDR; 25: forced; then at most 60
	// frames apart.
	if len(keys) < 4 || keys[0] != 0 || keys[1] != 10 || keys[2] != 25 {
		t.Fatalf("IDRs at frames %v, want 0, 10, 25, then at most 60 apart", keys)
	}
	for i := 3; i < len(keys); i++ {
		if keys[i]-keys[i-1] > 60 {
			t.Fatalf("IDRs at frames %v: more than 60 apart", keys)
		}
	}
}

// TestSetBitRate: a lower target makes smaller frames.
func TestSetBitRate(t *testing.T) {
	enc := open(t, 640, 360, nil)
	defer func() { _ = enc.Close() }()
	size := func() int {
		n := 0
		for range 30 {
			n += len(next(t, enc))
		}
		return n
	}
	size()
	high := size()
	if err := enc.Controller().(codec.BitRateController).SetBitRate(100_000); err != nil {
		t.Fatal(err)
	}
	size()
	if low := size(); low >= high*2/3 {
		t.Fatalf("30 frames: %d bytes at 1 Mbit/s, %d at 100 kbit/s", high, low)
	}
}

func TestCloseAndMisuse(t *testing.T) {
	enc := open(t, 320, 240, nil)
	next(t, enc)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := enc.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("Read after Close: %v, want io.EOF", err)
	}
	if err := enc.Controller().(codec.BitRateController).SetBitRate(500_000); err == nil {
		t.Fatal("SetBitRate after Close succeeded")
	}
	if err := enc.Controller().(codec.KeyFrameController).ForceKeyFrame(); err != nil {
		t.Fatalf("ForceKeyFrame after Close: %v", err)
	}

	// A frame of another size than the encoder's is an error, not a crash.
	p, _ := NewParams()
	p.BitRate = 500_000
	enc2, err := p.BuildVideoEncoder(source(160, 120), prop.Media{Video: prop.Video{Width: 320, Height: 240}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = enc2.Close() }()
	if _, _, err := enc2.Read(); err == nil || !strings.Contains(err.Error(), "160x120") {
		t.Fatalf("Read of a 160x120 frame from a 320x240 encoder: %v", err)
	}
}
