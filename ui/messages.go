package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// maxMessageLines bounds the message panel's history.
const maxMessageLines = 200

// MessagePanel is the data channel's side panel of the call: what the master
// and this app said, with times, and a line to send a message. Feed it with
// Apply; call its methods on the Fyne goroutine only.
type MessagePanel struct {
	widget.BaseWidget

	// OnSend sends a message on the call's data channel.
	OnSend func(string) error

	Status  *widget.Label // the data channel's state and round trip
	History *widget.Label // one message a line, oldest first
	Entry   *widget.Entry
	Send    *widget.Button

	lines   []string
	scroll  *container.Scroll
	content fyne.CanvasObject
	now     func() time.Time
}

// NewMessagePanel returns an empty panel.
func NewMessagePanel() *MessagePanel {
	p := &MessagePanel{
		Status:  widget.NewLabel("no data channel"),
		History: widget.NewLabel(""),
		Entry:   widget.NewEntry(),
		now:     time.Now,
	}
	p.History.Wrapping = fyne.TextWrapWord
	p.Status.Importance = widget.LowImportance
	p.Entry.SetPlaceHolder("a message to the master")
	p.Entry.OnSubmitted = func(string) { p.submit() }
	p.Send = widget.NewButton("Send", p.submit)
	p.scroll = container.NewVScroll(p.History)
	bottom := container.NewBorder(nil, nil, nil, p.Send, p.Entry)
	p.content = container.NewBorder(p.Status, bottom, nil, nil, p.scroll)
	p.ExtendBaseWidget(p)
	return p
}

// CreateRenderer implements fyne.Widget.
func (p *MessagePanel) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(p.content)
}

// MinSize keeps the panel narrow beside the video.
func (p *MessagePanel) MinSize() fyne.Size {
	return fyne.NewSize(260, p.BaseWidget.MinSize().Height)
}

// Apply shows a data channel event; a new call's state resets the status.
func (p *MessagePanel) Apply(ev call.Event) {
	switch {
	case ev.Kind == call.EventState && ev.State == call.StateConnecting:
		p.Status.SetText("data channel: waiting for the call")
	case ev.Kind == call.EventState && (ev.State == call.StateIdle || ev.State == call.StateFailed):
		p.Status.SetText("no data channel")
	case ev.Kind != call.EventData || ev.Data == nil:
	case ev.Data.Kind == call.DataOpen:
		p.Status.SetText("data channel open")
		p.add(ev.Time, "", "the data channel to the master is open")
	case ev.Data.Kind == call.DataClosed:
		p.Status.SetText("no data channel")
		p.add(ev.Time, "", "the master closed the data channel")
	case ev.Data.Kind == call.DataRTT:
		p.Status.SetText("data channel open · round trip " + fineMS(ev.Data.RTT))
	case ev.Data.Kind == call.DataMessage:
		who := "me"
		if ev.Data.FromMaster {
			who = "master"
		}
		p.add(ev.Time, who, ev.Data.Text)
	}
}

// Lines returns the history, oldest first.
func (p *MessagePanel) Lines() []string { return append([]string(nil), p.lines...) }

func (p *MessagePanel) add(t time.Time, who, text string) {
	if t.IsZero() {
		t = p.now()
	}
	line := t.Format("15:04:05") + " " + text
	if who != "" {
		line = fmt.Sprintf("%s %s: %s", t.Format("15:04:05"), who, text)
	}
	p.lines = append(p.lines, line)
	if len(p.lines) > maxMessageLines {
		p.lines = p.lines[len(p.lines)-maxMessageLines:]
	}
	p.History.SetText(strings.Join(p.lines, "\n"))
	p.scroll.ScrollToBottom()
}

func (p *MessagePanel) submit() {
	text := strings.TrimSpace(p.Entry.Text)
	if text == "" || p.OnSend == nil {
		return
	}
	if err := p.OnSend(text); err != nil {
		p.Status.SetText(err.Error())
		return
	}
	p.Entry.SetText("")
}

// fineMS writes a short duration in milliseconds with a decimal below 10 ms
// (a round trip on one machine is well under one).
func fineMS(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return ms(d)
}
