package call_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

func isData(kind call.DataKind) func(call.Event) bool {
	return func(e call.Event) bool { return e.Kind == call.EventData && e.Data.Kind == kind }
}

// TestDataChannel: the call opens a data channel to the master; its round
// trip is measured with pings the demo master echoes; a message goes both
// ways, with an event for each.
func TestDataChannel(t *testing.T) {
	r := newRig(t, emulator.Faults{}, func(c *call.Config) { c.DataChannel = true })
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	open := r.seenOrWait(10*time.Second, "data channel open", isData(call.DataOpen))
	if open.Data.Label != call.DataChannelLabel {
		t.Errorf("label %q", open.Data.Label)
	}
	rtt := r.seenOrWait(5*time.Second, "data channel rtt", isData(call.DataRTT))
	if rtt.Data.RTT <= 0 || rtt.Data.RTT > time.Second {
		t.Errorf("rtt %s", rtt.Data.RTT)
	}
	if err := r.ctrl.SendMessage("hello master"); err != nil {
		t.Fatal(err)
	}
	sent := r.waitFor(5*time.Second, "own message", isData(call.DataMessage))
	if sent.Data.FromMaster || sent.Data.Text != "hello master" {
		t.Errorf("sent event %+v", sent.Data)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(r.demo.Master.Messages(ff.ClientID), "hello master") {
		if time.Now().After(deadline) {
			t.Fatalf("the master got %v", r.demo.Master.Messages(ff.ClientID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := r.waitFor(10*time.Second, "the master's message", func(e call.Event) bool {
		return isData(call.DataMessage)(e) && e.Data.FromMaster
	})
	t.Logf("from the master: %q; rtt %s", got.Data.Text, rtt.Data.RTT)
	st := r.waitFor(5*time.Second, "stats with the rtt", func(e call.Event) bool { return e.Kind == call.EventStats && e.Stats.DataRTT > 0 })
	if st.Stats.DataRTT > time.Second {
		t.Errorf("stats rtt %s", st.Stats.DataRTT)
	}
}

// TestMasterWithoutDataChannel: a master that does not take the data
// channel (with the demo master, whose pion has no handler for it, the
// viewer's channel opens and closes at once, and pion reports the close
// before the open, each on a goroutine of its own) leaves
// the call alone, and sending says there is no open channel instead of
// failing on the closed one.
func TestMasterWithoutDataChannel(t *testing.T) {
	r := newRigWith(t, demo.Options{NoDataChannel: true}, func(c *call.Config) { c.DataChannel = true })
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.assertVideoFlows(ff.ClientID)
	time.Sleep(2500 * time.Millisecond) // two pings unanswered
	for {
		select {
		case e := <-r.events:
			if isData(call.DataRTT)(e) {
				t.Fatalf("an RTT from a master that does not echo: %+v", e.Data)
			}
			if e.Kind == call.EventError {
				t.Fatalf("failed attempt: %s %s", e.Class, e.Message)
			}
			continue
		default:
		}
		break
	}
	if st := r.ctrl.State(); st != call.StateLive {
		t.Fatalf("state %s", st)
	}
	if err := r.ctrl.SendMessage("anyone?"); !errors.Is(err, call.ErrNoDataChannel) {
		t.Fatalf("send: %v, want %v", err, call.ErrNoDataChannel)
	}
}
