package call_test

import (
	"math"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/internal/pulsetest"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// TestMicrophoneVanishes unloads the microphone's source mid-call: the user is told in words,
// the call stays live and sends silence (the master keeps getting audio packets, silent), and
// the teardown still ends in time, every step within its limit.
func TestMicrophoneVanishes(t *testing.T) {
	s := startPulse(t)
	r := newRig(t, emulator.Faults{}, func(c *call.Config) { c.Media.Audio = capture.SourceMic })
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	time.Sleep(time.Second)
	if heard, _ := r.demo.Master.Viewer(ff.ClientID); math.Abs(heard.AudioHz-micHz) > 3 {
		t.Fatalf("before: the master hears %.1f Hz at %.1f dBFS, want the microphone's %d Hz", heard.AudioHz, heard.AudioLevelDBFS, micHz)
	}
	if err := s.RemoveMic(s.Mic()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := r.waitFor(capture.MicStallLimit+5*time.Second, "a notice", func(e call.Event) bool {
		if e.Kind == call.EventState && e.State != call.StateLive {
			t.Fatalf("the call left Live: %s %s", e.State, e.Message)
		}
		return e.Kind == call.EventNotice
	})
	t.Logf("audio-check: microphone unloaded mid-call: notice after %s: %q", time.Since(start).Round(time.Millisecond), n.Message)
	if want := `microphone "` + pulsetest.MicDescription + `" stopped: the call continues, sending silence`; n.Message != want {
		t.Errorf("notice %q, want %q", n.Message, want)
	}
	time.Sleep(time.Second) // more than the master's window of a third of a second
	before, _ := r.demo.Master.Viewer(ff.ClientID)
	time.Sleep(500 * time.Millisecond)
	after, _ := r.demo.Master.Viewer(ff.ClientID)
	t.Logf("audio-check: microphone gone: the master hears %.1f dBFS (%d packets in 500 ms)", after.AudioLevelDBFS, after.AudioPackets-before.AudioPackets)
	if after.AudioPackets-before.AudioPackets < 15 || after.AudioLevelDBFS > -60 {
		t.Errorf("microphone gone: the master got %d audio packets in 500 ms at %.1f dBFS, want silence, about 25",
			after.AudioPackets-before.AudioPackets, after.AudioLevelDBFS)
	}
	if r.ctrl.State() != call.StateLive {
		t.Errorf("state %s, want Live", r.ctrl.State())
	}
	r.ctrl.Disconnect()
	td := r.waitFor(15*time.Second, "the teardown", call.IsPhase(call.PhaseTeardown))
	t.Logf("audio-check: the teardown after the loss took %s", td.Elapsed.Round(time.Millisecond))
	if len(td.Overruns) > 0 {
		t.Errorf("the teardown took %s, overrunning %v", td.Elapsed, td.Overruns)
	}
	r.waitIdle()
}
