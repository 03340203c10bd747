// Package qa runs connect/hold/disconnect (or reconnect) cycles through the
// call controller and reports phase percentiles, failures by class, recoveries
// and resource deltas after each teardown.
package qa

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// Options configure Run.
type Options struct {
	Cycles    int
	Hold      time.Duration // how long each cycle stays live
	Gap       time.Duration // pause between cycles
	Reconnect bool          // cycle with Reconnect from a live call instead of Disconnect+Connect
	Config    call.Config
	// CycleTimeout bounds one cycle's wait for a first frame (default: enough
	// for every retry of Config).
	CycleTimeout time.Duration
	// Progress is called after each cycle (from Run's goroutine).
	Progress func(Cycle)
	// Event is called with every controller event (from Run's goroutine).
	Event func(call.Event)
}

// Cycle is the result of one cycle.
type Cycle struct {
	N          int                          `json:"n"`
	OK         bool                         `json:"ok"`
	Recovered  bool                         `json:"recovered"`
	Attempts   int                          `json:"attempts"`
	Failures   []call.Class                 `json:"failures,omitempty"`
	Phases     map[call.Phase]time.Duration `json:"-"`
	PhasesMS   map[call.Phase]float64       `json:"phases_ms"`
	ClientID   string                       `json:"client_id,omitempty"`
	Goroutines int                          `json:"goroutines"`
	FDs        int                          `json:"fds"`
	RSSKB      int64                        `json:"rss_kb"`
	Err        string                       `json:"error,omitempty"`
}

// Percentiles summarise one phase over the cycles that reached it.
type Percentiles struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"-"`
	P95 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
}

// MarshalJSON writes the percentiles in milliseconds.
func (p Percentiles) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"n": p.N, "p50": ms(p.P50), "p95": ms(p.P95), "max": ms(p.Max)})
}

// Resources are resource figures measured after teardowns, against the
// baseline taken after the first cycle's teardown.
type Resources struct {
	GoroutinesBaseline int   `json:"goroutines_baseline"`
	GoroutinesEnd      int   `json:"goroutines_end"`
	GoroutinesDelta    int   `json:"goroutines_delta"`
	GoroutinesMaxDelta int   `json:"goroutines_max_delta"`
	FDsBaseline        int   `json:"fds_baseline"`
	FDsEnd             int   `json:"fds_end"`
	FDsDelta           int   `json:"fds_delta"`
	FDsMaxDelta        int   `json:"fds_max_delta"`
	RSSStartKB         int64 `json:"rss_start_kb"`
	RSSBaselineKB      int64 `json:"rss_baseline_kb"`
	RSSEndKB           int64 `json:"rss_end_kb"`
	RSSDeltaKB         int64 `json:"rss_delta_kb"`
	// RSSTrendKBPer100 is the least-squares slope of RSS over the second half of
	// the cycles, in kB per 100 cycles: the leak indicator once warm-up is over
	// (the first cycles grow the heaps to their working size).
	RSSTrendKBPer100 float64 `json:"rss_trend_kb_per_100_cycles"`
	CaptureOpenEnd   int     `json:"capture_open_end"` // local media (camera, mic, test sources) still open at the end
}

// Report is the outcome of a run.
type Report struct {
	Cycles    int                        `json:"cycles"`
	OK        int                        `json:"ok"`
	Failed    int                        `json:"failed"`
	Recovered int                        `json:"recovered"`
	Failures  map[call.Class]int         `json:"failures"`
	Phases    map[call.Phase]Percentiles `json:"phases"`
	Resources Resources                  `json:"resources"`
	Started   time.Time                  `json:"started"`
	Duration  time.Duration              `json:"-"`
	Results   []Cycle                    `json:"results"`
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
	ctrl, err := call.NewController(o.Config)
	if err != nil {
		return Report{}, err
	}
	defer ctrl.Close()
	events, unsubscribe := ctrl.Subscribe()
	defer unsubscribe()

	rep := Report{Failures: map[call.Class]int{}, Started: time.Now()}
	rep.Resources.RSSStartKB = rssKB()
	r := runner{ctrl: ctrl, events: events, o: o}
	for n := 1; n <= o.Cycles && ctx.Err() == nil; n++ {
		c := r.cycle(ctx, n)
		rep.Results = append(rep.Results, c)
		for _, f := range c.Failures {
			rep.Failures[f]++
		}
		if c.OK {
			rep.OK++
			if c.Recovered {
				rep.Recovered++
			}
		} else {
			rep.Failed++
		}
		if o.Progress != nil {
			o.Progress(c)
		}
		if o.Gap > 0 && n < o.Cycles {
			sleep(ctx, o.Gap)
		}
	}
	if o.Reconnect {
		ctrl.Disconnect()
		r.waitState(ctx, call.StateIdle, 30*time.Second)
	}
	rep.Cycles = len(rep.Results)
	rep.Duration = time.Since(rep.Started)
	rep.summarise()
	return rep, ctx.Err()
}

type runner struct {
	ctrl   *call.Controller
	events <-chan call.Event
	o      Options
	live   bool
}

func (r *runner) cycle(ctx context.Context, n int) Cycle {
	c := Cycle{N: n, Phases: map[call.Phase]time.Duration{}}
	if r.o.Reconnect && r.live {
		r.ctrl.Reconnect()
	} else {
		r.ctrl.Connect()
	}
	deadline := time.NewTimer(r.o.CycleTimeout)
	defer deadline.Stop()
	sessions := map[uint64]bool{}
wait:
	for {
		select {
		case <-ctx.Done():
			c.Err = ctx.Err().Error()
			break wait
		case <-deadline.C:
			c.Err = fmt.Sprintf("no first frame within %s", r.o.CycleTimeout)
			break wait
		case e, ok := <-r.events:
			if !ok {
				c.Err = "controller closed"
				break wait
			}
			r.notify(e)
			switch e.Kind {
			case call.EventError:
				c.Failures = append(c.Failures, e.Class)
			case call.EventPhase:
				if e.Phase == call.PhaseTeardown {
					continue // the previous call's teardown (reconnect mode)
				}
				sessions[e.SessionID] = true
				c.Phases[e.Phase] = e.Elapsed
				c.ClientID = e.ClientID
				if e.Phase == call.PhaseFirstFrame {
					c.OK = true
					break wait
				}
			case call.EventState:
				if e.State == call.StateFailed {
					c.Err = e.Message
					break wait
				}
			}
		}
	}
	c.Attempts = len(sessions)
	c.Recovered = c.OK && len(c.Failures) > 0
	r.live = c.OK
	if c.OK && r.o.Hold > 0 {
		r.drain(ctx, r.o.Hold)
	}
	if !r.o.Reconnect || !c.OK || n == r.o.Cycles {
		r.ctrl.Disconnect()
		if d, ok := r.waitTeardown(ctx, 30*time.Second); ok {
			c.Phases[call.PhaseTeardown] = d
		}
		r.live = false
		c.Goroutines, c.FDs, c.RSSKB = settle(ctx)
	} else {
		c.Goroutines, c.FDs, c.RSSKB = runtime.NumGoroutine(), openFDs(), rssKB()
	}
	c.PhasesMS = map[call.Phase]float64{}
	for p, d := range c.Phases {
		c.PhasesMS[p] = ms(d)
	}
	return c
}

func (r *runner) notify(e call.Event) {
	if r.o.Event != nil {
		r.o.Event(e)
	}
}

// until consumes (and forwards) events until done returns true for one, the
// limit passes or ctx ends; it reports whether done returned true.
func (r *runner) until(ctx context.Context, limit time.Duration, done func(call.Event) bool) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case e, ok := <-r.events:
			if !ok {
				return false
			}
			r.notify(e)
			if done(e) {
				return true
			}
		}
	}
}

// drain consumes events for d (the hold), so the buffer never fills.
func (r *runner) drain(ctx context.Context, d time.Duration) {
	r.until(ctx, d, func(call.Event) bool { return false })
}

// waitTeardown waits for Idle and returns the last teardown's duration.
func (r *runner) waitTeardown(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	var td time.Duration
	var got bool
	r.until(ctx, limit, func(e call.Event) bool {
		if e.Kind == call.EventPhase && e.Phase == call.PhaseTeardown {
			td, got = e.Elapsed, true
		}
		return e.Kind == call.EventState && e.State == call.StateIdle
	})
	return td, got
}

func (r *runner) waitState(ctx context.Context, s call.State, limit time.Duration) {
	if r.ctrl.State() != s {
		r.until(ctx, limit, func(e call.Event) bool { return e.Kind == call.EventState && e.State == s })
	}
}

// settle measures goroutines, open files and RSS once the counts have stopped
// changing for 200 ms (goroutines of the closed call, and of the demo master's
// side of it, exit asynchronously), waiting 3 s at most.
func settle(ctx context.Context) (int, int, int64) {
	g, f := runtime.NumGoroutine(), openFDs()
	for i, still := 0, 0; i < 120 && still < 8 && ctx.Err() == nil; i++ {
		time.Sleep(25 * time.Millisecond)
		g2, f2 := runtime.NumGoroutine(), openFDs()
		if g2 == g && f2 == f {
			still++ // unchanged for 8 polls (200 ms) in a row: settled
		} else {
			still = 0
		}
		g, f = g2, f2
	}
	// RSS counts what the process keeps, not garbage the collector has yet to
	// return: collect and hand free memory back to the OS before reading it.
	debug.FreeOSMemory()
	return g, f, rssKB()
}

func (rep *Report) summarise() {
	rep.Phases = map[call.Phase]Percentiles{}
	for _, p := range call.Phases {
		var ds []time.Duration
		for _, c := range rep.Results {
			if d, ok := c.Phases[p]; ok {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			rep.Phases[p] = percentiles(ds)
		}
	}
	var measured []Cycle
	for _, c := range rep.Results {
		if c.Goroutines > 0 {
			measured = append(measured, c)
		}
	}
	if len(measured) == 0 {
		return
	}
	res := &rep.Resources
	base, last := measured[0], measured[len(measured)-1]
	res.GoroutinesBaseline, res.FDsBaseline, res.RSSBaselineKB = base.Goroutines, base.FDs, base.RSSKB
	res.GoroutinesEnd, res.FDsEnd, res.RSSEndKB = last.Goroutines, last.FDs, last.RSSKB
	res.CaptureOpenEnd = capture.OpenCount()
	res.GoroutinesDelta = last.Goroutines - base.Goroutines
	res.FDsDelta = last.FDs - base.FDs
	res.RSSDeltaKB = last.RSSKB - base.RSSKB
	res.RSSTrendKBPer100 = 100 * slope(measured[len(measured)/2:])
	for _, c := range measured {
		res.GoroutinesMaxDelta = max(res.GoroutinesMaxDelta, c.Goroutines-base.Goroutines)
		res.FDsMaxDelta = max(res.FDsMaxDelta, c.FDs-base.FDs)
	}
}

// slope is the least-squares slope of RSS per cycle over cs.
func slope(cs []Cycle) float64 {
	if len(cs) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, c := range cs {
		x, y := float64(c.N), float64(c.RSSKB)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(cs))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

func percentiles(ds []time.Duration) Percentiles {
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.5) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Percentiles{N: len(ds), P50: at(0.50), P95: at(0.95), Max: ds[len(ds)-1]}
}

// Summary is the report as the design's one-line "summary" JSON event.
func (rep Report) Summary() map[string]any {
	phases := map[string]Percentiles{}
	for p, v := range rep.Phases {
		phases[phaseKey(p)] = v
	}
	return map[string]any{
		"event": "summary", "cycles": rep.Cycles, "ok": rep.OK, "failed": rep.Failed, "recovered": rep.Recovered,
		"failures": rep.Failures, "phases": phases, "duration_ms": ms(rep.Duration),
		"resources": map[string]any{
			"goroutines_delta": rep.Resources.GoroutinesDelta, "fds_delta": rep.Resources.FDsDelta,
			"rss_delta_kb": rep.Resources.RSSDeltaKB, "goroutines_max_delta": rep.Resources.GoroutinesMaxDelta,
			"fds_max_delta": rep.Resources.FDsMaxDelta, "rss_start_kb": rep.Resources.RSSStartKB,
			"rss_end_kb": rep.Resources.RSSEndKB, "rss_trend_kb_per_100_cycles": rep.Resources.RSSTrendKBPer100,
		},
	}
}

// phaseKey names a phase in the summary: "first_frame_ms", "teardown_ms", ...
func phaseKey(p call.Phase) string {
	return strings.TrimSuffix(strings.TrimSuffix(string(p), "_done"), "_ms") + "_ms"
}

// WriteJSON writes the whole report (summary fields plus every cycle).
func (rep Report) WriteJSON(w io.Writer) error {
	out := rep.Summary()
	out["started"] = rep.Started
	out["results"] = rep.Results
	out["resources"] = rep.Resources
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteCSV writes one row per cycle.
func (rep Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"cycle", "ok", "recovered", "attempts", "failures", "client_id"}
	for _, p := range call.Phases {
		head = append(head, phaseKey(p))
	}
	head = append(head, "goroutines", "fds", "rss_kb", "error")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, c := range rep.Results {
		var fails []string
		for _, f := range c.Failures {
			fails = append(fails, string(f))
		}
		row := []string{strconv.Itoa(c.N), strconv.FormatBool(c.OK), strconv.FormatBool(c.Recovered), strconv.Itoa(c.Attempts), strings.Join(fails, " "), c.ClientID}
		for _, p := range call.Phases {
			if d, ok := c.Phases[p]; ok {
				row = append(row, strconv.FormatFloat(ms(d), 'f', 1, 64))
			} else {
				row = append(row, "")
			}
		}
		row = append(row, strconv.Itoa(c.Goroutines), strconv.Itoa(c.FDs), strconv.FormatInt(c.RSSKB, 10), c.Err)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// rssKB is this process's resident set size.
func rssKB() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return -1
}
