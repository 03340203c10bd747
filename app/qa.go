package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/internal/reportfile"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// qaFlags are `kvsviewer qa`'s own flags, besides the call settings.
type qaFlags struct {
	cycles, viewers int
	hold, gap       time.Duration
	stagger         time.Duration
	reconnect, json bool
	out, csv        string
}

func (f *qaFlags) bind(fs *flag.FlagSet) {
	fs.IntVar(&f.cycles, "cycles", 10, "number of connect/hold/disconnect cycles (of each viewer)")
	fs.IntVar(&f.viewers, "viewers", 1, "viewers at once against the channel, each with its own controller (1 to 10, the channel's limit)")
	fs.DurationVar(&f.stagger, "stagger", 0, "with --viewers: start the viewers this far apart (0: all at once)")
	fs.DurationVar(&f.hold, "hold", time.Second, "how long each call stays live")
	fs.DurationVar(&f.gap, "gap", 0, "pause between cycles")
	fs.BoolVar(&f.reconnect, "reconnect", false, "cycle with Reconnect from the live call instead of Disconnect+Connect")
	fs.BoolVar(&f.json, "json", false, "print JSON events per line on stdout, ending with a summary")
	fs.StringVar(&f.out, "out", "", "write the JSON report here")
	fs.StringVar(&f.csv, "csv", "", "write one CSV row per cycle here")
}

// outputs are the report files asked for.
func (f *qaFlags) outputs(rep qa.Report) []reportfile.Output {
	return []reportfile.Output{{Path: f.out, Write: rep.WriteJSON}, {Path: f.csv, Write: rep.WriteCSV}}
}

func runQA(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("qa", flag.ContinueOnError)
	h := newHeadless(fs)
	// QA measures the call, not a camera or microphone that may be busy.
	h.settings.Video, h.settings.Audio = capture.SourceTest, capture.SourceTone
	var f qaFlags
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err, true}
	}
	if f.viewers < 1 || f.viewers > kvs.MaxViewersPerChannel {
		return usageError{error: fmt.Errorf("--viewers %d: from 1 to %d (a channel takes %d viewers)", f.viewers, kvs.MaxViewersPerChannel, kvs.MaxViewersPerChannel)}
	}
	// A run can last hours: a report that cannot be written must fail now.
	if err := reportfile.CheckAll(f.outputs(qa.Report{})...); err != nil {
		return usageError{error: fmt.Errorf("--out/--csv: %w", err)}
	}
	cfg, _, stopDemo, err := h.setup(ctx)
	if err != nil {
		return err
	}
	defer stopDemo()
	out := call.NewJSONWriter(os.Stdout, time.Now())
	rep, err := qa.Run(ctx, f.options(cfg, out))
	if !f.json {
		_, _ = fmt.Fprintln(os.Stderr) // end the progress bar's line
	}
	// Whatever was measured is written, an interrupted run's too.
	werr := reportfile.WriteAll(f.outputs(rep)...)
	if f.json {
		out.WriteNow("summary", rep.Summary())
	} else {
		printReport(rep)
	}
	switch {
	case werr != nil:
		return werr
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("qa interrupted after %d cycles (reports written)", rep.Cycles)
	case err != nil:
		return err
	case rep.Failed > 0:
		return qaFailed(rep)
	}
	return nil
}

// options are the QA run's options: progress as JSON lines or a bar.
func (f *qaFlags) options(cfg call.Config, out *call.JSONWriter) qa.Options {
	o := qa.Options{Cycles: f.cycles, Hold: f.hold, Gap: f.gap, Reconnect: f.reconnect, Config: cfg, Viewers: f.viewers, Stagger: f.stagger}
	done := 0
	o.Progress = func(c qa.Cycle) {
		done++
		if f.json {
			out.WriteNow("cycle", c.Fields())
			return
		}
		progressBar(os.Stderr, c, done, f.cycles*f.viewers)
	}
	if f.json {
		o.Event = func(e call.Event) {
			if e.Kind != call.EventStats {
				out.Event(e)
			}
		}
	}
	return o
}

// qaFailed is the error of a run with cycles that never reached a first
// frame; its text, printed last, names their failure classes.
func qaFailed(rep qa.Report) error {
	classes := map[string]int{}
	for _, c := range rep.Results {
		if !c.OK && len(c.Failures) > 0 {
			classes[string(c.Failures[len(c.Failures)-1])]++
		}
	}
	var parts []string
	for cl, n := range classes {
		parts = append(parts, fmt.Sprintf("%s %d", cl, n))
	}
	slices.Sort(parts)
	return fmt.Errorf("qa: %d of %d cycles failed: %s", rep.Failed, rep.Cycles, strings.Join(parts, ", "))
}

// progressBar redraws one terminal line: [#####.....] 42/200 last: ok ttff 180ms.
func progressBar(w *os.File, c qa.Cycle, n, total int) {
	const width = 30
	done := n * width / max(total, 1)
	status := "ok"
	if !c.OK {
		status = "FAILED"
	} else if c.Recovered {
		status = "recovered"
	}
	ttff := ""
	if d, ok := c.Phases.Get(call.PhaseFirstFrame); ok {
		ttff = fmt.Sprintf(" ttff %s", d.Round(time.Millisecond))
	}
	who := ""
	if c.Viewer > 0 {
		who = fmt.Sprintf(" (viewer %d)", c.Viewer)
	}
	_, _ = fmt.Fprintf(w, "\r[%s%s] %d/%d last%s: %s%s   ", strings.Repeat("#", done), strings.Repeat(".", width-done), n, total, who, status, ttff)
}

func printReport(rep qa.Report) {
	fmt.Printf("cycles %d  ok %d  failed %d  recovered %d  in %s\n", rep.Cycles, rep.OK, rep.Failed, rep.Recovered, rep.Duration.Round(time.Second))
	for class, n := range rep.Failures {
		fmt.Printf("  failures %-22s %d\n", class, n)
	}
	fmt.Printf("%-20s %6s %9s %9s %9s\n", "phase", "n", "p50 ms", "p95 ms", "max ms")
	for _, p := range call.Phases {
		if v, ok := rep.Phases[p]; ok {
			fmt.Printf("%-20s %6d %9.1f %9.1f %9.1f\n", p, v.N, call.Millis(v.P50), call.Millis(v.P95), call.Millis(v.Max))
		}
	}
	if l := rep.Latency; l != nil {
		fmt.Printf("%-20s %6d %9.1f %9.1f %9.1f   (capture to decode, read from the master's stamped pattern)\n", "latency", l.N, call.Millis(l.P50), call.Millis(l.P95), call.Millis(l.Max))
	}
	if a := rep.AVSync; a != nil {
		fmt.Printf("%-20s %6d %9.1f %9.1f %9.1f   (audio after video, negative: before; from the master's flash and beep)\n", "av_sync", a.N, call.Millis(a.P50), call.Millis(a.P95), call.Millis(a.Max))
	}
	if rep.Viewers > 1 {
		printViewers(rep)
		return
	}
	r := rep.Resources
	fmt.Printf("after teardown vs first cycle: goroutines %+d (max %+d), open files %+d (max %+d), RSS %+d kB (start %d kB, end %d kB), RSS trend over the second half %+.0f kB/100 cycles, capture sources open %d\n",
		r.GoroutinesDelta, r.GoroutinesMaxDelta, r.FDsDelta, r.FDsMaxDelta, r.RSSDeltaKB, r.RSSStartKB, r.RSSEndKB, r.RSSTrendKBPer100, r.CaptureOpenEnd)
}

// printViewers prints each viewer's line and the run's load.
func printViewers(rep qa.Report) {
	fmt.Printf("%-7s %6s %4s %6s %14s %14s  %s\n", "viewer", "cycles", "ok", "failed", "ttff p50/p95", "answer p50/p95", "failures")
	for _, v := range rep.PerViewer {
		var fails []string
		for class, n := range v.Failures {
			fails = append(fails, fmt.Sprintf("%s %d", class, n))
		}
		slices.Sort(fails)
		fmt.Printf("%-7d %6d %4d %6d %6.0f/%-7.0f %6.0f/%-7.0f  %s\n", v.Viewer, v.Cycles, v.OK, v.Failed,
			call.Millis(v.FirstFrame.P50), call.Millis(v.FirstFrame.P95), call.Millis(v.Answer.P50), call.Millis(v.Answer.P95), strings.Join(fails, ", "))
	}
	if l := rep.Load; l != nil {
		fmt.Printf("load per viewer (this process runs every viewer, and in Demo mode the master too): CPU %.1f%% of a core, RSS %d kB (peak %d kB)\n", l.CPUPercentPerViewer, l.RSSPerViewerKB, l.RSSPeakKB)
	}
}
