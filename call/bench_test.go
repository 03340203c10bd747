package call_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// benchRig is newRig at the app's default 1280x720@30.
func benchRig(b *testing.B) *rig {
	r := newRigTB(b, emulator.Faults{}, func(c *call.Config) {
		c.AnswerTimeout = 5 * time.Second
		c.Media = capture.Options{Video: "test", Audio: "tone", Width: 1280, Height: 720, FPS: 30}
	}, 1280, 720)
	return r
}

// pace keeps the iterations within the service's quotas (3 viewer connects
// and 5 SDP answers of the master per second), outside the measured time:
// the controller would otherwise wait for its connect quota, and the emulator
// drop the master's answers over 5 per second, as the service does.
func pace(b *testing.B) {
	b.StopTimer()
	time.Sleep(350 * time.Millisecond)
	b.StartTimer()
}

func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := min(max(int(q*float64(len(ds))+0.5)-1, 0), len(ds)-1)
		return float64(ds[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), name+"-p50-ms")
	b.ReportMetric(at(0.95), name+"-p95-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, name+"-max-ms")
}

// rtpToFrame is the time from the first RTP packet of ff's session to its
// first decoded frame ff, from the events the rig logged (first_rtp is
// published before first_frame).
func rtpToFrame(b *testing.B, r *rig, ff call.Event) time.Duration {
	for _, e := range slices.Backward(r.log) {
		if e.Kind == call.EventPhase && e.Phase == call.PhaseFirstRTP && e.SessionID == ff.SessionID {
			return ff.Elapsed - e.Elapsed
		}
	}
	b.Fatalf("no first_rtp event before session %d's first frame", ff.SessionID)
	return 0
}

// BenchmarkConnectToFirstFrame: Connect click to the first decoded frame, the
// first RTP packet to that frame (the jitter buffer and decoder's share), and
// the teardown after it, in Demo mode.
func BenchmarkConnectToFirstFrame(b *testing.B) {
	r := benchRig(b)
	var ttff, rtpFrame, teardown []time.Duration
	for b.Loop() {
		pace(b)
		r.ctrl.Connect()
		ff := r.waitLive(30 * time.Second)
		ttff = append(ttff, ff.Elapsed)
		rtpFrame = append(rtpFrame, rtpToFrame(b, r, ff))
		r.ctrl.Disconnect()
		td := r.waitFor(10*time.Second, "teardown", func(e call.Event) bool { return e.Kind == call.EventPhase && e.Phase == call.PhaseTeardown })
		teardown = append(teardown, td.Elapsed)
		r.waitIdle()
	}
	reportPercentiles(b, "ttff", ttff)
	reportPercentiles(b, "rtp-to-frame", rtpFrame)
	reportPercentiles(b, "teardown", teardown)
}

// BenchmarkReconnectToFirstFrame: Reconnect click on a live call to the new
// session's first frame (teardown of the old call included).
func BenchmarkReconnectToFirstFrame(b *testing.B) {
	r := benchRig(b)
	r.ctrl.Connect()
	r.waitLive(30 * time.Second)
	var ds, rtpFrame []time.Duration
	for b.Loop() {
		pace(b)
		r.ctrl.Reconnect()
		ff := r.waitLive(30 * time.Second)
		ds = append(ds, ff.Elapsed)
		rtpFrame = append(rtpFrame, rtpToFrame(b, r, ff))
	}
	reportPercentiles(b, "reconnect-ttff", ds)
	reportPercentiles(b, "reconnect-rtp-to-frame", rtpFrame)
}
