package emulator

import (
	"context"
	"encoding/json"
	"fmt"
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

// record appends ev to the in-memory log, writes it to the JSON-lines sink and wakes waiters.
func (e *Emulator) record(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.evMu.Lock()
	e.events = append(e.events, ev)
	close(e.evNotify)
	e.evNotify = make(chan struct{})
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

// Events returns a copy of the in-memory event log.
func (e *Emulator) Events() []Event {
	e.evMu.Lock()
	defer e.evMu.Unlock()
	out := make([]Event, len(e.events))
	copy(out, e.events)
	return out
}

// WaitEvent returns the first event in the log (including events recorded before the
// call) for which match returns true, waiting for new events until ctx ends.
func (e *Emulator) WaitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	next := 0
	for {
		e.evMu.Lock()
		pending := e.events[next:]
		notify := e.evNotify
		e.evMu.Unlock()
		for _, ev := range pending {
			if match(ev) {
				return ev, nil
			}
		}
		next += len(pending)
		select {
		case <-notify:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("wait for emulator event: %w", ctx.Err())
		}
	}
}
