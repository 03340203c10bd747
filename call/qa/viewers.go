package qa

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
)

// ViewerSummary is one viewer's part of a multi-viewer run.
type ViewerSummary struct {
	Viewer     int                `json:"viewer"`
	Cycles     int                `json:"cycles"`
	OK         int                `json:"ok"`
	Failed     int                `json:"failed"`
	Failures   map[call.Class]int `json:"failures"`
	FirstFrame Percentiles        `json:"first_frame_ms"`
	Answer     Percentiles        `json:"answer_ms"`
}

// Load is what a multi-viewer run cost this process, per viewer: every
// viewer (and, in Demo mode, the master and the emulator) runs in it.
type Load struct {
	CPUPercentPerViewer float64 `json:"cpu_percent_per_viewer"` // of one core, over the run
	RSSPeakKB           int64   `json:"rss_peak_kb"`
	RSSPerViewerKB      int64   `json:"rss_per_viewer_kb"` // (peak - start) / viewers
}

// runViewers runs o.Viewers viewers at once against the channel, each with a
// controller (and so a ClientId, a peer connection, media) of its own making
// o.Cycles cycles, the n-th starting (n-1)*o.Stagger after the first. The
// cycles reach Progress, one at a time, as they end.
func runViewers(ctx context.Context, o Options) (Report, error) {
	rep := Report{Failures: map[call.Class]int{}, Started: time.Now(), Viewers: o.Viewers}
	rep.Resources.RSSStartKB = rssKB()
	cpu0 := cpuTime()
	cycles := make(chan Cycle)
	errs := startViewers(ctx, o, cycles)
	peak := rep.Resources.RSSStartKB
	for c := range cycles {
		rep.add(c)
		peak = max(peak, c.RSSKB)
		if o.Progress != nil {
			o.Progress(c)
		}
	}
	var err error
	for e := range errs {
		if e != nil && err == nil {
			err = e
		}
	}
	rep.finish()
	rep.summariseViewers()
	rep.Load = &Load{RSSPeakKB: peak, RSSPerViewerKB: (peak - rep.Resources.RSSStartKB) / int64(o.Viewers)}
	if secs := rep.Duration.Seconds(); secs > 0 {
		rep.Load.CPUPercentPerViewer = 100 * (cpuTime() - cpu0).Seconds() / secs / float64(o.Viewers)
	}
	if err == nil {
		err = ctx.Err()
	}
	return rep, err
}

// startViewers starts o.Viewers viewers, staggered, sending their cycles to
// cycles; it closes cycles, then the returned channel of their errors, once
// every viewer has ended.
func startViewers(ctx context.Context, o Options, cycles chan<- Cycle) <-chan error {
	errs := make(chan error, o.Viewers)
	var wg sync.WaitGroup
	for v := 1; v <= o.Viewers; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(ctx, time.Duration(v-1)*o.Stagger) {
				return
			}
			errs <- runViewer(ctx, o, v, cycles)
		}()
	}
	go func() {
		wg.Wait()
		close(cycles)
		close(errs)
	}()
	return errs
}

// runViewer is one viewer of a multi-viewer run: its cycles go to out.
func runViewer(ctx context.Context, o Options, viewer int, out chan<- Cycle) error {
	if viewer > 1 {
		o.Event = nil // the first viewer's events stand for the run (one call to show)
	}
	return runCycles(ctx, o, true, func(c Cycle) {
		c.Viewer = viewer
		out <- c
	})
}

// summariseViewers fills PerViewer from the results.
func (rep *Report) summariseViewers() {
	by := map[int][]Cycle{}
	for _, c := range rep.Results {
		by[c.Viewer] = append(by[c.Viewer], c)
	}
	for v := 1; v <= rep.Viewers; v++ {
		s := ViewerSummary{Viewer: v, Failures: map[call.Class]int{}}
		var ff, ans []time.Duration
		for _, c := range by[v] {
			s.Cycles++
			if c.OK {
				s.OK++
			} else {
				s.Failed++
			}
			for _, f := range c.Failures {
				s.Failures[f]++
			}
			if d, ok := c.Phases.Get(call.PhaseFirstFrame); ok {
				ff = append(ff, d)
			}
			if d, ok := c.Phases.Get(call.PhaseAnswerReceived); ok {
				ans = append(ans, d)
			}
		}
		if len(ff) > 0 {
			s.FirstFrame = percentiles(ff)
		}
		if len(ans) > 0 {
			s.Answer = percentiles(ans)
		}
		rep.PerViewer = append(rep.PerViewer, s)
	}
}

// sleepCtx waits d unless ctx ends first; it says whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
