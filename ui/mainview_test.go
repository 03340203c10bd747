package ui

import (
	"slices"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
)

// recorder is an Actions that records the calls the window makes.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }
func (r *recorder) Connect()     { r.add("connect") }
func (r *recorder) Disconnect()  { r.add("disconnect") }
func (r *recorder) Reconnect()   { r.add("reconnect") }
func (r *recorder) SetMicMuted(m bool) {
	r.add(map[bool]string{true: "mute", false: "unmute"}[m])
}
func (r *recorder) SetCameraOff(o bool) {
	r.add(map[bool]string{true: "camera-off", false: "camera-on"}[o])
}
func (r *recorder) SendMessage(text string) error {
	r.add("send:" + text)
	return nil
}
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func TestMainViewButtonsAndShortcuts(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	rec := &recorder{}
	m := NewMainView(w, rec, nil, nil, nil)
	w.SetContent(m.Content())
	w.Resize(fyne.NewSize(1000, 700))
	m.InstallShortcuts()

	// Idle: Connect works, Disconnect is off, Reconnect always works.
	test.Tap(m.Disconnect)
	test.Tap(m.Connect)
	test.Tap(m.Reconnect)
	if got := rec.take(); !slices.Equal(got, []string{"connect", "reconnect"}) {
		t.Errorf("idle taps: %v", got)
	}
	m.Apply(call.Event{Kind: call.EventState, State: call.StateLive, SessionID: 1})
	if m.Badge.Text() != "Live" {
		t.Errorf("badge %q", m.Badge.Text())
	}
	test.Tap(m.Connect)
	test.Tap(m.Disconnect)
	test.Tap(m.Reconnect)
	test.Tap(m.Mute)
	test.Tap(m.CameraOff)
	test.Tap(m.Mute)
	if got := rec.take(); !slices.Equal(got, []string{"disconnect", "reconnect", "mute", "camera-off", "unmute"}) {
		t.Errorf("live taps: %v", got)
	}

	sc := w.Canvas().(fyne.Shortcutable)
	sc.TypedShortcut(ShortcutConnect)
	sc.TypedShortcut(ShortcutReconnect)
	sc.TypedShortcut(ShortcutDisconnect)
	sc.TypedShortcut(ShortcutMute)
	sc.TypedShortcut(ShortcutCameraOff)
	if got := rec.take(); !slices.Equal(got, []string{"connect", "reconnect", "disconnect", "mute", "camera-on"}) {
		t.Errorf("shortcuts: %v", got)
	}
	sc.TypedShortcut(ShortcutFullScreen)
	if !m.FullScreen() || !w.FullScreen() || w.Content() != m.videoArea {
		t.Error("Ctrl+F did not show the video full screen")
	}
	w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if m.FullScreen() || w.FullScreen() || w.Content() != m.Content() {
		t.Error("Escape did not leave full screen")
	}
	m.SelectTab(TabQA)
	if m.Tabs.Selected().Text != TabQA {
		t.Errorf("tab %q", m.Tabs.Selected().Text)
	}

	// Events reach the stats line, notices and the timeline.
	m.Apply(call.Event{Kind: call.EventStats, SessionID: 1, Stats: &call.Stats{Codec: "H264", Width: 1280, Height: 720, FPS: 29.97,
		InboundKbps: 2100, OutboundKbps: 800, RTT: 12 * time.Millisecond, LossPercent: 0.25, CandidateType: "host"}})
	if want := "1280x720 H264 · 30.0 fps · in 2.1 Mbps / out 800 kbps · RTT 12 ms · loss 0.2% · host"; m.Stats.Text != want {
		t.Errorf("stats %q, want %q", m.Stats.Text, want)
	}
	m.Apply(call.Event{Kind: call.EventNotice, Message: "no camera: sending the test pattern"})
	if m.Notice.Text != "no camera: sending the test pattern" {
		t.Errorf("notice %q", m.Notice.Text)
	}
	m.Apply(call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassICEFailed, SessionID: 1})
	if m.Connect.Disabled() || m.Disconnect.Disabled() || m.Reconnect.Disabled() {
		t.Error("after a failure Connect, Disconnect and Reconnect must all work")
	}
}
