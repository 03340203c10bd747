package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

func phaseEv(id uint64, attempt int, click time.Time, p call.Phase, at time.Duration) call.Event {
	return call.Event{Kind: call.EventPhase, SessionID: id, Attempt: attempt, Phase: p, Elapsed: at, Time: click.Add(at)}
}

func TestTimelineWaterfall(t *testing.T) {
	test.NewTempApp(t)
	tl := NewTimeline()
	test.NewTempWindow(t, tl)
	click := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// Attempt 1 gets no answer; attempt 2 (after a backoff) goes live.
	tl.Apply(call.Event{Kind: call.EventState, State: call.StateConnecting, SessionID: 7, Attempt: 1, Time: click.Add(2 * ms)})
	tl.Apply(phaseEv(7, 1, click, call.PhaseControlPlane, 120*ms))
	tl.Apply(phaseEv(7, 1, click, call.PhaseSignalingOpen, 180*ms))
	tl.Apply(phaseEv(7, 1, click, call.PhaseOfferSent, 200*ms))
	tl.Apply(call.Event{Kind: call.EventError, SessionID: 7, Attempt: 1, Class: call.ClassNoAnswer, Message: "no answer in 5s", Time: click.Add(5200 * ms)})
	tl.Apply(call.Event{Kind: call.EventStats, SessionID: 7})
	tl.Apply(phaseEv(7, 1, click, call.PhaseTeardown, 30*ms))
	tl.Apply(call.Event{Kind: call.EventState, State: call.StateConnecting, SessionID: 8, Attempt: 2, ClientID: "viewer-2", Time: click.Add(5500 * ms)})
	for i, p := range []call.Phase{call.PhaseControlPlane, call.PhaseSignalingOpen, call.PhaseOfferSent, call.PhaseAnswerReceived, call.PhaseICEConnected, call.PhaseFirstRTP, call.PhaseFirstFrame} {
		tl.Apply(phaseEv(8, 2, click, p, 5500*ms+time.Duration(i+1)*50*ms))
	}
	ss := tl.Sessions()
	if len(ss) != 2 {
		t.Fatalf("%d sessions", len(ss))
	}
	a, b := ss[0], ss[1]
	if !a.Failed || a.Class != call.ClassNoAnswer || a.FailPhase != call.PhaseAnswerReceived || a.FailedAt != 5200*ms || !a.TornDown || a.Teardown != 30*ms {
		t.Errorf("attempt 1: %+v", a)
	}
	if len(a.Phases) != 3 || a.Phases[0].Start != 2*ms || a.Phases[0].End != 120*ms || a.Phases[2] != (PhaseTiming{call.PhaseOfferSent, 180 * ms, 200 * ms}) {
		t.Errorf("attempt 1 phases: %+v", a.Phases)
	}
	if b.Failed || !b.Live || b.Attempt != 2 || b.ClientID != "viewer-2" || b.Start != 5500*ms || len(b.Phases) != 7 || b.Duration() != 5850*ms {
		t.Errorf("attempt 2: %+v", b)
	}
	if b.Phases[0].Start != 5500*ms || b.Phases[6].Start != 5800*ms {
		t.Errorf("attempt 2 phases: %+v", b.Phases)
	}
	// The latency read from the master's stamped frames, as the stats give it.
	tl.Apply(call.Event{Kind: call.EventStats, SessionID: 8, Stats: &call.Stats{Latency: 35 * ms, LatencyP95: 48 * ms, LatencySamples: 40}})
	if s := tl.Sessions()[1]; s.Latency != 35*ms || s.LatencyP95 != 48*ms {
		t.Errorf("session 8 latency %s / %s", s.Latency, s.LatencyP95)
	}
	// Rendered newest first: the header of session 8, then its 7 bars.
	text := markupText(tl)
	if i, j := strings.Index(text, "Session 8"), strings.Index(text, "Session 7"); i < 0 || j < 0 || i > j {
		t.Errorf("order of sessions in:\n%s", text)
	}
	for _, s := range []string{"first frame at 5850 ms", "Answer received failed", "failed after 5200 ms: the camera did not answer", "teardown 30 ms", "latency 35 ms (p95 48 ms)"} {
		if !strings.Contains(text, s) {
			t.Errorf("missing %q in:\n%s", s, text)
		}
	}
	// Only the last MaxTimelineSessions are kept.
	for id := uint64(100); id < 110; id++ {
		tl.Apply(phaseEv(id, 1, click, call.PhaseControlPlane, 10*ms))
	}
	if ss := tl.Sessions(); len(ss) != MaxTimelineSessions || ss[0].ID != 110-MaxTimelineSessions {
		t.Errorf("kept %d sessions from %d", len(ss), ss[0].ID)
	}
}

// TestTimelineReusesItsWidgets: sessions coming and going (a QA run) update
// the widgets of the positions shown instead of building new ones for every
// event; Fyne's renderer cache would keep each discarded one for a minute.
func TestTimelineReusesItsWidgets(t *testing.T) {
	test.NewTempApp(t)
	tl := NewTimeline()
	test.NewTempWindow(t, tl)
	click := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	phases := []call.Phase{call.PhaseControlPlane, call.PhaseSignalingOpen, call.PhaseOfferSent, call.PhaseAnswerReceived, call.PhaseICEConnected, call.PhaseFirstRTP, call.PhaseFirstFrame}
	session := func(id uint64) {
		for i, p := range phases {
			tl.Apply(phaseEv(id, 1, click, p, time.Duration(i+1)*time.Millisecond))
		}
		tl.Apply(call.Event{Kind: call.EventState, State: call.StateLive, SessionID: id, Attempt: 1})
	}
	for id := uint64(1); id <= MaxTimelineSessions; id++ {
		session(id)
	}
	seen := map[fyne.CanvasObject]bool{}
	for _, o := range tl.box.Objects {
		seen[o] = true
	}
	for id := uint64(MaxTimelineSessions + 1); id <= 40; id++ {
		session(id)
		for _, o := range tl.box.Objects {
			if !seen[o] {
				t.Fatalf("session %d: a new %T in the timeline, where the %d positions' widgets should be reused", id, o, MaxTimelineSessions)
			}
		}
	}
	text := markupText(tl)
	if i, j := strings.Index(text, "Session 40 · attempt 1 (current)"), strings.Index(text, "Session 35 · attempt 1 —"); i < 0 || j < 0 || i > j || strings.Contains(text, "Session 34 ") {
		t.Errorf("sessions shown:\n%s", text)
	}
}
