package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
)

// qaHost tracks the window's QA run: at most one at a time, with a
// controller of its own.
type qaHost struct {
	mu     sync.Mutex
	cancel context.CancelFunc // set while a run is under way
}

// running reports whether a QA run is under way.
func (h *qaHost) running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cancel != nil
}

// startQA runs a QA session with its own controller; the interactive call
// is ended first.
func (w *Window) startQA(r QARequest) {
	h := &w.qaRun
	h.mu.Lock()
	if h.cancel != nil {
		h.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	h.cancel = cancel
	h.mu.Unlock()
	old, oldUnsub := w.calls.take()
	s := w.calls.currentSettings()
	w.QA.Begin(r.Cycles * max(r.Viewers, 1))
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() {
			h.mu.Lock()
			h.cancel = nil
			h.mu.Unlock()
			cancel()
		}()
		_ = release(old, oldUnsub)
		rep, err := w.runQA(ctx, s, r)
		fyne.Do(func() { w.QA.Finish(rep, err) })
	}()
}

// runQA runs the QA cycles of r with settings s; in Demo mode with r's
// fault profile, restoring the window's faults afterwards.
func (w *Window) runQA(ctx context.Context, s call.Settings, r QARequest) (qa.Report, error) {
	if r.Faults != "" && s.Mode != call.ModeDemo {
		return qa.Report{}, errors.New("fault profiles need Demo mode")
	}
	if s.Mode == call.ModeDemo {
		d, err := w.waitDemo()
		if err != nil {
			return qa.Report{}, fmt.Errorf("demo mode: %w", err)
		}
		if err := d.SetFaults(r.Faults); err != nil {
			return qa.Report{}, fmt.Errorf("fault profile: %w", err)
		}
		defer func() {
			if err := d.SetFaults(s.Faults); err != nil {
				w.log.Warn("restoring demo faults", "err", err)
			}
		}()
	}
	cfg, err := w.config(s) // in Demo mode after the faults: the ClientId cooldown follows them
	if err != nil {
		return qa.Report{}, err
	}
	base := w.sessionBase()
	w.log.Info("qa run", "cycles", r.Cycles, "viewers", r.Viewers, "hold", r.Hold, "gap", r.Gap, "faults", r.Faults)
	rep, err := qa.Run(ctx, qa.Options{
		Cycles: r.Cycles, Viewers: r.Viewers, Hold: r.Hold, Gap: r.Gap, Reconnect: r.Reconnect, Config: cfg,
		Progress: func(c qa.Cycle) { fyne.Do(func() { w.QA.AddCycle(c) }) },
		Event:    func(ev call.Event) { w.event(ev, base) },
	})
	if errors.Is(err, context.Canceled) && w.ctx.Err() == nil {
		err = errors.New("stopped by the user")
	}
	return rep, err
}

// stopQA cancels a QA run under way.
func (w *Window) stopQA() {
	w.qaRun.mu.Lock()
	cancel := w.qaRun.cancel
	w.qaRun.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
