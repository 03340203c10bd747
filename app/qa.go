package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
)

func runQA(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("qa", flag.ContinueOnError)
	var f callFlags
	f.register(fs)
	cycles := fs.Int("cycles", 10, "number of connect/hold/disconnect cycles")
	hold := fs.Duration("hold", time.Second, "how long each call stays live")
	gap := fs.Duration("gap", 0, "pause between cycles")
	reconnect := fs.Bool("reconnect", false, "cycle with Reconnect from the live call instead of Disconnect+Connect")
	asJSON := fs.Bool("json", false, "print JSON events per line on stdout, ending with a summary")
	outPath := fs.String("out", "", "write the JSON report here")
	csvPath := fs.String("csv", "", "write one CSV row per cycle here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.video == "auto" {
		f.video = "test" // QA measures the call, not a camera that may be busy
	}
	if f.audio == "auto" {
		f.audio = "tone"
	}
	cfg, _, stopDemo, err := f.setup(ctx)
	if err != nil {
		return err
	}
	defer stopDemo()
	out := newJSONEvents(os.Stdout)
	o := qa.Options{Cycles: *cycles, Hold: *hold, Gap: *gap, Reconnect: *reconnect, Config: cfg}
	o.Progress = func(c qa.Cycle) {
		if *asJSON {
			out.write(msOf(time.Since(out.start)), "cycle", map[string]any{"n": c.N, "ok": c.OK, "recovered": c.Recovered,
				"attempts": c.Attempts, "failures": c.Failures, "phases_ms": c.PhasesMS, "goroutines": c.Goroutines, "fds": c.FDs, "rss_kb": c.RSSKB, "error": c.Err})
			return
		}
		progressBar(os.Stderr, c, *cycles)
	}
	if *asJSON {
		o.Event = func(e call.Event) {
			if e.Kind != call.EventStats {
				out.event(e)
			}
		}
	}
	rep, err := qa.Run(ctx, o)
	if !*asJSON {
		fmt.Fprintln(os.Stderr)
	}
	if *outPath != "" {
		if werr := writeFile(*outPath, rep.WriteJSON); werr != nil {
			return werr
		}
	}
	if *csvPath != "" {
		if werr := writeFile(*csvPath, rep.WriteCSV); werr != nil {
			return werr
		}
	}
	if *asJSON {
		sum := rep.Summary()
		sum["t_ms"] = msOf(time.Since(out.start))
		_ = out.enc.Encode(sum)
	} else {
		printReport(rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return exitCode(1)
	}
	return nil
}

func writeFile(path string, write func(w io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fh.Close()
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
	fmt.Fprintf(w, "\r[%s%s] %d/%d last: %s%s   ", strings.Repeat("#", done), strings.Repeat(".", width-done), c.N, total, status, ttff)
}

func printReport(rep qa.Report) {
	fmt.Printf("cycles %d  ok %d  failed %d  recovered %d  in %s\n", rep.Cycles, rep.OK, rep.Failed, rep.Recovered, rep.Duration.Round(time.Second))
	for class, n := range rep.Failures {
		fmt.Printf("  failures %-22s %d\n", class, n)
	}
	fmt.Printf("%-20s %6s %9s %9s %9s\n", "phase", "n", "p50 ms", "p95 ms", "max ms")
	for _, p := range call.Phases {
		if v, ok := rep.Phases[p]; ok {
			fmt.Printf("%-20s %6d %9.1f %9.1f %9.1f\n", p, v.N, msOf(v.P50), msOf(v.P95), msOf(v.Max))
		}
	}
	r := rep.Resources
	fmt.Printf("after teardown vs first cycle: goroutines %+d (max %+d), open files %+d (max %+d), RSS %+d kB (start %d kB, end %d kB), RSS trend over the second half %+.0f kB/100 cycles, capture sources open %d\n",
		r.GoroutinesDelta, r.GoroutinesMaxDelta, r.FDsDelta, r.FDsMaxDelta, r.RSSDeltaKB, r.RSSStartKB, r.RSSEndKB, r.RSSTrendKBPer100, r.CaptureOpenEnd)
}
