package ui

import (
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// MaxTimelineSessions is how many sessions (the current one and the ones
// before it) the timeline keeps.
const MaxTimelineSessions = 6

// PhaseTiming is one bar of the waterfall: a phase that started at Start and
// was reached at End, both measured from the user's click.
type PhaseTiming struct {
	Phase      call.Phase
	Start, End time.Duration
}

// SessionTiming is what the timeline knows about one session (one attempt).
type SessionTiming struct {
	ID        uint64
	Attempt   int
	ClientID  string
	Start     time.Duration // when the attempt began, from the click
	Phases    []PhaseTiming // reached phases in order (not the teardown)
	IDWait    time.Duration // time spent waiting for a ClientId before it began (not in the phases)
	Teardown  time.Duration // duration of the teardown, when it ran
	TornDown  bool
	Failed    bool
	Class     call.Class    // with Failed: why
	Message   string        // with Failed: the controller's words
	FailedAt  time.Duration // with Failed: when, from the click
	FailPhase call.Phase    // with Failed: the phase that was not reached
	Live      bool
	// Latency and LatencyP95 are the session's latest latency figures (read
	// from a pattern master's stamped frames; 0 without).
	Latency, LatencyP95 time.Duration

	click time.Time // the user's action, from the events' Time - Elapsed
	first time.Time // the first event of this session
}

// Duration returns how long the session ran from the click to its last
// known milestone.
func (s SessionTiming) Duration() time.Duration {
	d := s.Start
	if n := len(s.Phases); n > 0 {
		d = s.Phases[n-1].End
	}
	if s.Failed && s.FailedAt > d {
		d = s.FailedAt
	}
	return d
}

// Timeline shows a waterfall of the current and last sessions: each phase's
// duration from the click, and the phase that failed. Feed it with Apply;
// call its methods on the Fyne goroutine only.
type Timeline struct {
	widget.BaseWidget
	sessions []*SessionTiming // oldest first
	views    []*sessionView   // by position, newest session first
	box      *fyne.Container
	empty    *widget.Label
}

// NewTimeline returns an empty timeline.
func NewTimeline() *Timeline {
	t := &Timeline{
		box:   container.NewVBox(),
		empty: widget.NewLabel("No sessions yet: press Connect."),
	}
	t.ExtendBaseWidget(t)
	t.rebuild()
	return t
}

// CreateRenderer implements fyne.Widget.
func (t *Timeline) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewVScroll(t.box))
}

// Sessions returns copies of the sessions shown, oldest first.
func (t *Timeline) Sessions() []SessionTiming {
	out := make([]SessionTiming, len(t.sessions))
	for i, s := range t.sessions {
		out[i] = *s
		out[i].Phases = append([]PhaseTiming(nil), s.Phases...)
	}
	return out
}

func (t *Timeline) session(ev call.Event) *SessionTiming {
	for _, s := range t.sessions {
		if s.ID == ev.SessionID {
			return s
		}
	}
	s := &SessionTiming{ID: ev.SessionID, Attempt: ev.Attempt, first: ev.Time}
	t.sessions = append(t.sessions, s)
	if len(t.sessions) > MaxTimelineSessions {
		t.sessions = t.sessions[len(t.sessions)-MaxTimelineSessions:]
	}
	return s
}

// Apply records a controller event. Events without a session (SessionID 0)
// and statistics are ignored.
func (t *Timeline) Apply(ev call.Event) {
	if ev.SessionID == 0 || ev.Kind == call.EventNotice {
		return
	}
	if ev.Kind == call.EventStats {
		t.applyLatency(ev)
		return
	}
	s := t.session(ev)
	if ev.Attempt > 0 {
		s.Attempt = ev.Attempt
	}
	if ev.ClientID != "" {
		s.ClientID = ev.ClientID
	}
	switch ev.Kind {
	case call.EventPhase:
		s.applyPhase(ev)
	case call.EventError:
		s.applyError(ev)
	case call.EventState:
		if ev.State == call.StateLive {
			s.Live = true
		}
	}
	t.rebuild()
}

// applyLatency records a session's latency figures from its stats, redrawing
// only when a figure changed by a millisecond or more.
func (t *Timeline) applyLatency(ev call.Event) {
	st := ev.Stats
	if st == nil || st.LatencySamples == 0 {
		return
	}
	s := t.session(ev)
	p50, p95 := st.Latency.Round(time.Millisecond), st.LatencyP95.Round(time.Millisecond)
	if p50 == s.Latency && p95 == s.LatencyP95 {
		return
	}
	s.Latency, s.LatencyP95 = p50, p95
	t.rebuild()
}

// applyPhase records a phase of the session.
func (s *SessionTiming) applyPhase(ev call.Event) {
	switch ev.Phase {
	case call.PhaseTeardown:
		s.Teardown = ev.Elapsed
		s.TornDown = true
		return
	case call.PhaseClientIDWait:
		s.IDWait = ev.Elapsed
		return
	}
	if s.click.IsZero() && !ev.Time.IsZero() {
		s.click = ev.Time.Add(-ev.Elapsed)
		if !s.first.IsZero() {
			if st := s.first.Sub(s.click); st > 0 && st <= ev.Elapsed {
				s.Start = st
			}
		}
	}
	start := s.Start
	if n := len(s.Phases); n > 0 {
		start = s.Phases[n-1].End
	}
	if ev.Elapsed < start {
		start = ev.Elapsed
	}
	s.Phases = append(s.Phases, PhaseTiming{Phase: ev.Phase, Start: start, End: ev.Elapsed})
	if ev.Phase == call.PhaseFirstFrame {
		s.Live = true
	}
}

// applyError records the session's failure.
func (s *SessionTiming) applyError(ev call.Event) {
	s.Failed = true
	s.Class = ev.Class
	s.Message = ev.Message
	s.FailPhase = nextPhase(s.Phases)
	s.FailedAt = s.Duration()
	if ev.Elapsed > 0 {
		s.FailedAt = ev.Elapsed
	} else if !s.click.IsZero() && !ev.Time.IsZero() {
		s.FailedAt = ev.Time.Sub(s.click)
	}
}

// nextPhase returns the first phase of call.Phases not yet reached.
func nextPhase(reached []PhaseTiming) call.Phase {
	done := map[call.Phase]bool{}
	for _, p := range reached {
		done[p.Phase] = true
	}
	for _, p := range call.Phases {
		if !done[p] && !p.IsDuration() {
			return p
		}
	}
	return ""
}

// rebuild shows the sessions newest first, each in the view of its
// position, whose widgets it updates in place.
func (t *Timeline) rebuild() {
	if len(t.sessions) == 0 {
		t.show([]fyne.CanvasObject{t.empty})
		return
	}
	objs := make([]fyne.CanvasObject, 0, len(t.box.Objects))
	for slot, i := 0, len(t.sessions)-1; i >= 0; slot, i = slot+1, i-1 {
		if slot == len(t.views) {
			t.views = append(t.views, newSessionView())
		}
		objs = t.views[slot].show(t.sessions[i], i == len(t.sessions)-1, objs)
	}
	t.show(objs)
}

// show lays the box out again when the objects it holds changed; a changed
// text or bar refreshes only its own widget.
func (t *Timeline) show(objs []fyne.CanvasObject) {
	if slices.Equal(objs, t.box.Objects) {
		return
	}
	t.box.Objects = objs
	t.box.Refresh()
}

func frac(d, scale time.Duration) float32 {
	f := float32(d) / float32(scale)
	switch {
	case f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

// rowLayout gives the label and the value fixed columns and the track the rest.
type rowLayout struct{}

const (
	labelColumn = 170
	valueColumn = 190
)

func (rowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	h := size.Height
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(labelColumn, h))
	trackW := size.Width - labelColumn - valueColumn
	if trackW < 20 {
		trackW = 20
	}
	objs[1].Move(fyne.NewPos(labelColumn, h/4))
	objs[1].Resize(fyne.NewSize(trackW, h/2))
	objs[2].Move(fyne.NewPos(labelColumn+trackW, 0))
	objs[2].Resize(fyne.NewSize(valueColumn, h))
}

func (rowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := fyne.Max(objs[0].MinSize().Height, objs[2].MinSize().Height)
	return fyne.NewSize(labelColumn+valueColumn+60, h)
}

// spanLayout stretches the first object over the whole area and places the
// second between the fractions from and to of the width (at least 2 px).
type spanLayout struct{ from, to float32 }

func (l *spanLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(size)
	x := l.from * size.Width
	w := (l.to - l.from) * size.Width
	if w < 2 {
		w = 2
	}
	objs[1].Move(fyne.NewPos(x, 0))
	objs[1].Resize(fyne.NewSize(w, size.Height))
}

func (l *spanLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(20, 8) }

// PhaseLabel is the user-facing name of a phase.
func PhaseLabel(p call.Phase) string {
	switch p {
	case call.PhaseControlPlane:
		return "Control plane"
	case call.PhaseSignalingOpen:
		return "Signaling open"
	case call.PhaseOfferSent:
		return "Offer sent"
	case call.PhaseAnswerReceived:
		return "Answer received"
	case call.PhaseICEConnected:
		return "ICE connected"
	case call.PhaseFirstRTP:
		return "First RTP"
	case call.PhaseFirstFrame:
		return "First frame"
	case call.PhaseTeardown:
		return "Teardown"
	case call.PhaseClientIDWait:
		return "ClientId wait"
	}
	return string(p)
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
