package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

func TestStateBadge(t *testing.T) {
	test.NewTempApp(t)
	b := NewStateBadge()
	test.NewTempWindow(t, b)
	if b.Text() != "Idle" {
		t.Fatalf("new badge %q", b.Text())
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		ev   call.Event
		want string
	}{
		{call.Event{Kind: call.EventState, State: call.StateConnecting, Time: t0}, "Connecting"},
		{call.Event{Kind: call.EventState, State: call.StateOffering, Time: t0}, "Offering"},
		{call.Event{Kind: call.EventPhase, Phase: call.PhaseAnswerReceived, Time: t0}, "Offering"}, // not a state event
		{call.Event{Kind: call.EventState, State: call.StateConnectingMedia, Time: t0}, "Connecting media"},
		{call.Event{Kind: call.EventState, State: call.StateLive, Time: t0}, "Live"},
		{call.Event{Kind: call.EventState, State: call.StateRetrying, Retry: 2, Backoff: 2500 * time.Millisecond, Time: t0}, "Retrying 2 in 3s"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassNoAnswer, Time: t0}, "Failed: the camera did not answer"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassAuth, Message: "403", Time: t0}, "Failed: AWS credentials were refused (403)"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassControlPlane, Message: strings.Repeat("x", 100), Time: t0},
			"Failed: the channel could not be reached (" + strings.Repeat("x", 39) + "…)"},
		{call.Event{Kind: call.EventState, State: call.StateIdle, Time: t0}, "Idle"},
	}
	for _, s := range steps {
		b.Apply(s.ev)
		if b.Text() != s.want {
			t.Errorf("after %v %v: %q, want %q", s.ev.Kind, s.ev.State, b.Text(), s.want)
		}
		if b.label.Text != b.Text() {
			t.Errorf("label shows %q, Text %q", b.label.Text, b.Text())
		}
	}
	// The retry countdown runs down with Tick and stops at 0.
	b.Apply(call.Event{Kind: call.EventState, State: call.StateRetrying, Retry: 1, Backoff: 3 * time.Second, Time: t0})
	for _, c := range []struct {
		after time.Duration
		want  string
	}{{0, "Retrying 1 in 3s"}, {1100 * time.Millisecond, "Retrying 1 in 2s"}, {2900 * time.Millisecond, "Retrying 1 in 1s"}, {5 * time.Second, "Retrying 1 in 0s"}} {
		b.Tick(t0.Add(c.after))
		if b.Text() != c.want {
			t.Errorf("tick +%v: %q, want %q", c.after, b.Text(), c.want)
		}
	}
	if b.bg.FillColor != stateColor(call.StateRetrying) || stateColor(call.StateRetrying) == stateColor(call.StateLive) {
		t.Errorf("retrying colour %v", b.bg.FillColor)
	}
	b.Apply(call.Event{Kind: call.EventState, State: call.StateWaiting, Backoff: 58 * time.Second, Time: t0})
	if b.Text() != "Waiting 58s" {
		t.Errorf("waiting: %q", b.Text())
	}
}
