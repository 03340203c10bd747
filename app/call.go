package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// setup checks the flags and builds the controller configuration and logger;
// with --demo it starts the in-process emulator and master (stop ends them).
func (f *callFlags) setup(ctx context.Context) (cfg call.Config, log *slog.Logger, stop func(), err error) {
	if err := f.check(); err != nil {
		return cfg, nil, nil, err
	}
	log = newLogger(f.verbose)
	cfg = f.config()
	cfg.Logger = log
	stop = func() {}
	if f.demo {
		d, err := startDemo(ctx, f, &cfg, log)
		if err != nil {
			return cfg, nil, nil, err
		}
		stop = func() { _ = d.Close() }
	}
	return cfg, log, stop, nil
}

// startDemo starts the in-process emulator and master and points cfg at them.
func startDemo(ctx context.Context, f *callFlags, cfg *call.Config, log *slog.Logger) (*demo.Demo, error) {
	faults, err := emulator.ParseFaults(f.faults)
	if err != nil {
		return nil, fmt.Errorf("--fault: %w", err)
	}
	d, err := demo.Start(ctx, demo.Options{Faults: faults, Logger: log})
	if err != nil {
		return nil, err
	}
	cfg.AWS = d.AWSOptions()
	cfg.Channel = d.Channel()
	cfg.ClientIDs.Cooldown = demo.ClientIDCooldown(faults)
	cfg.ClientIDs.StorePath = "" // the demo service's pool lives only as long as it does
	return d, nil
}

// jsonEvents writes the design's one-object-per-line events.
type jsonEvents struct {
	enc   *json.Encoder
	start time.Time
}

func newJSONEvents(w io.Writer) *jsonEvents {
	return &jsonEvents{enc: json.NewEncoder(w), start: time.Now()}
}

func (j *jsonEvents) write(tms float64, event string, fields map[string]any) {
	out := map[string]any{"t_ms": tms, "event": event}
	for k, v := range fields {
		out[k] = v
	}
	_ = j.enc.Encode(out)
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// event writes e if it is one of the events of the headless interface.
func (j *jsonEvents) event(e call.Event) {
	t := msOf(e.Time.Sub(j.start))
	switch e.Kind {
	case call.EventPhase:
		f := map[string]any{"session": e.SessionID, "attempt": e.Attempt}
		if e.Phase == call.PhaseTeardown {
			f["ms"] = msOf(e.Elapsed)
		} else {
			t = msOf(e.Elapsed)
		}
		if e.Frame != nil {
			f["width"], f["height"], f["codec"] = e.Frame.Width, e.Frame.Height, e.Frame.Codec
		}
		j.write(t, string(e.Phase), f)
	case call.EventError:
		j.write(t, "error", map[string]any{"class": e.Class, "message": e.Message, "session": e.SessionID, "attempt": e.Attempt})
	case call.EventState:
		f := map[string]any{"state": e.State.String()}
		if e.State == call.StateRetrying || e.State == call.StateWaiting {
			f["retry"], f["backoff_ms"] = e.Retry, msOf(e.Backoff)
		}
		if e.Message != "" {
			f["message"] = e.Message
		}
		j.write(t, "state", f)
	case call.EventNotice:
		j.write(t, "notice", map[string]any{"message": e.Message})
	case call.EventStats:
		s := e.Stats
		j.write(t, "stats", map[string]any{"codec": s.Codec, "width": s.Width, "height": s.Height, "fps": round1(s.FPS),
			"in_kbps": round1(s.InboundKbps), "out_kbps": round1(s.OutboundKbps), "rtt_ms": msOf(s.RTT),
			"lost": s.PacketsLost, "jitter_ms": msOf(s.Jitter), "audio_packets": s.AudioPackets, "candidate": s.CandidateType})
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func runCall(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	var f callFlags
	f.register(fs)
	duration := fs.Duration("duration", 10*time.Second, "how long to stay in the call after the first frame")
	asJSON := fs.Bool("json", false, "print one JSON event per line on stdout")
	snapshot := fs.String("snapshot", "", "write the first decoded remote frame to this PNG file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, stopDemo, err := f.setup(ctx)
	if err != nil {
		return err
	}
	defer stopDemo()
	ctrl, err := call.NewController(cfg)
	if err != nil {
		return err
	}
	defer ctrl.Close()
	events, unsubscribe := ctrl.Subscribe()
	defer unsubscribe()

	out := newJSONEvents(os.Stdout)
	emit := func(e call.Event) {
		if *asJSON {
			out.event(e)
		} else {
			printHuman(e)
		}
	}
	ctrl.Connect()
	var live bool
	var end <-chan time.Time
	frames := time.NewTicker(time.Second)
	defer frames.Stop()
	for {
		select {
		case <-ctx.Done():
			return finishCall(ctrl, events, emit, live)
		case <-end:
			return finishCall(ctrl, events, emit, live)
		case <-frames.C:
			if live && *asJSON {
				st := ctrl.RemoteVideo().Stats()
				out.write(msOf(time.Since(out.start)), "frames", map[string]any{"decoded": st.Decoded, "dropped": st.Dropped, "fps": round1(st.FPS)})
			}
		case e := <-events:
			emit(e)
			if e.Kind == call.EventPhase && e.Phase == call.PhaseFirstFrame && !live {
				live = true
				end = time.After(*duration)
				if *snapshot != "" {
					if err := writeSnapshot(ctrl, *snapshot); err != nil {
						log.Error("snapshot", "error", err)
					}
				}
			}
			if e.Kind == call.EventState && e.State == call.StateFailed {
				return finishCall(ctrl, events, emit, false)
			}
		}
	}
}

// finishCall disconnects, reports the teardown and sets the exit status.
func finishCall(ctrl *call.Controller, events <-chan call.Event, emit func(call.Event), live bool) error {
	ctrl.Disconnect()
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case e := <-events:
			emit(e)
			done = e.Kind == call.EventState && e.State == call.StateIdle
		case <-timeout:
			done = true
		}
	}
	if !live {
		return exitCode(1)
	}
	return nil
}

func printHuman(e call.Event) {
	switch e.Kind {
	case call.EventPhase:
		if e.Phase == call.PhaseTeardown {
			fmt.Printf("teardown done in %s\n", e.Elapsed.Round(time.Millisecond))
			return
		}
		extra := ""
		if e.Frame != nil {
			extra = fmt.Sprintf(" (%dx%d %s)", e.Frame.Width, e.Frame.Height, e.Frame.Codec)
		}
		fmt.Printf("%8.1f ms  %s%s\n", msOf(e.Elapsed), e.Phase, extra)
	case call.EventError:
		fmt.Printf("attempt %d failed: %s: %s\n", e.Attempt, e.Class, e.Message)
	case call.EventState:
		switch e.State {
		case call.StateRetrying:
			fmt.Printf("retry %d in %s\n", e.Retry, e.Backoff.Round(time.Millisecond))
		case call.StateFailed:
			fmt.Printf("failed: %s\n", e.Message)
		case call.StateLive, call.StateIdle:
			fmt.Println(e.State)
		}
	case call.EventNotice:
		fmt.Println("note:", e.Message)
	}
}

func writeSnapshot(ctrl *call.Controller, path string) error {
	img, _, ok := ctrl.RemoteVideo().Snapshot(nil)
	if !ok {
		return fmt.Errorf("no frame yet")
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(fh, image.Image(img)); err != nil {
		fh.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return fh.Close()
}
