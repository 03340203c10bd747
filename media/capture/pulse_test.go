package capture

import (
	"math"
	"testing"
	"time"

	"github.com/pion/mediadevices"

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
