package call_test

import (
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// audioSkew is how much later the pipeline itself presents audio than
// video: a sample waits for its 20 ms Opus frame to fill before it is sent
// (a microphone's chunk, and the tone's, holds the 20 ms before it is read),
// and the receiver plays a frame from its first sample once it has it all;
// and Opus delays the signal by its 6.5 ms look-ahead (312 samples at
// 48 kHz: measured 6.65 ms through the encoder and decoder, the beep's
// threshold crossing included). The video's encoding and decoding, a few
// milliseconds at 320x240, take a little of it back. A viewer that
// synchronised the two would delay the video by this much.
const audioSkew = pattern.ToneChunk + 6500*time.Microsecond

// TestAVSyncMeterReadsTheMastersOffset: a demo call whose master makes its
// audio late on purpose by 0 and by 120 ms (its beep that long after its
// flash), or early by 120 ms, reads that offset plus the pipeline's own audioSkew within 20 ms,
// at the video sink and where the decoded audio goes to the output (here
// the discarding output: this machine has no sound card); and the two
// readings differ by 120 ms within 20 ms.
func TestAVSyncMeterReadsTheMastersOffset(t *testing.T) {
	read := map[time.Duration]time.Duration{}
	for _, offset := range []time.Duration{0, 120 * time.Millisecond, -120 * time.Millisecond} {
		r := newRigWith(t, demo.Options{AVOffset: offset}, nil)
		r.ctrl.Connect()
		r.waitLive(20 * time.Second)
		got, n := r.steadyAVSync(6)
		t.Logf("master's A/V offset %s: the viewer reads %s (median of %d pairs)", offset, got, n)
		read[offset] = got
		if d := got - offset - audioSkew; d < -20*time.Millisecond || d > 20*time.Millisecond {
			t.Errorf("master's A/V offset %s: the viewer reads %s, want %s (with the pipeline's %s) within 20 ms", offset, got, offset+audioSkew, audioSkew)
		}
		if errs := r.errorsSeen(); len(errs) > 0 {
			t.Errorf("failed attempts %v, want none", errs)
		}
		r.ctrl.Disconnect()
		r.waitIdle()
	}
	diff := read[120*time.Millisecond] - read[0]
	t.Logf("difference between the two runs: %s", diff)
	if diff < 100*time.Millisecond || diff > 140*time.Millisecond {
		t.Errorf("the 120 ms offset reads %s more than none, want 120 ms within 20 ms", diff)
	}
}

// steadyAVSync waits for stats covering at least n flash-beep pairs and
// returns their median offset and how many pairs it covers.
func (r *rig) steadyAVSync(n int) (time.Duration, int) {
	r.t.Helper()
	e := r.waitFor(20*time.Second, "stats with A/V sync pairs", func(e call.Event) bool {
		return e.Kind == call.EventStats && e.Stats.AVSyncSamples >= n
	})
	return e.Stats.AVSync, e.Stats.AVSyncSamples
}
