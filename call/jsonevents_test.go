package call_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestJSONEventsGolden pins the --json format QA scripts parse: one line per
// event kind and phase, compared byte for byte with testdata/jsonevents.golden.
func TestJSONEventsGolden(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	var evs []call.Event
	evs = append(evs,
		call.Event{Time: at(0), Kind: call.EventState, State: call.StateConnecting, SessionID: 1, Attempt: 1},
		call.Event{Time: at(1), Kind: call.EventNotice, Message: "no camera found: sending the test pattern"},
		call.Event{Time: at(2), Kind: call.EventState, State: call.StateOffering, AnswerTimeout: 5 * time.Second},
	)
	for i, p := range call.Phases[:len(call.Phases)-1] {
		e := call.Event{Time: at(100 + i), Kind: call.EventPhase, Phase: p, SessionID: 1, Attempt: 1, Elapsed: ms(10.5 * float64(i+1))}
		if p == call.PhaseFirstFrame {
			e.Frame = &call.FrameInfo{Width: 1280, Height: 720, Codec: "H264"}
		}
		evs = append(evs, e)
	}
	evs = append(evs,
		call.Event{Time: at(300), Kind: call.EventStats, SessionID: 1, Stats: &call.Stats{Codec: "H264", Width: 1280, Height: 720,
			FPS: 29.96, InboundKbps: 1234.56, OutboundKbps: 800.04, RTT: ms(1.5), PacketsLost: 3, Jitter: ms(2.25), AudioPackets: 50, CandidateType: "host",
			Latency: ms(48.5), LatencyP95: ms(61.25), LatencySamples: 50, SenderReportDelay: ms(1.5),
			AVSync: ms(24.25), AVSyncSamples: 10}},
		call.Event{Time: at(400), Kind: call.EventError, Class: call.ClassNoAnswer, Message: "no SDP answer within 5s", SessionID: 2, Attempt: 2},
		call.Event{Time: at(401), Kind: call.EventState, State: call.StateRetrying, Retry: 1, Backoff: ms(187.5), AnswerTimeout: 10 * time.Second,
			Message: "no SDP answer within 5s; retrying in 188ms and waiting 10s for the answer"},
		call.Event{Time: at(402), Kind: call.EventState, State: call.StateWaiting, Backoff: ms(2000), Message: "ClientId cooling down"},
		call.Event{Time: at(350), Kind: call.EventData, SessionID: 1, Data: &call.DataEvent{Kind: call.DataOpen, Label: call.DataChannelLabel}},
		call.Event{Time: at(351), Kind: call.EventData, SessionID: 1, Data: &call.DataEvent{Kind: call.DataMessage, Text: "hello master"}},
		call.Event{Time: at(352), Kind: call.EventData, SessionID: 1, Data: &call.DataEvent{Kind: call.DataMessage, Text: "hello viewer", FromMaster: true}},
		call.Event{Time: at(353), Kind: call.EventData, SessionID: 1, Data: &call.DataEvent{Kind: call.DataRTT, RTT: ms(1.25)}},
		call.Event{Time: at(354), Kind: call.EventData, SessionID: 1, Data: &call.DataEvent{Kind: call.DataClosed, Label: call.DataChannelLabel}},
		call.Event{Time: at(500), Kind: call.EventPhase, Phase: call.PhaseTeardown, SessionID: 2, Elapsed: ms(17.25), Overruns: []string{"close local media"}},
		call.Event{Time: at(501), Kind: call.EventState, State: call.StateIdle},
	)
	var out bytes.Buffer
	w := call.NewJSONWriter(&out, start)
	for _, e := range evs {
		w.Event(e)
	}
	w.Write(w.Since(at(600)), "frames", map[string]any{"decoded": 300, "dropped": 0, "fps": call.Round1(30.04)})

	golden := filepath.Join("testdata", "jsonevents.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("the --json format changed; if on purpose, rerun with -update and tell QA.\ngot:\n%s\nwant:\n%s", out.Bytes(), want)
	}
}
