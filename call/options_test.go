package call_test

import (
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// candidatesSent counts the ICE candidates the viewer clientID trickled to
// the master through the emulator.
func candidatesSent(e *emulator.Emulator, clientID string) int {
	n := 0
	for _, ev := range e.Events() {
		if ev.Kind == emulator.EventRelay && ev.ClientID == clientID && ev.Action == "ICE_CANDIDATE" {
			n++
		}
	}
	return n
}

// TestTrickleOff: with trickle ICE off the offer carries every candidate and
// none is trickled; the call connects. (With trickle on, the offer carries
// what is gathered when it goes out, which on loopback can be every
// candidate: TestOfferCarriesHostCandidates.)
func TestTrickleOff(t *testing.T) {
	r := newRig(t, emulator.Faults{}, func(c *call.Config) { c.NoTrickle = true })
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.assertVideoFlows(ff.ClientID)
	if n := candidatesSent(r.demo.Emulator, ff.ClientID); n != 0 {
		t.Errorf("%d candidates trickled with trickle ICE off", n)
	}
}

// TestSendOnlyRelayCandidates: with the send filter on relay candidates
// only, the viewer gathers through the emulator's TURN server and offers only
// those: the media flows through the relay (the selected pair's local
// candidate is a relay one).
func TestSendOnlyRelayCandidates(t *testing.T) {
	r := newRig(t, emulator.Faults{}, func(c *call.Config) { c.SendCandidates = call.CandidateRelay })
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	st := r.waitFor(10*time.Second, "stats", func(e call.Event) bool { return e.Kind == call.EventStats && e.Stats.CandidateType != "" })
	if st.Stats.CandidateType != "relay" {
		t.Errorf("selected pair's local candidate %q, want relay", st.Stats.CandidateType)
	}
	r.assertVideoFlows(ff.ClientID)
	if stats := r.demo.Emulator.RelayStats(); stats.Allocations == 0 {
		t.Errorf("the TURN server saw no allocation: %+v", stats)
	}
}
