package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/internal/redact"
)

// callHost is the window's side of the interactive call: the settings the
// next controller is built from, the controller with its event subscription,
// the user's mute choices, and what the controller last reported.
type callHost struct {
	mu         sync.Mutex
	settings   call.Settings
	dirty      bool // settings changed since ctrl was built
	ctrl       *call.Controller
	unsub      func()
	muted      bool
	camOff     bool
	maxSession uint64 // the highest session id shown
	watchers   map[int]chan call.Event
	watchSeq   int

	actions []action // clicks waiting for runActions, oldest first
	acting  bool     // runActions is running
}

// action is a click that needs the controller: fn runs with it.
type action struct {
	name string
	fn   func(*call.Controller)
}

// current returns the controller, nil when there is none.
func (h *callHost) current() *call.Controller {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctrl
}

// take removes the controller and its unsubscribe function from the host
// and returns them (nil without a controller).
func (h *callHost) take() (*call.Controller, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, unsub := h.ctrl, h.unsub
	h.ctrl, h.unsub = nil, nil
	return c, unsub
}

// release detaches controller c from the window (the frame callbacks of its
// video sinks and unsub, its event subscription, which ends its pump) and
// closes it. Every controller the window lets go of goes through here; a nil
// c does nothing.
func release(c *call.Controller, unsub func()) error {
	if c == nil {
		return nil
	}
	c.RemoteVideo().OnFrame(nil)
	c.LocalVideo().OnFrame(nil)
	unsub()
	return c.Close()
}

// currentSettings returns the settings the next controller is built from.
func (h *callHost) currentSettings() call.Settings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings
}

// controller returns the controller for the current settings, building a
// new one (and closing the old) when there is none or the settings changed.
// Only runActions calls it, so one build runs at a time: two builds at once
// would each install their controller and the first would be lost, never
// closed.
func (w *Window) controller() (*call.Controller, error) {
	h := &w.calls
	h.mu.Lock()
	if h.ctrl != nil && !h.dirty {
		c := h.ctrl
		h.mu.Unlock()
		return c, nil
	}
	old, oldUnsub := h.ctrl, h.unsub
	h.ctrl, h.unsub = nil, nil
	s := h.settings
	h.dirty = false
	h.mu.Unlock()
	if err := release(old, oldUnsub); err != nil {
		w.log.Warn("closing the previous controller", "err", err)
	}
	cfg, err := w.config(s)
	if err != nil {
		return nil, err
	}
	c, err := call.NewController(cfg)
	if err != nil {
		return nil, fmt.Errorf("new controller: %w", err)
	}
	unsub := w.attach(c)
	if err := w.install(c, unsub); err != nil {
		return nil, err
	}
	return c, nil
}

// attach wires a new controller to the window: its events to the view
// (through a pump), the user's mute choices, and its video sinks to the
// video views. The function it returns ends the event subscription.
func (w *Window) attach(c *call.Controller) (unsub func()) {
	events, unsub := c.Subscribe()
	w.wg.Add(1)
	go w.pump(events, w.sessionBase())
	h := &w.calls
	h.mu.Lock()
	muted, camOff := h.muted, h.camOff
	h.mu.Unlock()
	c.SetMicMuted(muted)
	c.SetCameraOff(camOff)
	remote, local := c.RemoteVideo(), c.LocalVideo()
	// Queued before any frame's refresh (fyne.Do runs in order); not waited
	// for, so that a window closing meanwhile cannot block this goroutine.
	fyne.Do(func() {
		w.View.Remote.SetSource(remote)
		w.View.Local.SetSource(local)
	})
	remote.OnFrame(w.View.Remote.FrameReady)
	local.OnFrame(w.View.Local.FrameReady)
	return unsub
}

// install makes c the window's controller, or releases it when the window
// has closed meanwhile (and returns why).
func (w *Window) install(c *call.Controller, unsub func()) error {
	h := &w.calls
	h.mu.Lock()
	if err := w.ctx.Err(); err != nil {
		h.mu.Unlock()
		_ = release(c, unsub)
		return err
	}
	// prev is nil (builds do not overlap and each took the old controller
	// out); should that ever change, the one replaced is still released.
	prev, prevUnsub := h.ctrl, h.unsub
	h.ctrl, h.unsub = c, unsub
	h.mu.Unlock()
	if err := release(prev, prevUnsub); err != nil {
		w.log.Warn("closing the replaced controller", "err", err)
	}
	return nil
}

// act queues fn to run with the controller, which it builds first when
// needed (building may wait for the demo and for the old controller to
// close). The queue is worked through in click order by one goroutine,
// runActions, so builds never overlap: a click during a build waits for it
// and then uses the controller it made.
func (w *Window) act(name string, fn func(*call.Controller)) {
	if w.qaRun.running() {
		fyne.Do(func() { w.View.SetNotice("A QA run is in progress: stop it first") })
		return
	}
	h := &w.calls
	h.mu.Lock()
	h.actions = append(h.actions, action{name: name, fn: fn})
	start := !h.acting
	h.acting = true
	h.mu.Unlock()
	if start {
		w.wg.Add(1)
		go w.runActions()
	}
}

// runActions runs the queued actions in order until none is left; once the
// window closes it drops the rest.
func (w *Window) runActions() {
	defer w.wg.Done()
	h := &w.calls
	for {
		h.mu.Lock()
		if len(h.actions) == 0 || w.ctx.Err() != nil {
			h.actions, h.acting = nil, false
			h.mu.Unlock()
			return
		}
		a := h.actions[0]
		h.actions = h.actions[1:]
		h.mu.Unlock()
		w.runAction(a)
	}
}

// runAction runs a with the controller, reporting a failed build in the
// window.
func (w *Window) runAction(a action) {
	c, err := w.controller()
	if err != nil {
		if w.ctx.Err() == nil {
			w.log.Error(a.name+" failed", "err", err)
			fyne.Do(func() {
				w.View.SetNotice(a.name + ": " + redact.Error(err))
				var fe *call.FieldError
				if errors.As(err, &fe) { // bad settings: show them next to their fields
					w.Settings.ShowErrors(call.FieldErrors(err))
					w.View.SelectTab(TabSettings)
				}
			})
		}
		return
	}
	a.fn(c)
}

// pump hands controller events to the view until the subscription ends.
// base is added to the session ids (see sessionBase).
func (w *Window) pump(events <-chan call.Event, base uint64) {
	defer w.wg.Done()
	for ev := range events {
		w.event(ev, base)
	}
}

// sessionBase returns an offset for the session ids of a new controller:
// each controller (a settings change, a QA run) counts its sessions from 1,
// and the timeline must not merge them with earlier ones.
func (w *Window) sessionBase() uint64 {
	w.calls.mu.Lock()
	defer w.calls.mu.Unlock()
	return w.calls.maxSession
}

func (w *Window) event(ev call.Event, base uint64) {
	if ev.SessionID != 0 {
		ev.SessionID += base
	}
	h := &w.calls
	h.mu.Lock()
	h.maxSession = max(h.maxSession, ev.SessionID)
	for _, ch := range h.watchers {
		select {
		case ch <- ev:
		default: // a watcher that does not keep up misses events
		}
	}
	h.mu.Unlock()
	fyne.Do(func() { w.View.Apply(ev) })
}

// Connect implements Actions.
func (w *Window) Connect() { w.act("Connect", (*call.Controller).Connect) }

// Reconnect implements Actions.
func (w *Window) Reconnect() { w.act("Reconnect", (*call.Controller).Reconnect) }

// Disconnect implements Actions.
func (w *Window) Disconnect() {
	if c := w.calls.current(); c != nil {
		c.Disconnect()
	}
}

// SendMessage implements Actions.
func (w *Window) SendMessage(text string) error {
	c := w.calls.current()
	if c == nil {
		return call.ErrNoDataChannel
	}
	return c.SendMessage(text)
}

// SetMicMuted implements Actions.
func (w *Window) SetMicMuted(m bool) {
	h := &w.calls
	h.mu.Lock()
	h.muted = m
	c := h.ctrl
	h.mu.Unlock()
	if c != nil {
		c.SetMicMuted(m)
	}
}

// SetCameraOff implements Actions.
func (w *Window) SetCameraOff(off bool) {
	h := &w.calls
	h.mu.Lock()
	h.camOff = off
	c := h.ctrl
	h.mu.Unlock()
	if c != nil {
		c.SetCameraOff(off)
	}
}

// Events returns the events the window receives from its controllers
// (the interactive call's and a QA run's), from now on, and a function that
// ends the subscription.
func (w *Window) Events() (<-chan call.Event, func()) {
	h := &w.calls
	ch := make(chan call.Event, 1024)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers == nil {
		h.watchers = map[int]chan call.Event{}
	}
	id := h.watchSeq
	h.watchSeq++
	h.watchers[id] = ch
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watchers, id)
	}
}

// AwaitState runs action (a click, say) and waits until the window reports
// state s after it, or ctx ends.
func (w *Window) AwaitState(ctx context.Context, s call.State, action func()) error {
	events, stop := w.Events()
	defer stop()
	if action != nil {
		action()
	}
	if _, err := call.Await(ctx, events, call.IsState(s), nil); err != nil {
		return fmt.Errorf("waiting for %s: %w", s, err)
	}
	return nil
}

// applySettings saves new settings; the next Connect uses them.
func (w *Window) applySettings(s call.Settings) {
	SaveSettings(w.app.Preferences(), s)
	w.calls.mu.Lock()
	w.calls.settings = s
	w.calls.dirty = true
	w.calls.mu.Unlock()
	if s.Mode == call.ModeDemo {
		w.startDemo()
	}
	w.log.Info("settings saved", "mode", s.Mode, "channel", s.Channel, "region", s.Region)
}
