package ui

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// StateBadge shows the controller's state as a coloured label: Idle,
// Connecting, Offering, Live, "Retrying n in Ns" with a countdown, and
// "Failed: <reason in words>". Feed it with Apply; call its methods on the
// Fyne goroutine only.
type StateBadge struct {
	widget.BaseWidget
	state    call.State
	retry    int
	deadline time.Time // with Retrying / Waiting: when the next attempt starts
	reason   string    // with Failed: the reason in words
	text     string

	bg    *canvas.Rectangle
	label *canvas.Text
}

// NewStateBadge returns a badge showing Idle.
func NewStateBadge() *StateBadge {
	b := &StateBadge{
		bg:    canvas.NewRectangle(stateColor(call.StateIdle)),
		label: canvas.NewText("", color.White),
	}
	b.bg.CornerRadius = theme.InputRadiusSize() * 2
	b.label.TextStyle = fyne.TextStyle{Bold: true}
	b.label.Alignment = fyne.TextAlignCenter
	b.ExtendBaseWidget(b)
	b.update(time.Now())
	return b
}

// CreateRenderer implements fyne.Widget.
func (b *StateBadge) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(b.bg, container.NewPadded(b.label)))
}

// Apply updates the badge from a controller event; events other than
// state changes are ignored.
func (b *StateBadge) Apply(ev call.Event) {
	if ev.Kind != call.EventState {
		return
	}
	b.state = ev.State
	b.retry = ev.Retry
	b.deadline = time.Time{}
	b.reason = ""
	switch ev.State {
	case call.StateRetrying, call.StateWaiting:
		t := ev.Time
		if t.IsZero() {
			t = time.Now()
		}
		b.deadline = t.Add(ev.Backoff)
	case call.StateFailed:
		b.reason = FailureReason(ev.Class, shorten(ev.Message, maxBadgeDetail))
	}
	b.update(ev.Time)
}

// Tick refreshes the countdown of Retrying / Waiting; call it about once a
// second.
func (b *StateBadge) Tick(now time.Time) {
	if b.deadline.IsZero() {
		return
	}
	b.update(now)
}

// State returns the state shown.
func (b *StateBadge) State() call.State { return b.state }

// Text returns the text shown.
func (b *StateBadge) Text() string { return b.text }

func (b *StateBadge) update(now time.Time) {
	switch b.state {
	case call.StateRetrying:
		b.text = fmt.Sprintf("Retrying %d in %s", b.retry, countdown(b.deadline, now))
	case call.StateWaiting:
		b.text = "Waiting " + countdown(b.deadline, now)
	case call.StateFailed:
		b.text = "Failed: " + b.reason
	default:
		b.text = b.state.String()
	}
	b.label.Text = b.text
	b.bg.FillColor = stateColor(b.state)
	b.Refresh()
}

// countdown formats the whole seconds left until deadline, rounded up.
func countdown(deadline, now time.Time) string {
	if now.IsZero() {
		now = time.Now()
	}
	left := deadline.Sub(now)
	if left < 0 {
		left = 0
	}
	return fmt.Sprintf("%ds", int(math.Ceil(left.Seconds())))
}

func stateColor(s call.State) color.Color {
	switch s {
	case call.StateLive:
		return color.NRGBA{R: 0x1b, G: 0x8a, B: 0x3c, A: 0xff}
	case call.StateConnecting, call.StateOffering, call.StateConnectingMedia:
		return color.NRGBA{R: 0x1f, G: 0x6f, B: 0xc9, A: 0xff}
	case call.StateRetrying, call.StateWaiting:
		return color.NRGBA{R: 0xc2, G: 0x6a, B: 0x00, A: 0xff}
	case call.StateFailed:
		return color.NRGBA{R: 0xc0, G: 0x1c, B: 0x28, A: 0xff}
	default:
		return color.NRGBA{R: 0x5e, G: 0x5e, B: 0x66, A: 0xff}
	}
}

// maxBadgeDetail bounds the detail the badge shows, so that a long error
// cannot widen the toolbar (the notice line and the log have it in full).
const maxBadgeDetail = 40

// shorten cuts s to at most n runes, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// FailureReason words a failure class for the user; message, when set, is
// added as the detail.
func FailureReason(c call.Class, message string) string {
	words := map[call.Class]string{
		call.ClassNoAnswer:           "the camera did not answer",
		call.ClassICEFailed:          "no network path to the camera",
		call.ClassICEDisconnected:    "the network path was lost",
		call.ClassSignalingClosed:    "the signaling connection closed",
		call.ClassGoAway:             "the service asked to reconnect",
		call.ClassReconnectICEServer: "the relay servers changed",
		call.ClassStatusResponse:     "the service rejected a message",
		call.ClassControlPlane:       "the channel could not be reached",
		call.ClassAuth:               "AWS credentials were refused",
		call.ClassMediaStall:         "the video stopped arriving",
		call.ClassLocalMedia:         "the camera or microphone failed",
		call.ClassInternal:           "an internal error",
	}[c]
	if words == "" {
		words = "unknown error"
		if c != "" {
			words = string(c)
		}
	}
	if message != "" {
		return words + " (" + message + ")"
	}
	return words
}
