package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
)

// headless are the flags every headless call command shares.
type headless struct {
	fs       *flag.FlagSet
	settings call.Settings
	verbose  bool
}

// newHeadless defines the call flags on fs: AWS mode unless --demo.
func newHeadless(fs *flag.FlagSet) *headless {
	h := &headless{fs: fs, settings: call.DefaultSettings()}
	h.settings.Mode = call.ModeAWS
	bindSettings(fs, &h.settings)
	fs.BoolVar(&h.verbose, "v", false, "debug logs on stderr")
	return h
}

// setup checks the settings and builds the controller configuration and
// logger; in Demo mode it starts the in-process emulator and master first
// (stop ends them).
func (h *headless) setup(ctx context.Context) (cfg call.Config, log *slog.Logger, stop func(), err error) {
	s := h.settings
	settleMode(h.fs, &s)
	if s.Mode == call.ModeAWS && s.Channel == "" {
		return cfg, nil, nil, usageError{error: errors.New("no channel: pass --channel NAME (or --demo)")}
	}
	if err := s.Validate(); err != nil {
		return cfg, nil, nil, usageError{error: flagErrors(err)}
	}
	log = newLogger(h.verbose)
	cfg = s.Config()
	cfg.Logger = log
	if s.Mode != call.ModeDemo {
		cfg.ClientIDs.StorePath = clientIDStore()
		return cfg, log, func() {}, nil
	}
	d, err := demo.Start(ctx, demo.Options{FaultSpec: s.Faults, Logger: log})
	if err != nil {
		if demo.CheckFaults(s.Faults) != nil {
			return cfg, nil, nil, usageError{error: fmt.Errorf("--fault: %w", err)}
		}
		return cfg, nil, nil, fmt.Errorf("demo: %w", err)
	}
	d.Configure(&cfg)
	return cfg, log, func() { _ = d.Close() }, nil
}

// flagErrors words settings errors in terms of the flags.
func flagErrors(err error) error {
	var lines []string
	for _, fe := range call.FieldErrors(err) {
		name := "--" + strings.ReplaceAll(fe.Field, "_", "-")
		switch fe.Field {
		case call.FieldVideoFormat:
			name = "--width/--height/--fps"
		case call.FieldFaults:
			name = "--fault"
		case call.FieldMode:
			name = "settings"
		}
		lines = append(lines, name+": "+fe.Message)
	}
	return errors.New(strings.Join(lines, "\n"))
}
