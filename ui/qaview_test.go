package ui

import (
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
)

func cycle(n int, ok, recovered bool, ttff time.Duration) qa.Cycle {
	c := qa.Cycle{N: n, OK: ok, Recovered: recovered, Attempts: 1, Goroutines: 40 + n, FDs: 20, RSSKB: 50000}
	if ok {
		c.Phases.Set(call.PhaseFirstFrame, ttff)
		c.Phases.Set(call.PhaseTeardown, 40*time.Millisecond)
	} else {
		c.Failures = []call.Class{call.ClassNoAnswer}
		c.Err = "no first frame"
	}
	if recovered {
		c.Attempts = 2
		c.Failures = []call.Class{call.ClassICEFailed}
	}
	return c
}

func TestQAView(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	v := NewQAView(w)
	w.SetContent(v)
	w.Resize(fyne.NewSize(1200, 800))
	var started []QARequest
	stops := 0
	v.OnStart = func(r QARequest) { started = append(started, r) }
	v.OnStop = func() { stops++ }
	v.CheckFaults = func(s string) error {
		if s != "drop-offers=1" {
			return errFault
		}
		return nil
	}

	v.Cycles.SetText("0")
	v.Viewers.SetText("11")
	v.Hold.SetText("forever")
	v.Faults.SetText("explode")
	test.Tap(v.Start)
	if len(started) != 0 || !strings.Contains(v.FormError.Text, "cycles") || !strings.Contains(v.FormError.Text, "hold") || !strings.Contains(v.FormError.Text, "fault profile") ||
		!strings.Contains(v.FormError.Text, "viewers: from 1 to 10") {
		t.Fatalf("bad form started %v; error %q", started, v.FormError.Text)
	}
	v.Cycles.SetText("4")
	v.Viewers.SetText("1")
	v.Hold.SetText("1s")
	v.Gap.SetText("0")
	v.Faults.SetText("drop-offers=1")
	test.Tap(v.Reconnect)
	test.Tap(v.Start)
	if len(started) != 1 || started[0] != (QARequest{Cycles: 4, Viewers: 1, Hold: time.Second, Faults: "drop-offers=1", Reconnect: true}) || v.FormError.Text != "" {
		t.Fatalf("started %+v, error %q", started, v.FormError.Text)
	}

	v.Begin(4)
	if !v.Start.Disabled() || v.Stop.Disabled() || !v.ExportJSON.Disabled() {
		t.Error("buttons while running")
	}
	cs := []qa.Cycle{cycle(1, true, false, 300*time.Millisecond), cycle(2, true, true, 900*time.Millisecond), cycle(3, false, false, 0)}
	cs[0].Phases.Set(call.PhaseClientIDWait, 300*time.Millisecond) // waited for a ClientId: not part of its TTFF
	for _, c := range cs {
		v.AddCycle(c)
	}
	if v.Progress.Value != 3 || v.Progress.Max != 4 {
		t.Errorf("progress %v/%v", v.Progress.Value, v.Progress.Max)
	}
	if !strings.HasPrefix(v.Summary.Text, "3/4 cycles · 2 ok (1 after a retry) · 1 failed") {
		t.Errorf("summary %q", v.Summary.Text)
	}
	if v.Resources.Text != "Since cycle 1: goroutines +2 · open files +0 · RSS +0.0 MB" {
		t.Errorf("resources %q", v.Resources.Text)
	}
	if got := []string{QACell(cs[0], 1), QACell(cs[1], 1), QACell(cs[2], 1), QACell(cs[1], 3), QACell(cs[2], 3), QACell(cs[0], 4), QACell(cs[1], 4), QACell(cs[1], 6)}; !slices.Equal(got,
		[]string{"ok", "recovered", "failed", "900 ms", "–", "300 ms", "–", "ice_failed"}) {
		t.Errorf("cells %v", got)
	}
	test.Tap(v.Stop)
	if stops != 1 {
		t.Errorf("stop taps %d", stops)
	}

	// The chart: bar heights follow TTFF, the failed cycle is a full red bar.
	img := v.drawChart(300, 100).(*image.RGBA)
	if got := img.RGBAAt(50, 99); got != chartOK {
		t.Errorf("cycle 1 bar bottom %v", got)
	}
	if got := img.RGBAAt(50, 100-100*300/900+2); got != chartOK {
		t.Errorf("cycle 1 bar top %v", got)
	}
	if got := img.RGBAAt(50, 100-100*450/900); got != chartWait {
		t.Errorf("cycle 1's wait for a ClientId, stacked on its TTFF: %v", got)
	}
	if got := img.RGBAAt(50, 100-100*300/900-3); got == chartOK {
		t.Error("cycle 1 bar too high")
	}
	if got := img.RGBAAt(150, 1); got != chartRetry {
		t.Errorf("cycle 2 (recovered, the tallest) %v", got)
	}
	if got := img.RGBAAt(250, 1); got != chartFail {
		t.Errorf("cycle 3 (failed) %v", got)
	}
	if lo, hi, counts := v.histData(); lo != 300*time.Millisecond || hi != 900*time.Millisecond || len(counts) != histogramBins || counts[0] != 1 || counts[histogramBins-1] != 1 {
		t.Errorf("histogram data %v-%v %v", lo, hi, counts)
	}
	if v.histAxis.Text != "300 ms – 900 ms in 20 bins · tallest 1" {
		t.Errorf("histogram axis %q", v.histAxis.Text)
	}

	rep := qa.Report{Cycles: 3, OK: 2, Failed: 1, Recovered: 1, Failures: map[call.Class]int{call.ClassNoAnswer: 1, call.ClassICEFailed: 1},
		Phases:    map[call.Phase]qa.Percentiles{call.PhaseFirstFrame: {N: 2, P50: 300 * time.Millisecond, P95: 900 * time.Millisecond, Max: 900 * time.Millisecond}},
		Resources: qa.Resources{GoroutinesDelta: 1, GoroutinesMaxDelta: 3, FDsDelta: 0, FDsMaxDelta: 2, RSSBaselineKB: 204800, RSSEndKB: 205312, RSSDeltaKB: 512}, Results: cs}
	v.Finish(rep, nil)
	if v.Start.Disabled() || !v.Stop.Disabled() || v.ExportJSON.Disabled() || v.ExportCSV.Disabled() || v.Report() == nil {
		t.Error("buttons after the run")
	}
	wantSummary := "3 cycles · 2 ok · 1 recovered · 1 failed · failed attempts: ice_failed 1, no_answer 1\nFirst frame: p50 300 ms · p95 900 ms · max 900 ms"
	if v.Summary.Text != wantSummary {
		t.Errorf("summary %q", v.Summary.Text)
	}
	if want := "After teardown, against cycle 1: goroutines +1 (max +3) · open files +0 (max +2) · RSS 200.0 → 200.5 MB (+0.5 MB)"; v.Resources.Text != want {
		t.Errorf("resources %q", v.Resources.Text)
	}
	// Long texts wrap or truncate: the tab never forces the window wider than 1280.
	if size := v.MinSize(); size.Width > 1200 {
		t.Errorf("QA tab needs %v", size)
	}
}

type faultErr struct{}

func (faultErr) Error() string { return "unknown fault" }

var errFault = faultErr{}

// TestQAViewSeveralViewers: a run of several viewers shows whose cycle each
// row is, a line per viewer in the summary, and the load per viewer.
func TestQAViewSeveralViewers(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	v := NewQAView(w)
	w.SetContent(v)
	v.Begin(4)
	var cs []qa.Cycle
	for i, viewer := range []int{1, 2, 1, 2} {
		c := cycle(1+i/2, true, false, time.Duration(200+100*i)*time.Millisecond)
		c.Viewer = viewer
		c.Phases.Set(call.PhaseAnswerReceived, 120*time.Millisecond)
		cs = append(cs, c)
		v.AddCycle(c)
	}
	if !strings.HasPrefix(v.latAxis.Text, "no readings") {
		t.Errorf("latency axis without readings: %q", v.latAxis.Text)
	}
	if got := QACell(cs[3], 0); got != "2 (v2)" {
		t.Errorf("the row of viewer 2's second cycle says %q", got)
	}
	rep := qa.Report{Cycles: 4, OK: 4, Viewers: 2, Results: cs,
		PerViewer: []qa.ViewerSummary{
			{Viewer: 1, Cycles: 2, OK: 2, FirstFrame: qa.Percentiles{N: 2, P50: 200 * time.Millisecond, P95: 400 * time.Millisecond}, Answer: qa.Percentiles{N: 2, P50: 120 * time.Millisecond}},
			{Viewer: 2, Cycles: 2, OK: 1, Failed: 1, Failures: map[call.Class]int{call.ClassViewerLimit: 3}},
		},
		Load: &qa.Load{CPUPercentPerViewer: 12.5, RSSPeakKB: 200 << 10, RSSPerViewerKB: 15 << 10}}
	rep.Results[0].Latency, rep.Results[2].Latency = 40*time.Millisecond, 60*time.Millisecond
	rep.AVSync = &qa.Percentiles{N: 2, P50: 25 * time.Millisecond, P95: 31 * time.Millisecond, Max: 31 * time.Millisecond}
	v.Finish(rep, nil)
	if v.latAxis.Text != "0 – 60 ms · 2 of 4 cycles read · capture to decode" {
		t.Errorf("latency axis %q", v.latAxis.Text)
	}
	img := v.drawLatency(40, 100).(*image.RGBA)
	if bar := img.RGBAAt(5, 95); bar == img.RGBAAt(15, 95) {
		t.Errorf("the first cycle's 40 ms bar and the second cycle's missing one look the same (%v)", bar)
	}
	for _, want := range []string{"Viewer 1: 2 ok · 0 failed · first frame p50 200 ms", "Viewer 2: 1 ok · 1 failed", "viewer_limit 3",
		"A/V sync (audio after video; negative: before; from the master's flash and beep): p50 25 ms · p95 31 ms · max 31 ms"} {
		if !strings.Contains(v.Summary.Text, want) {
			t.Errorf("summary %q lacks %q", v.Summary.Text, want)
		}
	}
	if !strings.Contains(v.Resources.Text, "CPU 12.5% of a core · RSS 15.0 MB (peak 200.0 MB)") {
		t.Errorf("resources %q", v.Resources.Text)
	}
}
