package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
)

// callRun is one `kvsviewer call`: connect, hold, disconnect.
type callRun struct {
	ctrl   *call.Controller
	events <-chan call.Event
	out    *call.JSONWriter
	json   bool
	last   call.Event // the last failed attempt (EventError) or final failure
}

func runCall(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	h := newHeadless(fs)
	duration := fs.Duration("duration", 10*time.Second, "how long to stay in the call after the first frame")
	connectTimeout := fs.Duration("connect-timeout", 30*time.Second, "give up when no first frame came within this long, retries included")
	asJSON := fs.Bool("json", false, "print one JSON event per line on stdout")
	snapshot := fs.String("snapshot", "", "write the first decoded remote frame to this PNG file")
	if err := fs.Parse(args); err != nil {
		return usageError{err, true}
	}
	cfg, log, stopDemo, err := h.setup(ctx)
	if err != nil {
		return err
	}
	defer stopDemo()
	ctrl, err := call.NewController(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = ctrl.Close() }() // always nil
	if *snapshot == "" {
		ctrl.DropPictures() // nothing will look at the pixels
	}
	events, unsubscribe := ctrl.Subscribe()
	defer unsubscribe()

	r := &callRun{ctrl: ctrl, events: events, out: call.NewJSONWriter(os.Stdout, time.Now()), json: *asJSON}
	ctrl.Connect()
	live := r.awaitFirstFrame(ctx, *connectTimeout)
	if live {
		if *snapshot != "" {
			if err := writeSnapshot(ctrl, *snapshot); err != nil {
				log.Error("snapshot", "error", err)
			}
		}
		live = r.hold(ctx, *duration)
	}
	r.finish()
	if !live {
		return r.failure(ctx)
	}
	return nil
}

// emit prints an event (JSON or words) and remembers failures.
func (r *callRun) emit(e call.Event) {
	if e.Kind == call.EventError || call.IsState(call.StateFailed)(e) {
		r.last = e
	}
	if r.json {
		r.out.Event(e)
	} else {
		printHuman(e)
	}
}

// awaitFirstFrame waits for the first frame, a final failure, ctx's end or
// the connect timeout, and reports whether the call is live.
func (r *callRun) awaitFirstFrame(ctx context.Context, limit time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	e, err := call.Await(wctx, r.events, func(e call.Event) bool {
		return call.IsPhase(call.PhaseFirstFrame)(e) || call.IsState(call.StateFailed)(e)
	}, r.emit)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && r.last.Class == "" {
		r.last = call.Event{Class: call.ClassTimeout, Message: fmt.Sprintf("no first frame within %s (--connect-timeout)", limit)}
	}
	return err == nil && e.Kind == call.EventPhase
}

// hold stays in the live call for d (or until ctx ends), printing the events
// and, with --json, the frame counts once a second. It reports false when
// the call failed for good meanwhile.
func (r *callRun) hold(ctx context.Context, d time.Duration) bool {
	end := time.After(d)
	frames := time.NewTicker(time.Second)
	defer frames.Stop()
	for {
		select {
		case <-ctx.Done():
			return true
		case <-end:
			return true
		case <-frames.C:
			if r.json {
				st := r.ctrl.RemoteVideo().Stats()
				r.out.WriteNow("frames", map[string]any{"decoded": st.Decoded, "dropped": st.Dropped, "fps": call.Round1(st.FPS)})
			}
		case e, ok := <-r.events:
			if !ok {
				return false
			}
			r.emit(e)
			if call.IsState(call.StateFailed)(e) {
				return false
			}
		}
	}
}

// finish disconnects and reports the teardown (within 10 s).
func (r *callRun) finish() {
	r.ctrl.Disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = call.AwaitState(ctx, r.ctrl, r.events, r.emit, call.StateIdle)
}

// failure is the command's error when the call never went live or did not
// last: its last line names the failure class.
func (r *callRun) failure(ctx context.Context) error {
	class, msg := r.last.Class, r.last.Message
	if class == "" && ctx.Err() != nil {
		class, msg = call.ClassInterrupted, "interrupted before the first frame"
	}
	if class == "" {
		class, msg = call.ClassInternal, "the call ended without a first frame"
	}
	return callFailed{class: class, message: msg}
}

// callFailed ends `call` with exit status 1; its text, printed last, starts
// with the failure class.
type callFailed struct {
	class   call.Class
	message string
}

func (e callFailed) Error() string {
	return fmt.Sprintf("call failed: %s: %s", e.class, e.message)
}

func printHuman(e call.Event) {
	switch e.Kind {
	case call.EventPhase:
		if e.Phase.IsDuration() {
			fmt.Printf("%s: %s\n", e.Phase, e.Elapsed.Round(time.Millisecond))
			return
		}
		extra := ""
		if e.Frame != nil {
			extra = fmt.Sprintf(" (%dx%d %s)", e.Frame.Width, e.Frame.Height, e.Frame.Codec)
		}
		fmt.Printf("%8.1f ms  %s%s\n", call.Millis(e.Elapsed), e.Phase, extra)
	case call.EventError:
		fmt.Printf("attempt %d failed: %s: %s\n", e.Attempt, e.Class, e.Message)
	case call.EventState:
		switch e.State {
		case call.StateRetrying:
			fmt.Printf("retry %d in %s: %s\n", e.Retry, e.Backoff.Round(time.Millisecond), e.Message)
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
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := png.Encode(fh, image.Image(img)); err != nil {
		_ = fh.Close()
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return fh.Close()
}
