package qa_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

func run(t *testing.T, faults emulator.Faults, o qa.Options) qa.Report {
	t.Helper()
	rep, _ := runDemo(t, faults, o)
	return rep
}

// runDemo runs o against a demo (320x240) and returns the report and the
// demo's emulator's counters after the run.
func runDemo(t *testing.T, faults emulator.Faults, o qa.Options) (qa.Report, emulator.Stats) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := demo.Start(context.Background(), demo.Options{Faults: faults, Width: 320, Height: 240, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	o.Config = call.Config{
		AWS: d.AWSOptions(), Channel: d.Channel(),
		ClientIDs:     call.ClientIDConfig{Cooldown: demo.ClientIDCooldown(faults)},
		AnswerTimeout: time.Second, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Media:  capture.Options{Video: "test", Audio: "tone", Width: 320, Height: 240},
		Logger: log,
	}
	rep, err := qa.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("qa.Run: %v", err)
	}
	return rep, d.Emulator.Stats()
}

func TestCyclesReportPhasesAndNoGrowth(t *testing.T) {
	var progress []int
	rep, stats := runDemo(t, emulator.Faults{}, qa.Options{Cycles: 8, Hold: 200 * time.Millisecond, Progress: func(c qa.Cycle) { progress = append(progress, c.N) }})
	if rep.Cycles != 8 || rep.OK != 8 || rep.Failed != 0 || len(rep.Failures) != 0 {
		t.Fatalf("report %+v, want 8/8 ok", rep)
	}
	// The demo's emulator keeps a bounded event log, whatever the run's length.
	if stats.Events > demo.EventLogSize || stats.EventsRecorded <= demo.EventLogSize {
		t.Errorf("the demo's emulator keeps %d of %d events, want at most %d of more", stats.Events, stats.EventsRecorded, demo.EventLogSize)
	}
	if len(progress) != 8 || progress[7] != 8 {
		t.Fatalf("progress calls %v", progress)
	}
	for _, p := range []call.Phase{call.PhaseOfferSent, call.PhaseAnswerReceived, call.PhaseFirstFrame, call.PhaseTeardown} {
		pc, ok := rep.Phases[p]
		if !ok || pc.N != 8 || pc.P50 <= 0 || pc.P50 > pc.P95 || pc.P95 > pc.Max {
			t.Errorf("phase %s: %+v", p, pc)
		}
	}
	if r := rep.Resources; r.GoroutinesDelta != 0 || r.FDsDelta != 0 || r.CaptureOpenEnd != 0 {
		t.Errorf("resources after teardown grew: %+v", r)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Cycles, OK int
		Phases     map[string]map[string]float64
		Results    []struct {
			N        int                `json:"n"`
			PhasesMS map[string]float64 `json:"phases_ms"`
		}
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	if decoded.Cycles != 8 || decoded.Phases["first_frame_ms"]["p95"] <= 0 || decoded.Phases["teardown_ms"]["max"] <= 0 {
		t.Fatalf("report JSON %s", js.String())
	}
	for i, c := range decoded.Results {
		ff, _ := rep.Results[i].Phases.Get(call.PhaseFirstFrame)
		if want := call.Millis(ff); c.N != i+1 || c.PhasesMS["first_frame"] != want {
			t.Errorf("cycle %d in the JSON: n %d, phases_ms %v; want first_frame %v", i+1, c.N, c.PhasesMS, want)
		}
	}
	var cs bytes.Buffer
	if err := rep.WriteCSV(&cs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(rows) != 9 {
		t.Fatalf("CSV: %d rows, err %v", len(rows), err)
	}
}

// TestDroppedOffersAreRecovered is the QA acceptance case: every third offer
// vanishes; every cycle still ends live, the failures are classed no_answer.
func TestDroppedOffersAreRecovered(t *testing.T) {
	rep := run(t, emulator.Faults{DropOfferEvery: 3}, qa.Options{Cycles: 6, Hold: 100 * time.Millisecond})
	if rep.OK != 6 || rep.Failed != 0 {
		t.Fatalf("ok %d failed %d, want 6/0: %+v", rep.OK, rep.Failed, rep.Results)
	}
	if rep.Failures[call.ClassNoAnswer] == 0 || len(rep.Failures) != 1 {
		t.Fatalf("failures %v, want only no_answer", rep.Failures)
	}
	if rep.Recovered != rep.Failures[call.ClassNoAnswer] {
		t.Fatalf("recovered %d, no_answer %d: each dropped offer is one recovered cycle", rep.Recovered, rep.Failures[call.ClassNoAnswer])
	}
}

func TestReconnectCycles(t *testing.T) {
	rep := run(t, emulator.Faults{}, qa.Options{Cycles: 5, Hold: 200 * time.Millisecond, Reconnect: true})
	if rep.OK != 5 || rep.Failed != 0 {
		t.Fatalf("ok %d failed %d, want 5/0", rep.OK, rep.Failed)
	}
}

// TestCyclesReportAVSync: each cycle held long enough reports the A/V offset
// the demo master's flashes and beeps give (about +25 ms: the audio's 20 ms
// Opus frames and Opus's look-ahead; see call's TestAVSyncMeterReadsTheMastersOffset),
// and the run's summary, the cycle events and the CSV carry it.
func TestCyclesReportAVSync(t *testing.T) {
	rep := run(t, emulator.Faults{}, qa.Options{Cycles: 2, Hold: 4 * time.Second})
	if rep.OK != 2 {
		t.Fatalf("ok %d of 2: %+v", rep.OK, rep.Results)
	}
	for _, c := range rep.Results {
		t.Logf("cycle %d: A/V %s over %d pairs", c.N, c.AVSync, c.AVSyncSamples)
		if c.AVSyncSamples == 0 || c.AVSync < 5*time.Millisecond || c.AVSync > 50*time.Millisecond {
			t.Errorf("cycle %d: A/V %s over %d pairs, want about +25 ms", c.N, c.AVSync, c.AVSyncSamples)
		}
		if f := c.Fields(); f["av_sync_ms"] != call.Millis(c.AVSync) || f["av_sync_samples"] != c.AVSyncSamples {
			t.Errorf("cycle %d's event fields %v", c.N, f)
		}
	}
	if rep.AVSync == nil || rep.AVSync.N != 2 {
		t.Fatalf("run A/V %+v, want both cycles'", rep.AVSync)
	}
	if got := rep.Summary()["av_sync_ms"]; got != rep.AVSync {
		t.Errorf("summary av_sync_ms %v", got)
	}
	var cs bytes.Buffer
	if err := rep.WriteCSV(&cs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV: %d rows, err %v", len(rows), err)
	}
	last := len(rows[0]) - 1
	if rows[0][last] != "av_sync_ms" || rows[1][last] == "" {
		t.Errorf("CSV column %q, first cycle %q", rows[0][last], rows[1][last])
	}
}
