package capture

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/wave"

	"github.com/kvsviewer/kvsviewer/internal/pulsetest"
)

// TestPulseMicrophones lists the microphones of a private PulseAudio daemon started after the
// process (RefreshMicrophones sees it): the default first and marked, no monitors; a call asking
// for the microphone opens it, and InputLevel shows its tone, muted or not.
func TestPulseMicrophones(t *testing.T) {
	t.Cleanup(func() {
		// The daemon is gone: list what the machine has again, for the tests after this one.
		if _, err := RefreshMicrophones(); err != nil {
			t.Error(err)
		}
	})
	s := pulsetest.Start(t)
	if _, err := s.AddMic("usb", "USB Microphone", 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := RefreshMicrophones(); !ok || err != nil {
		t.Fatalf("RefreshMicrophones: %v %v", ok, err)
	}
	var mics []Device
	for _, d := range ListDevices() {
		if d.Kind == KindAudio {
			mics = append(mics, d)
		}
	}
	t.Logf("microphones: %+v", mics)
	if len(mics) != 2 || mics[0] != (Device{ID: pulsetest.MicSource, Label: pulsetest.MicDescription, Kind: KindAudio, Default: true}) ||
		mics[1] != (Device{ID: "usb", Label: "USB Microphone", Kind: KindAudio}) {
		t.Fatalf("microphones %+v: want %q (default) and %q, no monitors", mics, pulsetest.MicDescription, "USB Microphone")
	}

	// A microphone picked by its ID: the one users chose in Settings, across runs.
	usb, err := Open(Options{Video: SourceNone, Audio: SourceMic, AudioDevice: "usb"})
	if err != nil {
		t.Fatal(err)
	}
	if usb.AudioSource != "mic:USB Microphone" {
		t.Errorf("AudioDevice usb opened %q", usb.AudioSource)
	}
	if err := usb.Close(); err != nil {
		t.Fatal(err)
	}

	l, err := Open(Options{Video: SourceNone, Audio: SourceMic})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	if l.AudioSource != "mic:"+pulsetest.MicDescription {
		t.Fatalf("audio source %q", l.AudioSource)
	}
	if ok, _ := RefreshMicrophones(); ok {
		t.Error("RefreshMicrophones listed again while a microphone is open")
	}
	r := l.Audio.(*mediadevices.AudioTrack).NewReader(false)
	l.SetAudioEnabled(false) // the meter shows the microphone muted too
	deadline := time.Now().Add(3 * time.Second)
	want := 20 * math.Log10(0.5/math.Sqrt2) // pulsetest's sine: peak 0.5
	for time.Now().Before(deadline) && math.Abs(l.InputLevel()-want) > 1.5 {
		if _, _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("audio-check: microphone input level %.1f dBFS (want %.1f)", l.InputLevel(), want)
	if math.Abs(l.InputLevel()-want) > 1.5 {
		t.Errorf("input level %.1f dBFS, want %.1f", l.InputLevel(), want)
	}
}

// TestPulseMicrophoneLost unloads the source of an open microphone: after MicStallLimit the
// track delivers silence in real time instead of blocking, OnMicLost hears of it once, in
// words, and Close returns at once (the microphone, whose close would hang, is abandoned).
func TestPulseMicrophoneLost(t *testing.T) {
	t.Cleanup(func() {
		if _, err := RefreshMicrophones(); err != nil {
			t.Error(err)
		}
	})
	s := pulsetest.Start(t)
	if _, err := RefreshMicrophones(); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Video: SourceNone, Audio: SourceMic})
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 2)
	l.OnMicLost(func(err error) { lost <- err })
	r := l.Audio.(*mediadevices.AudioTrack).NewReader(false)
	for range 20 {
		if _, _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveMic(s.Mic()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var silent time.Duration
	for silent < time.Second {
		chunk, _, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("no second of silence within 5 s of the microphone's removal")
		}
		if pcm, ok := chunk.(*wave.Int16Interleaved); ok && slices.Max(pcm.Data) == 0 && slices.Min(pcm.Data) == 0 {
			silent += time.Duration(pcm.Size.Len) * time.Second / time.Duration(pcm.Size.SamplingRate)
		}
	}
	took := time.Since(start)
	t.Logf("audio-check: microphone removed: a second of silence after %s", took.Round(time.Millisecond))
	if took < MicStallLimit+900*time.Millisecond {
		t.Errorf("a second of silence after %s: not paced in real time after the %s stall", took, MicStallLimit)
	}
	select {
	case err := <-lost:
		if want := `microphone "` + pulsetest.MicDescription + `" stopped: the call continues, sending silence`; err.Error() != want {
			t.Errorf("loss %q, want %q", err, want)
		}
	default:
		t.Error("OnMicLost was not called")
	}
	start = time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
	if len(lost) != 0 {
		t.Errorf("the loss was reported %d more times", len(lost))
	}
	if _, _, mics := OpenDevices(); mics != 0 {
		t.Errorf("%d microphones counted open after Close", mics)
	}
}
