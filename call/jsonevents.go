package call

import (
	"encoding/json"
	"io"
	"math"
	"sync"
	"time"
)

// JSONWriter writes the headless interface's events (`--json`): one JSON
// object per line, {"t_ms":<ms since start>,"event":"<name>",...}. QA
// scripts parse this format: keep it stable (testdata/jsonevents.golden).
type JSONWriter struct {
	mu    sync.Mutex
	enc   *json.Encoder
	start time.Time
}

// NewJSONWriter writes to w, timing events from start.
func NewJSONWriter(w io.Writer, start time.Time) *JSONWriter {
	return &JSONWriter{enc: json.NewEncoder(w), start: start}
}

// Since is the milliseconds from the writer's start to t, as t_ms gives them.
func (j *JSONWriter) Since(t time.Time) float64 { return Millis(t.Sub(j.start)) }

// Write writes one line: event name at tMS, with fields.
func (j *JSONWriter) Write(tMS float64, name string, fields map[string]any) {
	out := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		out[k] = v
	}
	out["t_ms"], out["event"] = tMS, name
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(out) // a closed stdout has no one left to tell
}

// WriteNow writes one line timed now.
func (j *JSONWriter) WriteNow(name string, fields map[string]any) {
	j.Write(j.Since(time.Now()), name, fields)
}

// Event writes e in the interface's shape. Phases are timed from the user's
// action (their Elapsed); the teardown and the wait for a ClientId carry
// their duration in "ms".
func (j *JSONWriter) Event(e Event) {
	t := j.Since(e.Time)
	switch e.Kind {
	case EventPhase:
		f := map[string]any{"session": e.SessionID, "attempt": e.Attempt}
		if e.Phase.IsDuration() {
			f["ms"] = Millis(e.Elapsed)
		} else {
			t = Millis(e.Elapsed)
		}
		if e.Frame != nil {
			f["width"], f["height"], f["codec"] = e.Frame.Width, e.Frame.Height, e.Frame.Codec
		}
		if len(e.Overruns) > 0 {
			f["overruns"] = e.Overruns
		}
		j.Write(t, string(e.Phase), f)
	case EventError:
		j.Write(t, "error", map[string]any{"class": e.Class, "message": e.Message, "session": e.SessionID, "attempt": e.Attempt})
	case EventState:
		f := map[string]any{"state": e.State.String()}
		if e.State == StateRetrying || e.State == StateWaiting {
			f["retry"], f["backoff_ms"] = e.Retry, Millis(e.Backoff)
		}
		if e.AnswerTimeout > 0 {
			f["answer_timeout_ms"] = Millis(e.AnswerTimeout)
		}
		if e.Message != "" {
			f["message"] = e.Message
		}
		j.Write(t, "state", f)
	case EventNotice:
		j.Write(t, "notice", map[string]any{"message": e.Message})
	case EventStats:
		j.Write(t, "stats", statsFields(e.Stats))
		if s := e.Stats; s != nil && (s.LatencySamples > 0 || s.SenderReportDelay != 0) {
			j.Write(t, "latency", map[string]any{"p50_ms": Millis(s.Latency), "p95_ms": Millis(s.LatencyP95), "samples": s.LatencySamples,
				"sender_report_ms": Millis(s.SenderReportDelay)})
		}
		if s := e.Stats; s != nil && s.AVSyncSamples > 0 {
			// Positive: the audio is late.
			j.Write(t, "av_sync", map[string]any{"offset_ms": Millis(s.AVSync), "samples": s.AVSyncSamples})
		}
	case EventData:
		j.dataEvent(t, e.Data)
	}
}

// dataEvent writes a data channel event: datachannel_open, _close, _message, _rtt.
func (j *JSONWriter) dataEvent(t float64, d *DataEvent) {
	switch d.Kind {
	case DataOpen:
		j.Write(t, "datachannel_open", map[string]any{"label": d.Label})
	case DataClosed:
		j.Write(t, "datachannel_close", map[string]any{"label": d.Label})
	case DataMessage:
		from := "viewer"
		if d.FromMaster {
			from = "master"
		}
		j.Write(t, "datachannel_message", map[string]any{"from": from, "text": d.Text})
	case DataRTT:
		j.Write(t, "datachannel_rtt", map[string]any{"ms": Millis(d.RTT)})
	}
}

func statsFields(s *Stats) map[string]any {
	return map[string]any{"codec": s.Codec, "width": s.Width, "height": s.Height, "fps": Round1(s.FPS),
		"in_kbps": Round1(s.InboundKbps), "out_kbps": Round1(s.OutboundKbps), "rtt_ms": Millis(s.RTT),
		"lost": s.PacketsLost, "jitter_ms": Millis(s.Jitter), "audio_packets": s.AudioPackets, "candidate": s.CandidateType,
		"datachannel_rtt_ms": Millis(s.DataRTT), "audio_level_dbfs": Round1(s.AudioLevelDBFS), "audio_output": s.AudioOutput,
		"audio_underrun_ms": Millis(s.AudioUnderrun), "audio_starved": s.AudioStarved, "input_level_dbfs": Round1(s.InputLevelDBFS)}
}

// Millis is d in milliseconds with microsecond precision.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Round1 rounds v to one decimal.
func Round1(v float64) float64 { return math.Round(v*10) / 10 }
