package ui

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
)

// demoHost holds the emulator and demo master of Demo mode, started in the
// background at most once per window.
type demoHost struct {
	mu   sync.Mutex
	d    *demo.Demo
	err  error
	done chan struct{} // closed when the start has ended; nil before startDemo
}

// startDemo starts the emulator and demo master in the background, once.
func (w *Window) startDemo() {
	h := &w.demo
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done != nil {
		return
	}
	done := make(chan struct{})
	h.done = done
	go func() {
		defer close(done)
		faults := w.calls.currentSettings().Faults
		d, err := demo.Start(w.ctx, demo.Options{FaultSpec: faults, Logger: w.log.With("component", "demo")})
		h.mu.Lock()
		h.d, h.err = d, err
		h.mu.Unlock()
		if err != nil {
			w.log.Error("demo did not start", "err", err)
			return
		}
		w.log.Info("demo running", "channel", d.Channel())
	}()
}

// waitDemo waits for the demo to be up.
func (w *Window) waitDemo() (*demo.Demo, error) {
	w.startDemo()
	h := &w.demo
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	select {
	case <-done:
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.d, h.err
}

// closeDemo waits for a start under way to end and closes the demo, if it
// started. Close calls it once the window's goroutines are gone.
func (w *Window) closeDemo() error {
	h := &w.demo
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	if done == nil {
		return nil
	}
	<-done
	h.mu.Lock()
	d := h.d
	h.d = nil
	h.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.Close()
}

// config builds the controller configuration for settings s: in AWS mode
// with the ClientId pool kept in the app's storage, in Demo mode pointed at
// the demo (started first when needed).
func (w *Window) config(s call.Settings) (call.Config, error) {
	if err := s.Validate(); err != nil {
		return call.Config{}, err
	}
	cfg := s.Config()
	cfg.Logger = w.log
	if s.Mode != call.ModeDemo {
		if root := w.app.Storage().RootURI(); root != nil {
			cfg.ClientIDs.StorePath = filepath.Join(root.Path(), "clientids.json")
		}
		return cfg, nil
	}
	d, err := w.waitDemo()
	if err != nil {
		return call.Config{}, fmt.Errorf("demo mode: %w", err)
	}
	d.Configure(&cfg)
	return cfg, nil
}
