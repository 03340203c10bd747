package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Event kinds recorded in the event log.
const (
	EventStart          = "start"           // emulator started (Detail: endpoint)
	EventStop           = "stop"            // emulator closed
	EventControlPlane   = "control_plane"   // a control-plane or ICE-config call (Action: operation, Detail: outcome)
	EventAuthFailure    = "auth_failure"    // a request or connection failed authentication (Detail: reason)
	EventConnect        = "connect"         // a signaling connection opened
	EventDisconnect     = "disconnect"      // a signaling connection closed (Detail: why)
	EventRefused        = "refused"         // a signaling handshake was refused (Detail: why)
	EventReplaced       = "replaced"        // a connection was replaced by a newer one with the same identity
	EventRelay          = "relay"           // a message was delivered (ClientID: sender, Recipient)
	EventQueued         = "queued"          // a message was stored for a recipient that is not connected
	EventOverwritten    = "overwritten"     // a queued offer was replaced by a newer one from the same client
	EventExpired        = "expired"         // a queued message outlived the channel's message TTL
	EventDropped        = "dropped"         // a message was dropped (Detail: why)
	EventStatusResponse = "status_response" // a STATUS_RESPONSE was sent (Detail: error type)
	EventFault          = "fault"           // a fault was applied (Detail: which)
	EventGoAway         = "go_away"         // GO_AWAY sent
	EventReconnectICE   = "reconnect_ice"   // RECONNECT_ICE_SERVER sent
	EventMalformed      = "malformed"       // malformed frames injected
	EventTURN           = "turn"            // a TURN relay allocation was made or released (Action: allocate, release; Detail: relay address)
)

// Event is one entry of the emulator's event log. It never holds secrets or
// message contents beyond their size.
type Event struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Channel   string    `json:"channel,omitempty"`
	ClientID  string    `json:"clientId,omitempty"`
	Role      string    `json:"role,omitempty"`
	Action    string    `json:"action,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Recipient string    `json:"recipient,omitempty"` // recipient ClientId of a relayed message ("" = the master)
	Size      int       `json:"size,omitempty"`      // payload size in bytes (base64)
}

// Roles of signaling connections.
const (
	RoleMaster = "MASTER"
	RoleViewer = "VIEWER"
)

// DefaultEventLogSize is how many events the in-memory log keeps by default;
// older ones are dropped (the Config.EventLog writer still gets every event).
const DefaultEventLogSize = 10_000

// maxAuthFailureReasons bounds the distinct reasons AuthFailures counts; any
// further reason is counted under "other".
const maxAuthFailureReasons = 64

// eventRing is the in-memory event log: the last len(buf) events, each with
// a sequence number (the first event recorded is 0).
type eventRing struct {
	buf   []Event // grows to size, then is overwritten in place
	size  int
	first int64 // sequence number of the oldest event kept
	next  int64 // sequence number of the next event
}

func (r *eventRing) add(ev Event) {
	if len(r.buf) < r.size {
		r.buf = append(r.buf, ev)
	} else {
		r.buf[r.next%int64(r.size)] = ev
		r.first++
	}
	r.next++
}

// since returns a copy of the kept events with sequence number seq or later.
func (r *eventRing) since(seq int64) []Event {
	seq = max(seq, r.first)
	out := make([]Event, 0, max(r.next-seq, 0))
	for s := seq; s < r.next; s++ {
		out = append(out, r.buf[s%int64(r.size)])
	}
	return out
}

// record writes ev to the JSON-lines sink and, unless it is an
// authentication failure (those are only counted: nothing is kept for a
// client that never authenticated), appends it to the in-memory log and wakes
// waiters.
func (e *Emulator) record(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.evMu.Lock()
	if ev.Kind == EventAuthFailure {
		reason := ev.Detail
		if _, known := e.authFailures[reason]; !known && len(e.authFailures) >= maxAuthFailureReasons {
			reason = "other"
		}
		e.authFailures[reason]++
	} else {
		e.events.add(ev)
		close(e.evNotify)
		e.evNotify = make(chan struct{})
	}
	if e.cfg.EventLog != nil {
		if line, err := json.Marshal(ev); err == nil {
			if _, err := e.cfg.EventLog.Write(append(line, '\n')); err != nil {
				e.log.Warn("event log write failed", "err", err)
			}
		}
	}
	e.evMu.Unlock()
	e.log.Debug("kvs emulator event", "kind", ev.Kind, "channel", ev.Channel, "clientId", ev.ClientID,
		"role", ev.Role, "action", ev.Action, "recipient", ev.Recipient, "size", ev.Size, "detail", ev.Detail)
}

// Events returns a copy of the in-memory event log: the last
// Config.EventLogSize events, oldest first, without authentication failures
// (see AuthFailures).
func (e *Emulator) Events() []Event {
	e.evMu.Lock()
	defer e.evMu.Unlock()
	return e.events.since(0)
}

// AuthFailures counts the requests and signaling handshakes that failed
// authentication, by reason (e.g. "signature_mismatch"). They are written to
// Config.EventLog as auth_failure events but not kept in the in-memory log.
func (e *Emulator) AuthFailures() map[string]int64 {
	e.evMu.Lock()
	defer e.evMu.Unlock()
	return maps.Clone(e.authFailures)
}

// WaitEvent returns the first event in the log (including events recorded before the
// call) for which match returns true, waiting for new events until ctx ends.
func (e *Emulator) WaitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	return e.waitEventFrom(ctx, 0, match)
}

// eventSeq is the sequence number the next recorded event will get.
func (e *Emulator) eventSeq() int64 {
	e.evMu.Lock()
	defer e.evMu.Unlock()
	return e.events.next
}

// waitEventFrom is WaitEvent over the events with sequence number seq or
// later (those still kept).
func (e *Emulator) waitEventFrom(ctx context.Context, seq int64, match func(Event) bool) (Event, error) {
	for {
		e.evMu.Lock()
		pending := e.events.since(seq)
		seq = e.events.next
		notify := e.evNotify
		e.evMu.Unlock()
		for _, ev := range pending {
			if match(ev) {
				return ev, nil
			}
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("wait for emulator event: %w", ctx.Err())
		}
	}
}
