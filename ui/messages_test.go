package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

// TestMessagePanel: the panel shows the data channel's state, round trip
// and messages both ways with their times, and sends what is typed.
func TestMessagePanel(t *testing.T) {
	test.NewTempApp(t)
	rec := &recorder{}
	m := NewMainView(test.NewTempWindow(t, nil), rec, nil, nil, nil)
	if m.Messages.Visible() {
		t.Fatal("the message panel shows before it is asked for")
	}
	test.Tap(m.ShowMsgs)
	if !m.Messages.Visible() {
		t.Fatal("the Messages button does not show the panel")
	}
	at := time.Date(2026, 1, 2, 10, 11, 12, 0, time.UTC)
	for _, d := range []*call.DataEvent{
		{Kind: call.DataOpen, Label: call.DataChannelLabel},
		{Kind: call.DataMessage, Text: "hello from the demo master #1", FromMaster: true},
		{Kind: call.DataRTT, RTT: 3 * time.Millisecond},
	} {
		m.Apply(call.Event{Kind: call.EventData, Time: at, Data: d})
	}
	if got := m.Messages.Lines(); len(got) != 2 || got[1] != "10:11:12 master: hello from the demo master #1" {
		t.Errorf("lines %q", got)
	}
	if !strings.Contains(m.Messages.Status.Text, "round trip 3.0 ms") {
		t.Errorf("status %q", m.Messages.Status.Text)
	}
	test.Type(m.Messages.Entry, "hi master")
	test.Tap(m.Messages.Send)
	if got := rec.take(); !slices.Contains(got, "send:hi master") {
		t.Errorf("actions %v, want the message sent", got)
	}
	if m.Messages.Entry.Text != "" {
		t.Errorf("entry kept %q after sending", m.Messages.Entry.Text)
	}
	m.Apply(call.Event{Kind: call.EventData, Time: at, Data: &call.DataEvent{Kind: call.DataClosed, Label: call.DataChannelLabel}})
	if got := m.Messages.Lines(); got[len(got)-1] != "10:11:12 the master closed the data channel" || m.Messages.Status.Text != "no data channel" {
		t.Errorf("after the master closed it: lines %q, status %q", got, m.Messages.Status.Text)
	}
	m.Apply(call.Event{Kind: call.EventState, State: call.StateIdle})
	if m.Messages.Status.Text != "no data channel" {
		t.Errorf("status after the call %q", m.Messages.Status.Text)
	}
}
