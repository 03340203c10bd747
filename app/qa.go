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
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/internal/reportfile"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// qaFlags are `kvsviewer qa`'s own flags, besides the call settings.
type qaFlags struct {
	cycles          int
	hold, gap       time.Duration
	reconnect, json bool
	out, csv        string
}

func (f *qaFlags) bind(fs *flag.FlagSet) {
	fs.IntVar(&f.cycles, "cycles", 10, "number of connect/hold/disconnect cycles")
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
	o := qa.Options{Cycles: f.cycles, Hold: f.hold, Gap: f.gap, Reconnect: f.reconnect, Config: cfg}
	o.Progress = func(c qa.Cycle) {
		if f.json {
			out.WriteNow("cycle", c.Fields())
			return
		}
		progressBar(os.Stderr, c, f.cycles)
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

// progressBar redraws one terminal line: [#####.....] 42/200 ok 41 failed 1.
func progressBar(w *os.File, c qa.Cycle, total int) {
	const width = 30
	done := c.N * width / max(total, 1)
	status := "ok"
	if !c.OK {
		status = "FAILED"
	} else if c.Recovered {
		status = "recovered"
	}
	ttff := ""
	if d, ok := c.Phases[call.PhaseFirstFrame]; ok {
		ttff = fmt.Sprintf(" ttff %s", d.Round(time.Millisecond))
	}
	_, _ = fmt.Fprintf(w, "\r[%s%s] %d/%d last: %s%s   ", strings.Repeat("#", done), strings.Repeat(".", width-done), c.N, total, status, ttff)
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
	r := rep.Resources
	fmt.Printf("after teardown vs first cycle: goroutines %+d (max %+d), open files %+d (max %+d), RSS %+d kB (start %d kB, end %d kB), RSS trend over the second half %+.0f kB/100 cycles, capture sources open %d\n",
		r.GoroutinesDelta, r.GoroutinesMaxDelta, r.FDsDelta, r.FDsMaxDelta, r.RSSDeltaKB, r.RSSStartKB, r.RSSEndKB, r.RSSTrendKBPer100, r.CaptureOpenEnd)
}
