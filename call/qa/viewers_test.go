package qa_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// TestTenViewersAndARefusedEleventh: eleven viewers start at once against
// one channel of the demo (the service's limit is ten). Ten reach their
// first frame and hold the call; the eleventh is refused with the class
// viewer_limit, retried with backoff rather than in a tight loop, and fails.
// The report has a summary per viewer and the load per viewer.
func TestTenViewersAndARefusedEleventh(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := demo.Start(context.Background(), demo.Options{Width: 320, Height: 240, FPS: 15, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	cfg := call.Config{
		AWS: d.AWSOptions(), Channel: d.Channel(),
		// A loaded machine answers ten offers slowly: no attempt may fail for
		// that, or its slot would go to the eleventh.
		AnswerTimeout: 20 * time.Second, MaxAnswerTimeout: 20 * time.Second,
		RetryLimit: 3, BackoffMin: 200 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		Media:  capture.Options{Video: "test", Audio: "tone", Width: 160, Height: 120, FPS: 15},
		Logger: log,
	}
	var progress []qa.Cycle
	rep, err := qa.Run(context.Background(), qa.Options{
		Viewers: 11, Cycles: 1, Hold: 6 * time.Second, Config: cfg,
		Progress: func(c qa.Cycle) { progress = append(progress, c) },
	})
	if err != nil {
		t.Fatalf("qa.Run: %v", err)
	}
	if rep.Viewers != 11 || rep.Cycles != 11 || len(rep.PerViewer) != 11 || len(progress) != 11 {
		t.Fatalf("viewers %d, cycles %d, per-viewer %d, progress %d: want 11 of each", rep.Viewers, rep.Cycles, len(rep.PerViewer), len(progress))
	}
	for _, c := range rep.Results {
		t.Logf("viewer %d: ok %v attempts %d failures %v phases %v", c.Viewer, c.OK, c.Attempts, c.Failures, c.PhasesMillis())
	}
	if rep.OK != 10 || rep.Failed != 1 {
		t.Fatalf("%d ok, %d failed, want 10 and 1; failures %v", rep.OK, rep.Failed, rep.Failures)
	}
	for _, c := range rep.Results {
		if c.OK {
			continue
		}
		if len(c.Failures) == 0 || c.Failures[len(c.Failures)-1] != call.ClassViewerLimit {
			t.Errorf("the refused viewer %d failed with %v (%s), want %s", c.Viewer, c.Failures, c.Err, call.ClassViewerLimit)
		}
		if c.Attempts > cfg.RetryLimit+1 {
			t.Errorf("the refused viewer made %d attempts, more than the %d retries allowed", c.Attempts, cfg.RetryLimit)
		}
		t.Logf("viewer %d: %d attempts, %v: %s", c.Viewer, c.Attempts, c.Failures, c.Err)
	}
	for _, c := range rep.Results {
		if c.OK && (c.Latency <= 0 || c.LatencyP95 < c.Latency) {
			t.Errorf("viewer %d: latency %s (p95 %s): the demo master's stamped frames were not read", c.Viewer, c.Latency, c.LatencyP95)
		}
	}
	if rep.Latency == nil || rep.Latency.N != 10 {
		t.Errorf("run latency %+v, want the 10 live calls'", rep.Latency)
	}
	var ids []string
	for _, v := range rep.PerViewer {
		if v.OK == 1 && v.FirstFrame.N != 1 {
			t.Errorf("viewer %d: ok but no first frame time: %+v", v.Viewer, v)
		}
		for _, c := range rep.Results {
			if c.Viewer == v.Viewer && c.OK {
				ids = append(ids, c.ClientID)
			}
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 10 {
		t.Errorf("the ten live viewers used ClientIds %v, want ten different ones", ids)
	}
	if rep.Load == nil || rep.Load.CPUPercentPerViewer <= 0 || rep.Load.RSSPeakKB <= 0 {
		t.Errorf("load %+v", rep.Load)
	}
	t.Logf("first frame p50 %s p95 %s; load per viewer %+v", rep.Phases[call.PhaseFirstFrame].P50, rep.Phases[call.PhaseFirstFrame].P95, *rep.Load)
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Viewers   int               `json:"viewers"`
		PerViewer []json.RawMessage `json:"per_viewer"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Viewers != 11 || len(doc.PerViewer) != 11 {
		t.Errorf("JSON report: %v, viewers %d, per_viewer %d", err, doc.Viewers, len(doc.PerViewer))
	}
}
