package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// QARequest is what the QA tab asks to run.
type QARequest struct {
	Cycles    int
	Viewers   int // at once, each with a controller of its own (1 to 10)
	Hold, Gap time.Duration
	Reconnect bool   // cycle with Reconnect instead of Disconnect + Connect
	Faults    string // emulator fault spec (Demo mode), "" for none
}

// Field names of the QA form.
const (
	FieldQACycles  = "qa_cycles"
	FieldQAViewers = "qa_viewers"
	FieldQAHold    = "qa_hold"
	FieldQAGap     = "qa_gap"
	FieldQAFaults  = "qa_faults"
)

// Request reads and validates the QA form.
func (v *QAView) Request() (QARequest, []*call.FieldError) {
	var r QARequest
	var errs []*call.FieldError
	n, err := strconv.Atoi(strings.TrimSpace(v.Cycles.Text))
	if err != nil || n < 1 || n > 100000 {
		errs = append(errs, &call.FieldError{Field: FieldQACycles, Message: "cycles: a whole number from 1 to 100000"})
	}
	r.Cycles = n
	if r.Viewers, err = strconv.Atoi(strings.TrimSpace(v.Viewers.Text)); err != nil || r.Viewers < 1 || r.Viewers > kvs.MaxViewersPerChannel {
		errs = append(errs, &call.FieldError{Field: FieldQAViewers, Message: fmt.Sprintf("viewers: from 1 to %d (a channel's limit)", kvs.MaxViewersPerChannel)})
	}
	if r.Hold, err = parseSeconds(v.Hold.Text); err != nil || r.Hold < 0 || r.Hold > time.Hour {
		errs = append(errs, &call.FieldError{Field: FieldQAHold, Message: "hold: a duration like 2s (0 to 1h)"})
	}
	if r.Gap, err = parseSeconds(v.Gap.Text); err != nil || r.Gap < 0 || r.Gap > time.Hour {
		errs = append(errs, &call.FieldError{Field: FieldQAGap, Message: "gap: a duration like 500ms (0 to 1h)"})
	}
	r.Faults = strings.TrimSpace(v.Faults.Text)
	if r.Faults != "" && v.CheckFaults != nil {
		if err := v.CheckFaults(r.Faults); err != nil {
			errs = append(errs, &call.FieldError{Field: FieldQAFaults, Message: "fault profile: " + err.Error()})
		}
	}
	r.Reconnect = v.Reconnect.Checked
	return r, errs
}

func (v *QAView) start() {
	r, errs := v.Request()
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Message
	}
	v.FormError.SetText(strings.Join(msgs, "\n"))
	if len(errs) > 0 || v.OnStart == nil {
		return
	}
	v.OnStart(r)
}
