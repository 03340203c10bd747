// The signaling handshake and registration: serveSignaling authenticates a
// WebSocket handshake (handshakeIdentity), checks the channel's viewer limit
// (admit), makes the connection the channel's master or a viewer (register,
// replacing an older one), runs it, and removes it when it ends (unregister).

package emulator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// refuse answers a refused signaling handshake with an AWS-shaped error and logs it.
func (e *Emulator) refuse(w http.ResponseWriter, ev Event, err *apiError) {
	ev.Kind = EventRefused
	if ev.Detail == "" {
		ev.Detail = err.code
	}
	e.record(ev)
	e.writeAPIError(w, err)
}

// serveSignaling authenticates a WebSocket handshake, applies the channel's limits and
// runs the connection until it ends.
func (e *Emulator) serveSignaling(w http.ResponseWriter, r *http.Request) {
	arn, role, clientID, ok := e.handshakeIdentity(w, r)
	if !ok {
		return
	}
	ch, ok := e.admit(w, arn, role, clientID)
	if !ok {
		return
	}
	defer e.wg.Done()

	// KVS takes browsers' connections from any web page: the presigned URL
	// is the authentication, not the Origin header. (This option turns off
	// the library's Origin check only; it has nothing to do with TLS.)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		e.record(Event{Kind: EventRefused, Channel: ch.name, Role: role, ClientID: clientID, Action: "CONNECT", Detail: "websocket handshake failed: " + err.Error()})
		return
	}
	ws.SetReadLimit(readLimit)
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)
	c := &conn{
		e: e, ch: ch, clientID: clientID, role: role, ws: ws, raw: raw,
		out:      make(chan []byte, outQueueLen),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
		sdpLim:   rate.NewLimiter(SDPMessagesPerSecond, SDPMessagesPerSecond),
		iceLim:   rate.NewLimiter(ICEMessagesPerSecond, ICEMessagesPerSecond),
	}
	if !e.register(c) {
		_ = ws.Close(websocket.StatusPolicyViolation, "refused")
		close(c.finished)
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	why := c.readLoop()
	c.shutdown(closeNormal, "")
	<-writerDone
	_ = ws.CloseNow()
	e.unregister(c, why)
	close(c.finished)
}

// handshakeIdentity checks the presigned URL of a signaling handshake (and the
// reject-403 fault) and returns the channel ARN, role and ClientId it names;
// when it refuses the handshake it has answered w and returns ok false.
func (e *Emulator) handshakeIdentity(w http.ResponseWriter, r *http.Request) (arn, role, clientID string, ok bool) {
	if fault, refusal := e.takeReject(r, "CONNECT"); refusal != nil {
		e.record(Event{Kind: EventFault, Action: "CONNECT", Detail: fault})
		e.writeAPIError(w, refusal)
		return "", "", "", false
	}
	ps, err := VerifyPresignedURL(r.URL, r.Host, e.cfg.Region, e.lookupCredential, e.now())
	if err != nil {
		var aerr *AuthError
		if !errors.As(err, &aerr) {
			aerr = authErr(http.StatusForbidden, "AccessDeniedException", "auth", "%v", err)
		}
		e.record(Event{Kind: EventAuthFailure, Action: "CONNECT", Detail: aerr.Reason})
		e.writeAPIError(w, &apiError{aerr.Status, aerr.Code, aerr.Message})
		return "", "", "", false
	}
	q := r.URL.Query()
	if len(q[qChannelARN]) != 1 || ps.ChannelARN == "" {
		e.refuse(w, Event{Action: "CONNECT"}, errInvalidArgument("X-Amz-ChannelARN is required"))
		return "", "", "", false
	}
	ids, viewer := q[qClientID]
	if !viewer {
		return ps.ChannelARN, RoleMaster, "", true
	}
	if len(ids) != 1 {
		e.refuse(w, Event{Action: "CONNECT"}, errInvalidArgument("X-Amz-ClientId must be given once"))
		return "", "", "", false
	}
	if err := kvs.ValidateClientID(ids[0]); err != nil {
		e.refuse(w, Event{Action: "CONNECT", Role: RoleViewer, Detail: "invalid ClientId"}, errInvalidArgument("X-Amz-ClientId: %v", err))
		return "", "", "", false
	}
	return ps.ChannelARN, RoleViewer, ids[0], true
}

// admit finds the channel of arn and, for a viewer, checks that a slot is
// free. When it lets the connection in it has added it to e.wg (the caller
// calls e.wg.Done when the connection ends); otherwise it has answered w.
func (e *Emulator) admit(w http.ResponseWriter, arn, role, clientID string) (*channel, bool) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.writeAPIError(w, &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "emulator shutting down"})
		return nil, false
	}
	ch := e.channelByARNLocked(arn)
	if ch == nil {
		e.mu.Unlock()
		e.refuse(w, Event{Action: "CONNECT", Role: role, ClientID: clientID, Detail: "unknown channel"}, errChannelNotFound())
		return nil, false
	}
	if role != RoleViewer {
		e.wg.Add(1)
		e.mu.Unlock()
		return ch, true
	}
	expired := ch.pruneLocked(e.now())
	if ch.viewerSlotsLocked(clientID) >= MaxViewersPerChannel {
		e.mu.Unlock()
		e.recordExpired(ch.name, expired)
		e.refuse(w, Event{Channel: ch.name, Action: "CONNECT", Role: role, ClientID: clientID, Detail: "max viewers reached"},
			&apiError{http.StatusBadRequest, "ClientLimitExceededException",
				fmt.Sprintf("Max viewers reached: the channel already has %d viewer connections.", MaxViewersPerChannel)})
		return nil, false
	}
	e.wg.Add(1)
	e.mu.Unlock()
	e.recordExpired(ch.name, expired)
	return ch, true
}

// register makes c the channel's master or the viewer with its ClientId, replacing an
// older connection, delivers what was queued for it and arms the per-connection faults.
func (e *Emulator) register(c *conn) bool {
	now := e.now()
	e.mu.Lock()
	ch := c.ch
	if e.closed || e.channels[ch.name] != ch {
		e.mu.Unlock()
		e.record(Event{Kind: EventRefused, Channel: ch.name, Role: c.role, ClientID: c.clientID, Action: "CONNECT", Detail: "emulator closing or channel deleted"})
		return false
	}
	if c.role == RoleViewer && ch.viewerSlotsLocked(c.clientID) >= MaxViewersPerChannel {
		e.mu.Unlock()
		e.record(Event{Kind: EventRefused, Channel: ch.name, Role: c.role, ClientID: c.clientID, Action: "CONNECT", Detail: "max viewers reached"})
		return false
	}
	old, events := e.takeSlotLocked(c, now)
	e.conns[c] = struct{}{}
	events = append(events, Event{Kind: EventConnect, Channel: ch.name, Role: c.role, ClientID: c.clientID})
	expired := ch.pruneLocked(now)
	events = append(events, deliverQueuedLocked(c)...)
	if c.role == RoleViewer {
		e.armViewerFaultsLocked(c)
	}
	e.mu.Unlock()

	if old != nil {
		e.record(Event{Kind: EventReplaced, Channel: ch.name, Role: old.role, ClientID: old.clientID, Detail: "a newer connection took over"})
		reason := "replaced by a new connection with the same ClientId"
		if c.role == RoleMaster {
			reason = "replaced by a new master connection"
		}
		old.shutdown(closeNormal, reason)
	}
	e.recordExpired(ch.name, expired)
	for _, ev := range events {
		e.record(ev)
	}
	return true
}

// takeSlotLocked makes c the channel's master or the viewer with its
// ClientId, and returns the connection it replaces (marked replaced) and, when
// the reuse-cooldown fault blocks c's offers, that fault's event. The caller
// holds e.mu.
func (e *Emulator) takeSlotLocked(c *conn, now time.Time) (old *conn, events []Event) {
	ch := c.ch
	if c.role == RoleMaster {
		old, ch.master = ch.master, c
	} else {
		old = ch.viewers[c.clientID]
		if old != nil {
			ch.noteClosedLocked(c.clientID, now)
		}
		if cd := e.faults.ReuseCooldown; cd > 0 {
			if last, ok := ch.lastClosed[c.clientID]; ok && now.Sub(last) < cd {
				c.reuseBlocked = true
				events = append(events, Event{Kind: EventFault, Channel: ch.name, Role: c.role, ClientID: c.clientID,
					Detail: fmt.Sprintf("reuse-cooldown: ClientId reused %s after its last session; its offers will get no answer", now.Sub(last).Round(time.Millisecond))})
			}
		}
		delete(ch.stale, c.clientID)
		ch.viewers[c.clientID] = c
	}
	if old != nil {
		old.replaced = true
	}
	return old, events
}

// deliverQueuedLocked sends c what was queued for its recipient, oldest
// first, and returns the relay events. The caller holds Emulator.mu.
func deliverQueuedLocked(c *conn) []Event {
	ch := c.ch
	var events []Event
	ch.pending = slices.DeleteFunc(ch.pending, func(m *pendingMsg) bool {
		if m.recipient != c.clientID {
			return false
		}
		if c.send(m.frame) {
			events = append(events, Event{Kind: EventRelay, Channel: ch.name, ClientID: m.sender, Recipient: m.recipient,
				Action: string(m.action), Size: m.size, Detail: "queued message delivered on connect"})
		}
		return true
	})
	ch.compactLocked()
	return events
}

// unregister removes c from its channel; a viewer leaves a stale hold when that fault is on.
func (e *Emulator) unregister(c *conn, why string) {
	now := e.now()
	e.mu.Lock()
	delete(e.conns, c)
	ch := c.ch
	hold := time.Duration(0)
	if c.role == RoleMaster {
		if ch.master == c {
			ch.master = nil
		}
	} else if ch.viewers[c.clientID] == c {
		delete(ch.viewers, c.clientID)
		ch.noteClosedLocked(c.clientID, now)
		if hold = e.faults.StaleViewerHold; hold > 0 {
			ch.stale[c.clientID] = now.Add(hold)
		}
	}
	replaced := c.replaced
	e.mu.Unlock()
	if replaced {
		why = "replaced: " + why
	}
	e.record(Event{Kind: EventDisconnect, Channel: ch.name, Role: c.role, ClientID: c.clientID, Detail: why})
	if hold > 0 {
		e.record(Event{Kind: EventFault, Channel: ch.name, Role: c.role, ClientID: c.clientID,
			Detail: "stale-viewers: slot held for " + hold.String()})
	}
}
