package call_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// relayOnly makes the viewer relay-only (--nat relay).
func relayOnly(c *call.Config) { c.NAT = call.NATRelay }

// liveStats waits for a stats event of a session that decodes frames.
func (r *rig) liveStats() *call.Stats {
	r.t.Helper()
	return r.waitFor(5*time.Second, "stats", func(e call.Event) bool {
		return e.Kind == call.EventStats && e.Stats.FramesDecoded > 0
	}).Stats
}

// TestRelayOnlyDemoCall: a relay-only call against the demo reaches its
// first frame through the emulator's TURN server, says so in its stats, and
// the TURN server saw the allocation and the media.
func TestRelayOnlyDemoCall(t *testing.T) {
	r := newRig(t, emulator.Faults{}, relayOnly)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.assertVideoFlows(ff.ClientID)
	st := r.liveStats()
	if st.CandidateType != "relay" {
		t.Fatalf("stats %+v: the selected pair's local candidate is %q, want relay", *st, st.CandidateType)
	}
	rs := r.demo.Emulator.RelayStats()
	if rs.Allocations < 1 || rs.Active < 1 || rs.Packets < 100 || rs.Lost+rs.BlackedOut != 0 {
		t.Fatalf("relay stats %+v: want an allocation that carried the media", rs)
	}
	t.Logf("first frame after %s; stats %+v; relay %+v", ff.Elapsed, *st, rs)
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
	r.ctrl.Disconnect()
	r.waitIdle()
}

// pump collects the controller's events into r.log for d.
func (r *rig) pump(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, _ = call.Await(ctx, r.events, func(call.Event) bool { return false }, func(e call.Event) { r.log = append(r.log, e) })
}

// recovery is how a call came back from a relay blackout.
type recovery struct {
	blackoutStart, blackoutEnd time.Time
	framesAgain                time.Time // the first frame decoded after the blackout's end
}

func (rc recovery) afterEnd() time.Duration { return rc.framesAgain.Sub(rc.blackoutEnd) }

// awaitFramesAfterBlackout waits (collecting events) until the relay's
// blackout is over and a frame was decoded after it: the remote sink's
// decoded count grows (a new session's sink counts from 0 again: that drop
// is not growth).
func (r *rig) awaitFramesAfterBlackout(limit time.Duration) recovery {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	var rc recovery
	prev, watching := uint64(0), false
	for time.Now().Before(deadline) {
		r.pump(10 * time.Millisecond)
		rs := r.demo.Emulator.RelayStats()
		decoded := r.ctrl.RemoteVideo().Stats().Decoded
		switch {
		case rs.BlackoutEnd.IsZero() || time.Now().Before(rs.BlackoutEnd):
		case !watching:
			rc.blackoutStart, rc.blackoutEnd = rs.BlackoutStart, rs.BlackoutEnd
			watching = true
		case decoded > prev:
			rc.framesAgain = time.Now()
			return rc
		}
		prev = decoded
	}
	r.t.Fatalf("no frame decoded within %s after the blackout; events: %s", limit, summary(r.log))
	return rc
}

// sessionsSince lists the session ids of the events in r.log from i on.
func (r *rig) sessionsSince(i int) map[uint64]bool {
	out := map[uint64]bool{}
	for _, e := range r.log[i:] {
		if e.SessionID != 0 {
			out[e.SessionID] = true
		}
	}
	return out
}

func (r *rig) noticesSince(i int) []string {
	var out []string
	for _, e := range r.log[i:] {
		if e.Kind == call.EventNotice {
			out = append(out, e.Message)
		}
	}
	return out
}

const restartNotice = "ICE disconnected: trying an ICE restart"

// TestRelayBlackoutRecoversByICERestart: a 3 s blackout of the relay under a
// live relay-only call. On loopback pion reports ICE disconnected after 1 s
// (rtc's loopback timeouts); with ICEDisconnectedGrace at 1 s the controller
// restarts ICE 2 s into the blackout, while it lasts (with the default 3 s
// grace the blackout is over first and ICE comes back by itself: see
// TestRelayShortBlackoutNeedsNoRestart). The restart's checks get through
// once the blackout ends, and the same session carries on.
func TestRelayBlackoutRecoversByICERestart(t *testing.T) {
	r := newRig(t, emulator.Faults{}, func(c *call.Config) {
		relayOnly(c)
		c.ICEDisconnectedGrace = time.Second
	})
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	if st := r.liveStats(); st.CandidateType != "relay" {
		t.Fatalf("candidate type %q, want relay", st.CandidateType)
	}
	mark := len(r.log)
	r.demo.Emulator.SetFaults(emulator.Faults{BlackoutFor: 3 * time.Second})
	rc := r.awaitFramesAfterBlackout(20 * time.Second)
	r.pump(time.Second)
	t.Logf("frames again %s after the 3 s blackout ended (%s after it started); notices %q",
		rc.afterEnd().Round(time.Millisecond), rc.framesAgain.Sub(rc.blackoutStart).Round(time.Millisecond), r.noticesSince(mark))
	if n := r.noticesSince(mark); !slices.Contains(n, restartNotice) {
		t.Fatalf("notices %q, want %q", n, restartNotice)
	}
	if s := r.sessionsSince(mark); len(s) != 1 || !s[ff.SessionID] {
		t.Fatalf("sessions %v after the blackout, want only the live one (%d)", s, ff.SessionID)
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
	if st := r.ctrl.State(); st != call.StateLive {
		t.Fatalf("state %s, want Live", st)
	}
	r.assertVideoFlows(ff.ClientID)
	if st := r.liveStats(); st.CandidateType != "relay" {
		t.Fatalf("after the restart the candidate type is %q, want relay", st.CandidateType)
	}
}

// TestRelayShortBlackoutNeedsNoRestart: the same 3 s blackout with the
// default ICEDisconnectedGrace (3 s): ICE is disconnected from about 1 s in,
// and the blackout is over before the grace is, so ICE comes back by itself
// on the same pair; no failed attempt, the same session.
func TestRelayShortBlackoutNeedsNoRestart(t *testing.T) {
	r := newRig(t, emulator.Faults{}, relayOnly)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.liveStats()
	mark := len(r.log)
	r.demo.Emulator.SetFaults(emulator.Faults{BlackoutFor: 3 * time.Second})
	rc := r.awaitFramesAfterBlackout(20 * time.Second)
	r.pump(time.Second)
	t.Logf("frames again %s after the 3 s blackout ended; notices %q", rc.afterEnd().Round(time.Millisecond), r.noticesSince(mark))
	if s := r.sessionsSince(mark); len(s) != 1 || !s[ff.SessionID] {
		t.Fatalf("sessions %v after the blackout, want only the live one (%d); events %s", s, ff.SessionID, summary(r.log[mark:]))
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
	r.assertVideoFlows(ff.ClientID)
}

// TestRelayLongBlackoutStartsANewSession: a blackout much longer than the
// watchdogs fails the live session and the retries made during it, and a
// new session recovers once it is over. The default is 10 s;
// RELAY_LONG_BLACKOUT=30s runs the case, with the default answer
// timeout and backoff (the rig's are shorter).
//
// Why the class is media_stall with the default configuration: on loopback
// pion reports ICE disconnected 1 s into the blackout, the one ICE restart
// goes out after ICEDisconnectedGrace (3 s, so at 4 s) and would be given up
// at 4 s + the answer timeout + the grace; the media stall watchdog (5 s
// without a decoded frame) fires first, at 5 s. The retries during the
// blackout then fail with ice_failed (pion gives up a check list that got
// no answer after 5 s on loopback: rtc's loopback timeouts).
func TestRelayLongBlackoutStartsANewSession(t *testing.T) {
	blackout, manual := 10*time.Second, false
	if v := os.Getenv("RELAY_LONG_BLACKOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RELAY_LONG_BLACKOUT: %v", err)
		}
		blackout, manual = d, true
	}
	r := newRig(t, emulator.Faults{}, func(c *call.Config) {
		relayOnly(c)
		if manual {
			c.AnswerTimeout, c.BackoffMin, c.BackoffMax = 0, 0, 0 // the defaults
		}
	})
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.liveStats()
	mark := len(r.log)
	r.demo.Emulator.SetFaults(emulator.Faults{BlackoutFor: blackout})
	rc := r.awaitFramesAfterBlackout(blackout + 60*time.Second)
	var ff2 call.Event
	for _, e := range r.log[mark:] {
		if e.Kind == call.EventPhase && e.Phase == call.PhaseFirstFrame {
			ff2 = e
		}
	}
	if ff2.SessionID == 0 { // decoded, not reported yet
		ff2 = r.waitLive(10 * time.Second)
	}
	var failures []string
	for _, e := range r.log[mark:] {
		if e.Kind == call.EventError {
			failures = append(failures, fmt.Sprintf("%s after %s (%s)", e.Class, e.Time.Sub(rc.blackoutStart).Round(100*time.Millisecond), e.Message))
		}
	}
	t.Logf("%s blackout: frames again %s after it ended, in session %d (was %d); failed attempts: %q; notices %q",
		blackout, rc.afterEnd().Round(time.Millisecond), ff2.SessionID, ff.SessionID, failures, r.noticesSince(mark))
	errs := r.errorsSeen()
	if len(errs) == 0 || ff2.SessionID == ff.SessionID {
		t.Fatalf("failed attempts %v, live session %d (was %d): want the blackout to end the session", errs, ff2.SessionID, ff.SessionID)
	}
	switch errs[0] {
	case call.ClassMediaStall, call.ClassICEFailed, call.ClassICEDisconnected:
	default:
		t.Fatalf("the live session failed with %s, want media_stall, ice_failed or ice_disconnected", errs[0])
	}
	if !manual && errs[0] != call.ClassMediaStall {
		t.Errorf("the live session failed with %s; with the default configuration media_stall (5 s) comes first", errs[0])
	}
	if st := r.ctrl.State(); st != call.StateLive {
		t.Fatalf("state %s, want Live", st)
	}
	r.assertVideoFlows(ff2.ClientID)
}

// TestRelayLossKeepsTheCallLive: 5% of the relayed packets lost, each way:
// NACK retransmissions (and PLI) keep the picture going in the same session,
// and the stats show the loss.
func TestRelayLossKeepsTheCallLive(t *testing.T) {
	r := newRig(t, emulator.Faults{}, relayOnly)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.liveStats()
	mark := len(r.log)
	r.demo.Emulator.SetFaults(emulator.Faults{RelayLoss: 5})
	r.pump(8 * time.Second)
	var last *call.Stats
	for _, e := range r.log[mark:] {
		if e.Kind == call.EventStats {
			last = e.Stats
		}
	}
	rs := r.demo.Emulator.RelayStats()
	if last == nil {
		t.Fatal("no stats under loss")
	}
	t.Logf("after 8 s at 5%% loss: stats %+v; relay %+v", *last, rs)
	if s := r.sessionsSince(mark); len(s) != 1 || !s[ff.SessionID] {
		t.Fatalf("sessions %v, want only the live one; events %s", s, summary(r.log[mark:]))
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
	if last.PacketsLost <= 0 || last.LossPercent <= 0 || rs.Lost == 0 {
		t.Errorf("stats lost %d (%.2f%%), relay dropped %d: want the loss shown", last.PacketsLost, last.LossPercent, rs.Lost)
	}
	if last.FPS < 15 || last.CandidateType != "relay" {
		t.Errorf("stats %+v: want the picture going (15 fps or more) over the relay", *last)
	}
	r.assertVideoFlows(ff.ClientID)
}

// TestRelayDelayShowsInRTT: 100 ms each way through the relay keeps the call
// live and shows as a round trip of 200 ms or more.
func TestRelayDelayShowsInRTT(t *testing.T) {
	r := newRig(t, emulator.Faults{}, relayOnly)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.liveStats()
	r.demo.Emulator.SetFaults(emulator.Faults{RelayDelay: 100 * time.Millisecond})
	st := r.waitFor(15*time.Second, "a 200 ms round trip", func(e call.Event) bool {
		return e.Kind == call.EventStats && e.Stats.RTT >= 200*time.Millisecond
	}).Stats
	t.Logf("stats with 100 ms each way: %+v", *st)
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
	r.assertVideoFlows(ff.ClientID)
}

// TestQAAcceptsRelayFaults is "kvsviewer qa --demo --nat relay --fault
// blackout=3s@5s --cycles 1 --hold 15s" through qa.Run: the fault spec
// parses, the demo makes relay-only calls, the blackout hits the held call
// and the call survives it in its session.
func TestQAAcceptsRelayFaults(t *testing.T) {
	const spec = "blackout=3s@5s"
	if err := demo.CheckFaults(spec); err != nil {
		t.Fatal(err)
	}
	log := testLogger()
	d, err := demo.Start(context.Background(), demo.Options{FaultSpec: spec, Width: 320, Height: 240, FPS: 30, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}()
	cfg := call.Config{NAT: call.NATRelay, Logger: log,
		Media: capture.Options{Video: "test", Audio: "tone", Width: 320, Height: 240}}
	d.Configure(&cfg)
	var events []call.Event
	rep, err := qa.Run(context.Background(), qa.Options{Cycles: 1, Hold: 15 * time.Second, Config: cfg,
		Event: func(e call.Event) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	rs := d.Emulator.RelayStats()
	sessions := map[uint64]bool{}
	var relay bool
	for _, e := range events {
		if e.SessionID != 0 && e.Kind != call.EventStats {
			sessions[e.SessionID] = true
		}
		relay = relay || (e.Kind == call.EventStats && e.Stats.CandidateType == "relay")
	}
	t.Logf("report: ok %d failed %d failures %v; relay %+v; events %s", rep.OK, rep.Failed, rep.Failures, rs, summary(events))
	if rep.OK != 1 || rep.Failed != 0 || !relay {
		t.Fatalf("report ok %d failed %d (relay pair seen: %v), want one live relay call", rep.OK, rep.Failed, relay)
	}
	if rs.BlackedOut == 0 || rs.BlackoutEnd.IsZero() || time.Now().Before(rs.BlackoutEnd) {
		t.Fatalf("relay %+v: the blackout did not happen during the held call", rs)
	}
	if len(sessions) != 1 {
		t.Fatalf("sessions %v: want the held call to survive the 3 s blackout in its session", sessions)
	}
}
