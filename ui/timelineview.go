package ui

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// sessionView shows one session of the timeline: a header, a waterfall row
// for the ClientId wait, each phase and the failure, and a separator. The
// timeline keeps one per position and updates its widgets for whichever
// session is there. Building new widgets on every event instead left Fyne's
// renderer cache holding the discarded ones for a minute: the window's Go
// heap grew by about 90 MB during a QA run.
type sessionView struct {
	header *widget.Label
	rows   []*waterfall
	sep    *widget.Separator
}

func newSessionView() *sessionView {
	return &sessionView{
		header: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		sep:    widget.NewSeparator(),
	}
}

// show updates the view to s and appends its objects to objs.
func (v *sessionView) show(s *SessionTiming, current bool, objs []fyne.CanvasObject) []fyne.CanvasObject {
	importance := widget.MediumImportance
	if s.Failed {
		importance = widget.DangerImportance
	}
	if title := sessionTitle(s, current); v.header.Text != title || v.header.Importance != importance {
		v.header.Text, v.header.Importance = title, importance
		v.header.Refresh()
	}
	objs = append(objs, v.header)

	scale := s.Duration()
	if scale <= 0 {
		scale = time.Millisecond
	}
	used := 0
	row := func(label string, start, end time.Duration, c color.Color, text string) {
		if used == len(v.rows) {
			v.rows = append(v.rows, newWaterfall())
		}
		v.rows[used].set(label, frac(start, scale), frac(end, scale), c, text)
		objs = append(objs, v.rows[used].row)
		used++
	}
	if s.IDWait > 0 {
		row(PhaseLabel(call.PhaseClientIDWait), 0, 0, phaseColor, ms(s.IDWait)+" (before the click's timings)")
	}
	for _, p := range s.Phases {
		row(PhaseLabel(p.Phase), p.Start, p.End, phaseColor, fmt.Sprintf("%s (+%s)", ms(p.End), ms(p.End-p.Start)))
	}
	if s.Failed {
		start := s.Start
		if n := len(s.Phases); n > 0 {
			start = s.Phases[n-1].End
		}
		label := "failed"
		if s.FailPhase != "" {
			label = PhaseLabel(s.FailPhase) + " failed"
		}
		row(label, start, s.FailedAt, failColor, fmt.Sprintf("%s: %s", ms(s.FailedAt), s.Class))
	}
	return append(objs, v.sep)
}

// sessionTitle is a session's header line.
func sessionTitle(s *SessionTiming, current bool) string {
	title := fmt.Sprintf("Session %d · attempt %d", s.ID, s.Attempt)
	if current {
		title += " (current)"
	}
	var outcome string
	switch {
	case s.Failed:
		outcome = fmt.Sprintf("failed after %s: %s", ms(s.FailedAt), FailureReason(s.Class, ""))
	case s.Live:
		outcome = "first frame at " + ms(s.Duration())
	default:
		outcome = "in progress, " + ms(s.Duration())
	}
	if s.IDWait > 0 {
		outcome += fmt.Sprintf(" · waited %s for a ClientId", ms(s.IDWait))
	}
	if s.Latency > 0 {
		outcome += fmt.Sprintf(" · latency %s (p95 %s)", ms(s.Latency), ms(s.LatencyP95))
	}
	if s.TornDown {
		outcome += fmt.Sprintf(" · teardown %s", ms(s.Teardown))
	}
	if s.ClientID != "" {
		outcome += " · ClientId " + s.ClientID
	}
	return title + " — " + outcome
}

var (
	phaseColor = color.NRGBA{R: 0x2f, G: 0x80, B: 0xed, A: 0xff}
	failColor  = color.NRGBA{R: 0xd0, G: 0x30, B: 0x30, A: 0xff}
	trackColor = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x30}
)

// waterfall is one row: "label | track with a bar from start to end | text".
type waterfall struct {
	name, value *widget.Label
	bar         *canvas.Rectangle
	span        *spanLayout
	track, row  *fyne.Container
}

func newWaterfall() *waterfall {
	w := &waterfall{
		name:  widget.NewLabel(""),
		value: widget.NewLabel(""),
		bar:   canvas.NewRectangle(phaseColor),
		span:  &spanLayout{},
	}
	w.bar.CornerRadius = 2
	w.track = container.New(w.span, canvas.NewRectangle(trackColor), w.bar)
	w.row = container.New(&rowLayout{}, w.name, w.track, w.value)
	return w
}

// set shows a bar from the fraction from to the fraction to of the track,
// refreshing only what changed.
func (w *waterfall) set(label string, from, to float32, c color.Color, text string) {
	setText(w.name, label)
	setText(w.value, text)
	if w.span.from != from || w.span.to != to || w.bar.FillColor != c {
		w.span.from, w.span.to = from, to
		w.bar.FillColor = c
		w.track.Refresh()
	}
}

// setText sets a label's text if it changed (SetText always refreshes).
func setText(l *widget.Label, text string) {
	if l.Text != text {
		l.SetText(text)
	}
}
