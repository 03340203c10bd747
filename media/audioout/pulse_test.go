package audioout

import (
	"errors"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/wave"

	"github.com/kvsviewer/kvsviewer/internal/pulsetest"
	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/spectrum"
)

// maxGap is the longest drop-out a played tone may have.
const maxGap = 60 * time.Millisecond

// feedTone writes the paced test tone (20 ms chunks in real time, after 100 ms of silence that
// absorbs the writer's jitter) to p until stop is closed, leaving out the chunks skip says to.
func feedTone(t *testing.T, p *Player, stop <-chan struct{}, skip func(chunk int) bool) {
	t.Helper()
	tone := pattern.NewTone(440, p.SampleRate(), p.Channels())
	defer tone.Close()
	p.Write(make([]int16, p.SampleRate()/10*p.Channels()))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		a, _, err := tone.Read()
		if err != nil {
			t.Error(err)
			return
		}
		if skip == nil || !skip(i) {
			p.Write(a.(*wave.Int16Interleaved).Data)
		}
	}
}

// recorded returns what the speaker's monitor recorded since from, as mono samples.
func recorded(s *pulsetest.Server, from int) []float64 {
	return spectrum.Mono(s.Speaker().Since(from), 1)
}

// TestPulsePlaysTone plays the tone through PulseAudio into the null sink and records the
// sink's monitor: the tone's frequency and level arrive, without drop-outs; a 200 ms pause
// in the writes is an underrun the Player counts and a gap in the recording.
func TestPulsePlaysTone(t *testing.T) {
	s := pulsetest.Start(t)
	p, err := Open(48000, 2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.Available() || p.Device() != pulsetest.SpeakerDescription || len(p.Notes()) != 0 {
		t.Fatalf("Open: available %v on %q, notes %q: want %q", p.Available(), p.Device(), p.Notes(), pulsetest.SpeakerDescription)
	}
	from := s.Speaker().Len()
	stop := make(chan struct{})
	done := make(chan struct{})
	// 2 s of tone, a 400 ms pause (chunks 100 to 119), 0.8 s of tone.
	go func() { defer close(done); feedTone(t, p, stop, func(i int) bool { return i >= 100 && i < 120 }) }()
	time.Sleep(3200 * time.Millisecond)
	close(stop)
	<-done
	st := p.Stats()
	time.Sleep(200 * time.Millisecond)
	x := recorded(s, from)
	got := spectrum.Analyze(x, pulsetest.Rate)
	gaps := spectrum.Gaps(x, pulsetest.Rate, 1e-3, maxGap)
	underrunMs := float64(st.Underrun) * 1000 / 48000
	t.Logf("audio-check: speaker (audioout): %.1f Hz at %.1f dBFS, %d gaps over %s %v, underrun %.0f ms, stats %+v",
		got.Hz, got.LevelDBFS, len(gaps), maxGap, gaps, underrunMs, st)
	if math.Abs(got.Hz-440) > 2 || math.Abs(got.LevelDBFS-toneLevel) > 2 {
		t.Errorf("recorded %.1f Hz at %.1f dBFS, want 440 Hz at %.1f dBFS", got.Hz, got.LevelDBFS, toneLevel)
	}
	// The pause is heard shortened by what was buffered (up to about 150 ms) and lengthened by
	// the cushion. Other drop-outs fail make audio-check; make test runs this beside other
	// packages' tests on 2 cores, where a starved sound server makes some (see call's
	// TestHearBothWays, which listens to a call's audio twice there).
	pause := slices.IndexFunc(gaps, func(g spectrum.Gap) bool {
		return g.Length >= 200*time.Millisecond && g.Length <= 550*time.Millisecond
	})
	if pause < 0 {
		t.Errorf("gaps %v: the 400 ms pause is not heard", gaps)
	} else if len(gaps) > 1 && os.Getenv("AUDIO_CHECK_SECONDS") != "" {
		t.Errorf("gaps %v: want only the 400 ms pause", gaps)
	}
	if underrunMs < 200 || st.Starved < 1 {
		t.Errorf("underrun %.0f ms, starved %d times: the 400 ms pause was not counted", underrunMs, st.Starved)
	}
}

// TestPulseDevices lists the outputs (descriptions, the default first) and plays on a chosen one.
func TestPulseDevices(t *testing.T) {
	s := pulsetest.Start(t)
	if _, err := s.AddSink("headset", "USB Headset"); err != nil {
		t.Fatal(err)
	}
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outputs: %+v", devs)
	if len(devs) < 2 || devs[0] != (Device{ID: pulsetest.SpeakerSink, Name: pulsetest.SpeakerDescription, Default: true}) {
		t.Fatalf("outputs %+v: want the default %q first", devs, pulsetest.SpeakerDescription)
	}
	found := false
	for _, d := range devs[1:] {
		found = found || d == Device{ID: "headset", Name: "USB Headset"}
		if d.Default {
			t.Errorf("a second default: %+v", d)
		}
	}
	if !found {
		t.Errorf("outputs %+v lack the headset", devs)
	}

	headset, err := s.Record("headset.monitor")
	if err != nil {
		t.Fatal(err)
	}
	if err := headset.WaitSamples(pulsetest.Rate/50, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p, err := OpenWith(48000, 1, Options{Device: "headset", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Device() != "USB Headset" || len(p.Notes()) != 0 {
		t.Fatalf("OpenWith(headset): on %q, notes %q", p.Device(), p.Notes())
	}
	from, hfrom := s.Speaker().Len(), headset.Len()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); feedTone(t, p, stop, nil) }()
	time.Sleep(time.Second)
	close(stop)
	<-done
	if got := spectrum.Analyze(spectrum.Mono(headset.Since(hfrom), 1), pulsetest.Rate); math.Abs(got.Hz-440) > 2 {
		t.Errorf("the headset recorded %+v, want the tone", got)
	}
	if got := spectrum.Analyze(recorded(s, from), pulsetest.Rate); got.LevelDBFS != spectrum.MinLevel {
		t.Errorf("the default speaker recorded %+v, want silence", got)
	}

	other, err := OpenWith(48000, 1, Options{Device: "no-such-output", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if notes := other.Notes(); other.Device() != pulsetest.SpeakerDescription || len(notes) != 1 ||
		!strings.Contains(notes[0], `"no-such-output" not found: playing on "Test Speaker"`) {
		t.Errorf("an unknown output: on %q, notes %q", other.Device(), notes)
	}
}

// TestPulseDeviceLost unloads the sink a Player plays on: the Player says so in words, once,
// and discards from then on without blocking.
func TestPulseDeviceLost(t *testing.T) {
	s := pulsetest.Start(t)
	p, err := Open(48000, 2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lost := make(chan error, 2)
	p.OnDeviceLost(func(err error) { lost <- err })
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); feedTone(t, p, stop, nil) }()
	defer func() { close(stop); <-done }()
	time.Sleep(500 * time.Millisecond)
	if err := s.RemoveSink(pulsetest.SpeakerSink); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var got error
	select {
	case got = <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("no notice within 5 s of the output's removal; stats %+v", p.Stats())
	}
	t.Logf("audio-check: speaker removed: notice after %s: %v", time.Since(start).Round(time.Millisecond), got)
	if !errors.Is(got, ErrDeviceLost) || got.Error() != `audio output "Test Speaker" disappeared: the call continues without sound` {
		t.Errorf("notice %q", got)
	}
	if p.Available() || p.Device() != "" || !errors.Is(p.Lost(), ErrDeviceLost) {
		t.Errorf("after the loss: available %v, device %q, lost %v", p.Available(), p.Device(), p.Lost())
	}
	before := p.Stats()
	time.Sleep(300 * time.Millisecond)
	if after := p.Stats(); after.Dropped <= before.Dropped || after.Played != before.Played {
		t.Errorf("after the loss the writes are not discarded: %+v then %+v", before, after)
	}
	again := make(chan error, 1)
	p.OnDeviceLost(func(err error) { again <- err })
	select {
	case err := <-again:
		if !errors.Is(err, ErrDeviceLost) {
			t.Errorf("OnDeviceLost after the loss: %v", err)
		}
	default:
		t.Error("OnDeviceLost after the loss was not called at once")
	}
	if len(lost) != 0 {
		t.Errorf("the loss was reported %d more times", len(lost))
	}
}
