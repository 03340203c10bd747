package call_test

import (
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// TestLatencyMeterReadsTheRelayDelay: the meter reads the capture stamp the
// demo master puts in its frames back from the decoded ones, and the master
// reads the viewer's. Through the emulator's TURN relay, adding 100 ms of
// delay each way makes both read 100 ms more (within 10 ms), and so does
// the delay of the RTCP sender reports against their NTP time.
func TestLatencyMeterReadsTheRelayDelay(t *testing.T) {
	r := newRig(t, emulator.Faults{}, relayOnly)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	base, srBase := r.steadyLatency()
	masterBase := r.masterLatency(ff.ClientID)
	r.demo.Emulator.SetFaults(emulator.Faults{RelayDelay: 100 * time.Millisecond})
	delayed, srDelayed := r.steadyLatency()
	masterDelayed := r.masterLatency(ff.ClientID)
	for _, m := range []struct {
		who           string
		before, after time.Duration
	}{{"viewer", base, delayed}, {"master", masterBase, masterDelayed}, {"sender reports", srBase, srDelayed}} {
		added := m.after - m.before
		t.Logf("%s: latency %s without delay, %s with 100 ms added each way: +%s", m.who, m.before, m.after, added)
		if m.before <= 0 || added < 90*time.Millisecond || added > 110*time.Millisecond {
			t.Errorf("the %s read %s more with 100 ms of relay delay, want 100 ms within 10 ms (before %s, after %s)", m.who, added, m.before, m.after)
		}
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
}

// steadyLatency waits until the meter's window holds only frames from now
// on (it covers 5 s) and returns the median of the next three stats' p50,
// and of their sender report delays.
func (r *rig) steadyLatency() (p50, senderReport time.Duration) {
	r.t.Helper()
	from := time.Now().Add(5500 * time.Millisecond)
	var p50s, srs []time.Duration
	r.waitFor(20*time.Second, "three stats with a latency", func(e call.Event) bool {
		if e.Kind != call.EventStats || e.Time.Before(from) || e.Stats.LatencySamples == 0 {
			return false
		}
		p50s, srs = append(p50s, e.Stats.Latency), append(srs, e.Stats.SenderReportDelay)
		return len(p50s) == 3
	})
	return median3(p50s), median3(srs)
}

func median3(d []time.Duration) time.Duration {
	return max(min(d[0], d[1]), min(max(d[0], d[1]), d[2]))
}

// masterLatency is the demo master's latency figure for the viewer's video
// once the stats that steadyLatency waited for are in (it covers the
// viewer's latest 64 frames).
func (r *rig) masterLatency(clientID string) time.Duration {
	r.t.Helper()
	st, ok := r.demo.Master.Viewer(clientID)
	if !ok {
		r.t.Fatalf("the demo master does not know %s", clientID)
	}
	return st.Latency
}
