// Package qa runs connect/hold/disconnect (or reconnect) cycles through the
// call controller and reports phase percentiles, failures by class, recoveries
// and resource deltas after each teardown.
package qa

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
)

// Options configure Run.
type Options struct {
	Cycles    int
	Hold      time.Duration // how long each cycle stays live
	Gap       time.Duration // pause between cycles
	Reconnect bool          // cycle with Reconnect from a live call instead of Disconnect+Connect
	// Viewers run at once, each with a controller of its own making Cycles
	// cycles (1 when zero); the n-th starts (n-1)*Stagger after the first.
	Viewers int
	Stagger time.Duration
	Config  call.Config
	// CycleTimeout bounds one cycle's wait for a first frame (default: enough
	// for every retry of Config).
	CycleTimeout time.Duration
	// Progress is called after each cycle (from Run's goroutine, one at a time).
	Progress func(Cycle)
	// Event is called with every controller event (from one goroutine; with
	// several viewers, with the first one's events only).
	Event func(call.Event)
}

// Cycle is the result of one cycle.
type Cycle struct {
	N          int             `json:"n"`
	Viewer     int             `json:"viewer,omitempty"` // multi-viewer runs: which viewer, from 1
	OK         bool            `json:"ok"`
	Recovered  bool            `json:"recovered"`
	Attempts   int             `json:"attempts"`
	Failures   []call.Class    `json:"failures,omitempty"`
	Phases     call.PhaseTimes `json:"-"` // written as phases_ms (MarshalJSON)
	ClientID   string          `json:"client_id,omitempty"`
	Goroutines int             `json:"goroutines"`
	FDs        int             `json:"fds"`
	RSSKB      int64           `json:"rss_kb"`
	Err        string          `json:"error,omitempty"`
	// TeardownOverruns names the teardown steps that overran their limit
	// (and were left running) when the cycle's call was torn down.
	TeardownOverruns []string `json:"teardown_overruns,omitempty"`
	// Latency and LatencyP95 are the last latency figures of the call (the
	// master's stamped frames' age when decoded; 0 without a pattern master).
	Latency    time.Duration `json:"-"`
	LatencyP95 time.Duration `json:"-"`
	// AVSync is the call's last A/V offset (how much later its audio is
	// presented than its video; negative: early) and AVSyncSamples how many
	// flash-beep pairs it covers (0: not measured, without a pattern master).
	AVSync        time.Duration `json:"-"`
	AVSyncSamples int           `json:"-"`
}

// Run makes o.Cycles calls and reports on them. It stops early, with the
// cycles done so far, when ctx ends.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Cycles <= 0 {
		return Report{}, errors.New("qa: cycles must be at least 1")
	}
	cfg := o.Config.WithDefaults()
	if o.CycleTimeout == 0 {
		o.CycleTimeout = time.Duration(cfg.RetryLimit+1)*(cfg.AnswerTimeout+cfg.ICEConnectTimeout+cfg.BackoffMax) + 30*time.Second
	}
	if o.Viewers > 1 {
		return runViewers(ctx, o)
	}
	rep := Report{Failures: map[call.Class]int{}, Started: time.Now()}
	rep.Resources.RSSStartKB = rssKB()
	err := runCycles(ctx, o, false, func(c Cycle) {
		rep.add(c)
		if o.Progress != nil {
			o.Progress(c)
		}
	})
	if err != nil {
		return Report{}, err
	}
	rep.finish()
	return rep, ctx.Err()
}

// runCycles makes o.Cycles calls with a controller of its own, handing each
// cycle to emit as it ends; it fails only when the controller cannot be
// made. concurrent says that other viewers run in the process meanwhile.
func runCycles(ctx context.Context, o Options, concurrent bool, emit func(Cycle)) error {
	ctrl, err := call.NewController(o.Config)
	if err != nil {
		return err
	}
	defer func() { _ = ctrl.Close() }() // always nil
	// A QA cycle measures the frames; nothing shows them.
	ctrl.DropPictures()
	events, unsubscribe := ctrl.Subscribe()
	defer unsubscribe()
	r := runner{ctrl: ctrl, events: events, o: o, concurrent: concurrent}
	for n := 1; n <= o.Cycles && ctx.Err() == nil; n++ {
		emit(r.cycle(ctx, n))
		if o.Gap > 0 && n < o.Cycles {
			r.drain(ctx, o.Gap)
		}
	}
	if o.Reconnect {
		ctrl.Disconnect()
		r.wait(ctx, 30*time.Second, call.StateIdle)
	}
	return nil
}

type runner struct {
	ctrl   *call.Controller
	events <-chan call.Event
	o      Options
	live   bool
	// lat is the latest stats event's latency figures of the cycle.
	lat, latP95 time.Duration
	// av and avN are the latest stats event's A/V offset of the cycle.
	av  time.Duration
	avN int
	// concurrent: other viewers run in this process, so the resources are
	// read as they are instead of waiting for them to settle.
	concurrent bool
}

func (r *runner) cycle(ctx context.Context, n int) Cycle {
	c := Cycle{N: n}
	r.lat, r.latP95 = 0, 0
	r.av, r.avN = 0, 0
	if r.o.Reconnect && r.live {
		r.ctrl.Reconnect()
	} else {
		r.ctrl.Connect()
	}
	r.awaitFirstFrame(ctx, &c)
	r.live = c.OK
	if c.OK && r.o.Hold > 0 {
		r.drain(ctx, r.o.Hold)
	}
	c.Latency, c.LatencyP95 = r.lat, r.latP95
	c.AVSync, c.AVSyncSamples = r.av, r.avN
	if !r.o.Reconnect || !c.OK || n == r.o.Cycles {
		r.ctrl.Disconnect()
		if td, ok := r.awaitTeardown(ctx, 30*time.Second); ok {
			c.Phases.Set(call.PhaseTeardown, td.Elapsed)
			c.TeardownOverruns = td.Overruns
		}
		r.live = false
		if !r.concurrent {
			c.Goroutines, c.FDs, c.RSSKB = settle(ctx)
		}
	}
	if c.Goroutines == 0 {
		c.Goroutines, c.FDs, c.RSSKB = runtime.NumGoroutine(), openFDs(), rssKB()
	}
	return c
}

// awaitFirstFrame records the cycle's phases, failed attempts and sessions
// until its first frame, a final failure, the cycle timeout or ctx's end.
func (r *runner) awaitFirstFrame(ctx context.Context, c *Cycle) {
	sessions := map[uint64]bool{}
	record := func(e call.Event) {
		r.notify(e)
		switch e.Kind {
		case call.EventError:
			c.Failures = append(c.Failures, e.Class)
		case call.EventPhase:
			if e.Phase == call.PhaseTeardown {
				return // the previous call's teardown (reconnect mode)
			}
			if e.SessionID != 0 {
				sessions[e.SessionID] = true
				c.ClientID = e.ClientID
			}
			c.Phases.Set(e.Phase, e.Elapsed)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, r.o.CycleTimeout)
	defer cancel()
	e, err := call.Await(wctx, r.events, func(e call.Event) bool {
		return call.IsPhase(call.PhaseFirstFrame)(e) || call.IsState(call.StateFailed)(e)
	}, record)
	switch {
	case err == nil && e.Kind == call.EventPhase:
		c.OK = true
	case err == nil:
		c.Err = e.Message
	case ctx.Err() != nil:
		c.Err = ctx.Err().Error()
	case errors.Is(err, call.ErrEventsClosed):
		c.Err = "controller closed"
	default:
		c.Err = fmt.Sprintf("no first frame within %s", r.o.CycleTimeout)
	}
	c.Attempts = len(sessions)
	c.Recovered = c.OK && len(c.Failures) > 0
}

func (r *runner) notify(e call.Event) {
	if e.Kind == call.EventStats && e.Stats != nil && e.Stats.LatencySamples > 0 {
		r.lat, r.latP95 = e.Stats.Latency, e.Stats.LatencyP95
	}
	if e.Kind == call.EventStats && e.Stats != nil && e.Stats.AVSyncSamples > 0 {
		r.av, r.avN = e.Stats.AVSync, e.Stats.AVSyncSamples
	}
	if r.o.Event != nil {
		r.o.Event(e)
	}
}

// drain forwards events for d (the hold, the gap), so the buffer never fills.
func (r *runner) drain(ctx context.Context, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, _ = call.Await(wctx, r.events, func(call.Event) bool { return false }, r.notify)
}

// awaitTeardown waits for Idle and returns the last teardown's event.
func (r *runner) awaitTeardown(ctx context.Context, limit time.Duration) (call.Event, bool) {
	var td call.Event
	var got bool
	r.wait(ctx, limit, call.StateIdle, func(e call.Event) {
		if call.IsPhase(call.PhaseTeardown)(e) {
			td, got = e, true
		}
	})
	return td, got
}

// wait forwards events until the controller is in state s, limit passes or
// ctx ends; each also sees every event.
func (r *runner) wait(ctx context.Context, limit time.Duration, s call.State, each ...func(call.Event)) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	_, _ = call.AwaitState(wctx, r.ctrl, r.events, func(e call.Event) {
		r.notify(e)
		for _, f := range each {
			f(e)
		}
	}, s)
}
