package ui

import (
	"fmt"
	"sync"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
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
		faults, err := emulator.ParseFaults(w.o.Faults)
		if err != nil {
			h.mu.Lock()
			h.err = fmt.Errorf("demo faults: %w", err)
			h.mu.Unlock()
			return
		}
		d, err := demo.Start(w.ctx, demo.Options{Faults: faults, Logger: w.log.With("component", "demo")})
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

// config builds the controller configuration for the current settings.
func (w *Window) config(s Settings) (call.Config, error) {
	store := ""
	if root := w.app.Storage().RootURI(); root != nil {
		store = root.Path()
	}
	if s.Mode != ModeDemo {
		cfg := BuildConfig(s, nil, "", store, w.log)
		return cfg, cfg.Validate()
	}
	d, err := w.waitDemo()
	if err != nil {
		return call.Config{}, fmt.Errorf("demo mode: %w", err)
	}
	aws := d.AWSOptions()
	cfg := BuildConfig(s, &aws, d.Channel(), "", w.log)
	faults, _ := emulator.ParseFaults(w.o.Faults)
	cfg.ClientIDs.Cooldown = demo.ClientIDCooldown(faults)
	return cfg, cfg.Validate()
}
