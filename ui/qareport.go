package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
)

// The words and figures the QA tab shows for cycles and reports.

// liveResources shows the resource figures of the last cycle against the
// first one while a run is in progress.
func liveResources(cs []qa.Cycle) string {
	if len(cs) < 2 {
		return ""
	}
	a, b := cs[0], cs[len(cs)-1]
	return fmt.Sprintf("Since cycle 1: goroutines %+d · open files %+d · RSS %+.1f MB",
		b.Goroutines-a.Goroutines, b.FDs-a.FDs, float64(b.RSSKB-a.RSSKB)/1024)
}

// ReportSummary words a QA report's outcome and phase percentiles.
func ReportSummary(rep qa.Report) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d cycles · %d ok · %d recovered · %d failed", rep.Cycles, rep.OK, rep.Recovered, rep.Failed)
	if len(rep.Failures) > 0 {
		var fs []string
		for _, cl := range sortedClasses(rep.Failures) {
			fs = append(fs, fmt.Sprintf("%s %d", cl, rep.Failures[cl]))
		}
		sb.WriteString(" · failed attempts: " + strings.Join(fs, ", "))
	}
	for _, p := range []call.Phase{call.PhaseFirstFrame, call.PhaseTeardown} {
		if pc, ok := rep.Phases[p]; ok && pc.N > 0 {
			fmt.Fprintf(&sb, "\n%s: p50 %s · p95 %s · max %s", PhaseLabel(p), ms(pc.P50), ms(pc.P95), ms(pc.Max))
		}
	}
	if l := rep.Latency; l != nil {
		fmt.Fprintf(&sb, "\nLatency (capture to decode, from the master's stamped pattern; as good as the two machines' clocks): p50 %s · p95 %s · max %s", ms(l.P50), ms(l.P95), ms(l.Max))
	}
	if a := rep.AVSync; a != nil {
		fmt.Fprintf(&sb, "\nA/V sync (audio after video; negative: before; from the master's flash and beep): p50 %s · p95 %s · max %s", ms(a.P50), ms(a.P95), ms(a.Max))
	}
	for _, v := range rep.PerViewer {
		fmt.Fprintf(&sb, "\nViewer %d: %d ok · %d failed · first frame p50 %s · p95 %s · answer p50 %s",
			v.Viewer, v.OK, v.Failed, ms(v.FirstFrame.P50), ms(v.FirstFrame.P95), ms(v.Answer.P50))
		for _, cl := range sortedClasses(v.Failures) {
			fmt.Fprintf(&sb, " · %s %d", cl, v.Failures[cl])
		}
	}
	return sb.String()
}

// ReportResources words the resource figures of a QA report: the deltas
// after teardown, or for several viewers at once the load per viewer.
func ReportResources(rep qa.Report) string {
	if l := rep.Load; l != nil {
		return fmt.Sprintf("Load per viewer (this process runs every viewer, and in Demo mode the master too): CPU %.1f%% of a core · RSS %.1f MB (peak %.1f MB)",
			l.CPUPercentPerViewer, float64(l.RSSPerViewerKB)/1024, float64(l.RSSPeakKB)/1024)
	}
	r := rep.Resources
	return fmt.Sprintf("After teardown, against cycle 1: goroutines %+d (max %+d) · open files %+d (max %+d) · RSS %.1f → %.1f MB (%+.1f MB)",
		r.GoroutinesDelta, r.GoroutinesMaxDelta, r.FDsDelta, r.FDsMaxDelta,
		float64(r.RSSBaselineKB)/1024, float64(r.RSSEndKB)/1024, float64(r.RSSDeltaKB)/1024)
}

func sortedClasses(m map[call.Class]int) []call.Class {
	out := make([]call.Class, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// QACell formats column col of the results table for cycle c.
func QACell(c qa.Cycle, col int) string {
	switch col {
	case 0:
		if c.Viewer > 0 {
			return fmt.Sprintf("%d (v%d)", c.N, c.Viewer)
		}
		return strconv.Itoa(c.N)
	case 1:
		switch {
		case !c.OK:
			return "failed"
		case c.Recovered:
			return "recovered"
		}
		return "ok"
	case 2:
		return strconv.Itoa(c.Attempts)
	case 3:
		if d, ok := c.Phases.Get(call.PhaseFirstFrame); ok && c.OK {
			return ms(d)
		}
		return "–"
	case 4:
		if d, ok := c.Phases.Get(call.PhaseClientIDWait); ok {
			return ms(d)
		}
		return "–"
	case 5:
		if d, ok := c.Phases.Get(call.PhaseTeardown); ok {
			return ms(d)
		}
		return "–"
	case 6:
		fs := make([]string, len(c.Failures))
		for i, f := range c.Failures {
			fs[i] = string(f)
		}
		return strings.Join(fs, ", ")
	case 7:
		return strconv.Itoa(c.Goroutines)
	case 8:
		return strconv.Itoa(c.FDs)
	case 9:
		return fmt.Sprintf("%.1f", float64(c.RSSKB)/1024)
	case 10:
		return c.Err
	}
	return ""
}
