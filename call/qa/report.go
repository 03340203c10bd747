package qa

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

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
	// TeardownOverruns counts the cycles whose teardown left a step running.
	TeardownOverruns int           `json:"teardown_overruns"`
	Started          time.Time     `json:"started"`
	Duration         time.Duration `json:"-"`
	Results          []Cycle       `json:"results"`
	// Multi-viewer runs: how many viewers ran at once, each one's summary,
	// and what they cost the process.
	// Latency summarises the cycles' latency medians (pattern masters only).
	Latency *Percentiles `json:"latency_ms,omitempty"`
	// AVSync summarises the cycles' A/V offsets (positive: audio late;
	// pattern masters only).
	AVSync    *Percentiles    `json:"av_sync_ms,omitempty"`
	Viewers   int             `json:"viewers,omitempty"`
	PerViewer []ViewerSummary `json:"per_viewer,omitempty"`
	Load      *Load           `json:"load,omitempty"`
}

// PhasesMillis are the cycle's phases in milliseconds, as its JSON gives them (phases_ms).
// They are worked out when asked for rather than kept beside Phases: a report holds every
// cycle of a run, and a second map was 520 of the 1,190 bytes a cycle weighed.
func (c Cycle) PhasesMillis() map[call.Phase]float64 {
	out := make(map[call.Phase]float64, c.Phases.Len())
	for _, p := range call.Phases {
		if d, ok := c.Phases.Get(p); ok {
			out[p] = ms(d)
		}
	}
	return out
}

// MarshalJSON writes the cycle with its phases in milliseconds (phases_ms).
func (c Cycle) MarshalJSON() ([]byte, error) {
	type fields Cycle // the same fields without this method
	return json.Marshal(struct {
		fields
		PhasesMS map[call.Phase]float64 `json:"phases_ms"`
	}{fields(c), c.PhasesMillis()})
}

// Fields are the cycle as the fields of a "cycle" JSON event.
func (c Cycle) Fields() map[string]any {
	f := map[string]any{"n": c.N, "ok": c.OK, "recovered": c.Recovered, "attempts": c.Attempts, "failures": c.Failures,
		"phases_ms": c.PhasesMillis(), "goroutines": c.Goroutines, "fds": c.FDs, "rss_kb": c.RSSKB, "error": c.Err}
	if len(c.TeardownOverruns) > 0 {
		f["teardown_overruns"] = c.TeardownOverruns
	}
	if c.Latency > 0 {
		f["latency_ms"], f["latency_p95_ms"] = ms(c.Latency), ms(c.LatencyP95)
	}
	if c.AVSyncSamples > 0 {
		f["av_sync_ms"], f["av_sync_samples"] = ms(c.AVSync), c.AVSyncSamples
	}
	if c.Viewer > 0 {
		f["viewer"] = c.Viewer
	}
	return f
}

// add counts one cycle's outcome.
func (rep *Report) add(c Cycle) {
	rep.Results = append(rep.Results, c)
	if len(c.TeardownOverruns) > 0 {
		rep.TeardownOverruns++
	}
	for _, f := range c.Failures {
		rep.Failures[f]++
	}
	switch {
	case !c.OK:
		rep.Failed++
	case c.Recovered:
		rep.OK++
		rep.Recovered++
	default:
		rep.OK++
	}
}

// finish closes the report once the cycles are done: their count, the
// run's duration and the summary figures.
func (rep *Report) finish() {
	rep.Cycles = len(rep.Results)
	rep.Duration = time.Since(rep.Started)
	rep.summarise()
}

// cyclesPercentiles summarises a figure of the cycles that have it (nil: none has).
func (rep *Report) cyclesPercentiles(figure func(Cycle) (time.Duration, bool)) *Percentiles {
	var ds []time.Duration
	for _, c := range rep.Results {
		if d, ok := figure(c); ok {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	pc := percentiles(ds)
	return &pc
}

func (rep *Report) summarise() {
	rep.Phases = map[call.Phase]Percentiles{}
	for _, p := range call.Phases {
		var ds []time.Duration
		for _, c := range rep.Results {
			if d, ok := c.Phases.Get(p); ok {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			rep.Phases[p] = percentiles(ds)
		}
	}
	rep.Latency = rep.cyclesPercentiles(func(c Cycle) (time.Duration, bool) { return c.Latency, c.Latency > 0 })
	rep.AVSync = rep.cyclesPercentiles(func(c Cycle) (time.Duration, bool) { return c.AVSync, c.AVSyncSamples > 0 })
	if rep.Viewers > 1 {
		return // other viewers run during each teardown: see Load instead
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

// Summary is the report's fields of the one-line "summary" JSON event.
func (rep Report) Summary() map[string]any {
	phases := map[string]Percentiles{}
	for p, v := range rep.Phases {
		phases[phaseKey(p)] = v
	}
	out := map[string]any{
		"cycles": rep.Cycles, "ok": rep.OK, "failed": rep.Failed, "recovered": rep.Recovered,
		"failures": rep.Failures, "phases": phases, "duration_ms": ms(rep.Duration),
		"teardown_overruns": rep.TeardownOverruns,
		"resources": map[string]any{
			"goroutines_delta": rep.Resources.GoroutinesDelta, "fds_delta": rep.Resources.FDsDelta,
			"rss_delta_kb": rep.Resources.RSSDeltaKB, "goroutines_max_delta": rep.Resources.GoroutinesMaxDelta,
			"fds_max_delta": rep.Resources.FDsMaxDelta, "rss_start_kb": rep.Resources.RSSStartKB,
			"rss_end_kb": rep.Resources.RSSEndKB, "rss_trend_kb_per_100_cycles": rep.Resources.RSSTrendKBPer100,
		},
	}
	if rep.Viewers > 1 {
		out["viewers"], out["per_viewer"], out["load"] = rep.Viewers, rep.PerViewer, rep.Load
	}
	if rep.Latency != nil {
		out["latency_ms"] = rep.Latency
	}
	if rep.AVSync != nil {
		out["av_sync_ms"] = rep.AVSync
	}
	return out
}

// phaseKey names a phase in the summary: "first_frame_ms", "teardown_ms", ...
func phaseKey(p call.Phase) string {
	return strings.TrimSuffix(strings.TrimSuffix(string(p), "_done"), "_ms") + "_ms"
}

// WriteJSON writes the whole report (summary fields plus every cycle).
func (rep Report) WriteJSON(w io.Writer) error {
	out := rep.Summary()
	out["event"] = "summary"
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
	head = append(head, "goroutines", "fds", "rss_kb", "error", "teardown_overruns", "viewer", "latency_ms", "latency_p95_ms", "av_sync_ms")
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
			if d, ok := c.Phases.Get(p); ok {
				row = append(row, strconv.FormatFloat(ms(d), 'f', 1, 64))
			} else {
				row = append(row, "")
			}
		}
		row = append(row, strconv.Itoa(c.Goroutines), strconv.Itoa(c.FDs), strconv.FormatInt(c.RSSKB, 10), c.Err, strings.Join(c.TeardownOverruns, " "), strconv.Itoa(max(c.Viewer, 1)),
			optMS(c.Latency), optMS(c.LatencyP95), avSyncMS(c))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func ms(d time.Duration) float64 { return call.Millis(d) }

// avSyncMS is the cycle's A/V offset in milliseconds (signed), or "" when
// it was not measured.
func avSyncMS(c Cycle) string {
	if c.AVSyncSamples == 0 {
		return ""
	}
	return strconv.FormatFloat(ms(c.AVSync), 'f', 1, 64)
}

// optMS is d in milliseconds, or "" for none.
func optMS(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatFloat(ms(d), 'f', 1, 64)
}
