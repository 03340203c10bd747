package audioout

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/pion/mediadevices/pkg/wave"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/media/internal/sounddev"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var toneLevel = 20 * math.Log10(pattern.ToneAmplitude/math.Sqrt2)

// playTone writes chunks of 20 ms of the paced test tone (plus 100 ms up front, so that scheduling
// jitter does not starve the device) and returns the number of frames written.
func playTone(t *testing.T, p *Player, chunks int) uint64 {
	t.Helper()
	tone := pattern.NewTone(440, p.SampleRate(), p.Channels())
	defer tone.Close()
	var frames uint64
	for range chunks + 5 {
		a, _, err := tone.Read()
		if err != nil {
			t.Fatal(err)
		}
		c := a.(*wave.Int16Interleaved)
		p.Write(c.Data)
		frames += uint64(c.Size.Len)
	}
	return frames
}

// TestNullDevicePlaysTone plays the tone through miniaudio's null device: the device callback
// must pull it from the buffer, and the meter must see the tone's level.
func TestNullDevicePlaysTone(t *testing.T) {
	for _, channels := range []int{1, 2} {
		p, err := OpenNull(48000, channels, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("OpenNull: %v", err)
		}
		if !p.Available() {
			t.Fatal("null device not available")
		}
		written := playTone(t, p, 50) // 1 s
		st := p.Stats()
		if st.Written != written {
			t.Errorf("%d ch: Written %d, want %d", channels, st.Written, written)
		}
		// Most of the second must have been played; the rest is still buffered.
		if st.Played < written/2 || st.Played > written {
			t.Errorf("%d ch: Played %d of %d frames", channels, st.Played, written)
		}
		if got := p.Level(); math.Abs(got-toneLevel) > 1.5 {
			t.Errorf("%d ch: Level %.2f dBFS, want %.2f (stats %+v)", channels, got, toneLevel, st)
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		p.Write(make([]int16, 960*channels)) // discarded, must not panic
		if st := p.Stats(); st.Dropped < 960 {
			t.Errorf("Write after Close not counted as dropped: %+v", st)
		}
	}
}

// TestNoDeviceDiscards runs where there is no sound card (this machine, CI): Open succeeds with
// a discarding Player, warns once, and still meters what it is given.
func TestNoDeviceDiscards(t *testing.T) {
	if _, err := os.Stat("/dev/snd"); err == nil {
		t.Skip("this machine has a sound card")
	}
	loggedNoDevice.Store(false)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for i := range 3 {
		p, err := Open(48000, 2, logger)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if p.Available() {
			t.Skip("an audio output is available after all")
		}
		if i == 0 {
			playTone(t, p, 20)
			if got := p.Level(); math.Abs(got-toneLevel) > 1 {
				t.Errorf("Level %.2f dBFS, want %.2f", got, toneLevel)
			}
			if st := p.Stats(); st.Played != 0 || st.Dropped != st.Written || st.Written == 0 {
				t.Errorf("stats %+v: want everything dropped", st)
			}
		}
		p.Close()
		p.Close()
	}
	// Trying every real backend anyway (as on a machine that has /dev/snd but no working
	// card) fails cleanly in malgo and also gives a discarding Player.
	p := open(sounddev.RealBackends, 48000, 2, Options{Logger: logger})
	if p.Available() {
		t.Error("a real backend opened a device on a machine without sound card")
	}
	p.Write(make([]int16, 960))
	p.Close()
	if n := strings.Count(logs.String(), "no audio output"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// TestRing checks the buffer: order, wrap-around, dropping the oldest on overflow, and
// underrun counting.
func TestRing(t *testing.T) {
	p := &Player{rate: 1000, channels: 2, ring: make([]int16, 8)}
	p.push(seq(0, 6))
	out := make([]int16, 4)
	if n := p.take(out); n != 4 || !equal(out, seq(0, 4)) {
		t.Fatalf("take: %d %v", n, out)
	}
	p.push(seq(6, 6)) // wraps: buffer holds 4..11
	if p.count != 8 || p.dropped != 0 {
		t.Fatalf("count %d dropped %d", p.count, p.dropped)
	}
	p.push(seq(12, 4)) // overflow by 4 samples = 2 frames: holds 8..15
	if p.dropped != 2 {
		t.Errorf("dropped %d frames, want 2", p.dropped)
	}
	out = make([]int16, 10)
	if n := p.take(out); n != 8 || !equal(out[:8], seq(8, 8)) {
		t.Errorf("take after overflow: %d %v", n, out)
	}
	p.push(seq(100, 20)) // larger than the buffer: keeps the newest 8
	if n := p.take(out); n != 8 || !equal(out[:8], seq(112, 8)) || p.dropped != 8 {
		t.Errorf("take after oversize write: %d %v, dropped %d", n, out, p.dropped)
	}

	// Before the cushion is buffered pull plays silence (the ring of this Player is smaller
	// than the cushion: it never starts).
	p.push(seq(1, 2))
	dev := make([]byte, 8) // 2 frames of stereo int16
	for i := range dev {
		dev[i] = 0xff
	}
	p.pull(dev, nil, 2)
	if !bytes.Equal(dev, make([]byte, 8)) || p.played != 0 || p.under != 2 || p.count != 2 {
		t.Errorf("pull before the cushion: %v, played %d, underrun %d, buffered %d", dev, p.played, p.under, p.count)
	}

	// Once playing, pull fills the rest of the device buffer with silence, counts the underrun
	// and that the buffer ran dry (it gathers the cushion again).
	p.playing, p.under = true, 0
	for i := range dev {
		dev[i] = 0xff
	}
	p.pull(dev, nil, 2)
	if !bytes.Equal(dev[4:], []byte{0, 0, 0, 0}) || p.played != 1 || p.under != 1 || p.starved != 1 || p.playing {
		t.Errorf("pull: %v, played %d, underrun %d, starved %d", dev, p.played, p.under, p.starved)
	}
}

// TestCushion: playing starts once CushionMillis are buffered, and takes everything then.
func TestCushion(t *testing.T) {
	p := newPlayer(1000, 1, slog.New(slog.DiscardHandler)) // 1 sample a millisecond
	dst := make([]int16, 10)
	p.push(seq(1, CushionMillis-1))
	if n := p.takePaced(dst); n != 0 || p.playing {
		t.Fatalf("took %d before the cushion", n)
	}
	p.push(seq(CushionMillis, 1))
	if n := p.takePaced(dst); n != 10 || !equal(dst, seq(1, 10)) || !p.playing {
		t.Fatalf("took %d %v at the cushion", n, dst)
	}
	if n := p.takePaced(dst); n != 10 || !equal(dst, seq(11, 10)) || p.starved != 0 {
		t.Fatalf("took %d %v while playing", n, dst)
	}
}

// seq returns n samples counting up from from.
func seq(from, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(from + i)
	}
	return s
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLevelOfSilence(t *testing.T) {
	p, _ := Open(8000, 1, slog.New(slog.DiscardHandler))
	defer p.Close()
	if got := p.Level(); got != MinLevel {
		t.Errorf("Level before audio %.1f, want %.1f", got, MinLevel)
	}
	p.Write(make([]int16, 8000))
	if got := p.Level(); got != MinLevel {
		t.Errorf("Level of silence %.1f, want %.1f", got, MinLevel)
	}
	p.Write(nil)
}
