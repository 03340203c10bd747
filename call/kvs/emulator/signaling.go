package emulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

const (
	// outQueueLen bounds the frames waiting to be written to one connection.
	outQueueLen = 512
	// writeTimeout bounds one frame write.
	writeTimeout = 5 * time.Second
	// readLimit is the largest frame read; larger frames close the connection (1009).
	readLimit = 64 << 10
)

// channel is one signaling channel and its connections; guarded by Emulator.mu.
type channel struct {
	name, arn, version string
	created            time.Time
	ttl                time.Duration
	master             *conn
	viewers            map[string]*conn
	stale              map[string]time.Time // viewer ClientId -> end of its stale hold
	lastClosed         map[string]time.Time // viewer ClientId -> when its last session closed
	pending            []*pendingMsg
}

// pendingMsg is a message stored for a recipient that is not connected.
type pendingMsg struct {
	sender    string // "" = the master
	recipient string // "" = the master
	action    kvs.Action
	frame     []byte
	size      int
	expires   time.Time
}

func (e *Emulator) newChannel(name string, ttl time.Duration, created time.Time) *channel {
	v := make([]byte, 6)
	_, _ = rand.Read(v)
	return &channel{
		name:       name,
		arn:        e.channelARN(name, created),
		version:    hex.EncodeToString(v),
		created:    created,
		ttl:        ttl,
		viewers:    map[string]*conn{},
		stale:      map[string]time.Time{},
		lastClosed: map[string]time.Time{},
	}
}

// connsLocked lists the channel's connections; the caller holds Emulator.mu.
func (ch *channel) connsLocked() []*conn {
	var out []*conn
	if ch.master != nil {
		out = append(out, ch.master)
	}
	for _, c := range ch.viewers {
		out = append(out, c)
	}
	return out
}

// pruneLocked forgets expired stale holds and queued messages, returning the expired messages.
func (ch *channel) pruneLocked(now time.Time) []*pendingMsg {
	for id, until := range ch.stale {
		if !now.Before(until) {
			delete(ch.stale, id)
		}
	}
	var expired []*pendingMsg
	ch.pending = slices.DeleteFunc(ch.pending, func(m *pendingMsg) bool {
		if !now.Before(m.expires) {
			expired = append(expired, m)
			return true
		}
		return false
	})
	ch.compactLocked()
	return expired
}

// compactLocked gives the pending queue a smaller array once most of its
// capacity is unused, so that a burst of queued messages does not hold its
// memory for ever. The caller holds Emulator.mu.
func (ch *channel) compactLocked() {
	switch {
	case len(ch.pending) == 0:
		ch.pending = nil
	case cap(ch.pending) > 64 && len(ch.pending) < cap(ch.pending)/4:
		ch.pending = slices.Clone(ch.pending)
	}
}

// maxLastClosed bounds how many viewer ClientIds a channel remembers the
// last close of (for the reuse-cooldown fault); the oldest are forgotten first.
const maxLastClosed = 4096

// noteClosedLocked records that the session of viewer id closed at now. The
// caller holds Emulator.mu.
func (ch *channel) noteClosedLocked(id string, now time.Time) {
	ch.lastClosed[id] = now
	if len(ch.lastClosed) <= maxLastClosed {
		return
	}
	var oldest string
	var at time.Time
	for k, t := range ch.lastClosed {
		if oldest == "" || t.Before(at) {
			oldest, at = k, t
		}
	}
	delete(ch.lastClosed, oldest)
}

// viewerSlotsLocked counts connected and stale-held viewers other than id.
func (ch *channel) viewerSlotsLocked(id string) int {
	n := 0
	for vid := range ch.viewers {
		if vid != id {
			n++
		}
	}
	for vid := range ch.stale {
		if vid != id && ch.viewers[vid] == nil {
			n++
		}
	}
	return n
}

// closeMode says how a connection ends.
type closeMode int

const (
	closeNormal    closeMode = iota // close frame 1000
	closeGoingAway                  // close frame 1001
	closePolicy                     // close frame 1008
	closeAbrupt                     // TCP reset, no close frame
)

// conn is one signaling WebSocket connection.
type conn struct {
	e        *Emulator
	ch       *channel
	clientID string // "" for the master
	role     string
	ws       *websocket.Conn
	raw      net.Conn
	out      chan []byte
	stop     chan struct{} // closed when the connection is asked to end
	stopOnce sync.Once
	mode     closeMode
	reason   string
	finished chan struct{} // closed when the connection is fully cleaned up
	sdpLim   *rate.Limiter
	iceLim   *rate.Limiter

	// guarded by Emulator.mu
	reuseBlocked bool
	replaced     bool
}

// shutdown asks the connection to end. closeAbrupt resets the TCP connection at once,
// even when a graceful close is under way.
func (c *conn) shutdown(mode closeMode, reason string) {
	c.stopOnce.Do(func() {
		c.mode, c.reason = mode, reason
		close(c.stop)
	})
	if mode == closeAbrupt {
		c.abort()
	}
}

// abort resets the underlying TCP connection: no close frame, RST on the wire.
func (c *conn) abort() {
	raw := c.raw
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// send queues a frame without blocking; a full queue drops it.
func (c *conn) send(frame []byte) bool {
	select {
	case c.out <- frame:
		return true
	default:
		return false
	}
}

// writeLoop writes queued frames until the connection is asked to end, then closes it.
func (c *conn) writeLoop() {
	for {
		select {
		case f := <-c.out:
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				c.e.log.Debug("kvs emulator write failed", "channel", c.ch.name, "role", c.role, "clientId", c.clientID, "err", err)
				_ = c.ws.CloseNow()
				return
			}
		case <-c.stop:
			switch c.mode {
			case closeAbrupt:
				c.abort()
			case closeGoingAway:
				_ = c.ws.Close(websocket.StatusGoingAway, c.reason)
			case closePolicy:
				_ = c.ws.Close(websocket.StatusPolicyViolation, c.reason)
			default:
				_ = c.ws.Close(websocket.StatusNormalClosure, c.reason)
			}
			return
		}
	}
}

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

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		e.record(Event{Kind: EventRefused, Channel: ch.name, Role: role, ClientID: clientID, Action: "CONNECT", Detail: "websocket handshake failed"})
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

// armViewerFaultsLocked starts the timers of the go-away-after,
// reconnect-ice-after and drop-socket-after faults for viewer connection c.
// The caller holds e.mu.
func (e *Emulator) armViewerFaultsLocked(c *conn) {
	f := e.faults
	if f.GoAwayAfter > 0 {
		e.afterLocked(f.GoAwayAfter, c.stop, func() { e.sendControl(c, kvs.TypeGoAway, EventGoAway, "fault go-away-after") })
	}
	if f.ReconnectICEAfter > 0 {
		e.afterLocked(f.ReconnectICEAfter, c.stop, func() {
			e.sendControl(c, kvs.TypeReconnectICEServer, EventReconnectICE, "fault reconnect-ice-after")
		})
	}
	if f.DropSocketAfter > 0 {
		e.afterLocked(f.DropSocketAfter, c.stop, func() {
			e.record(Event{Kind: EventFault, Channel: c.ch.name, Role: c.role, ClientID: c.clientID, Detail: "drop-socket-after"})
			c.shutdown(closeAbrupt, "fault drop-socket-after")
		})
	}
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

// afterLocked runs f after d unless stop or Close comes first; the caller holds e.mu.
func (e *Emulator) afterLocked(d time.Duration, stop <-chan struct{}, f func()) {
	if e.closed {
		return
	}
	e.wg.Go(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-stop:
		case <-e.done:
		}
	})
}

// readLoop reads frames until the connection fails or closes, and says why it ended.
func (c *conn) readLoop() string {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if st := websocket.CloseStatus(err); st != -1 {
				return fmt.Sprintf("closed with status %d", st)
			}
			select {
			case <-c.stop:
				return c.reason
			default:
			}
			return "connection lost"
		}
		c.e.handleFrame(c, typ, data)
	}
}

// incoming is the loose shape of a client frame, decoded before validation.
type incoming struct {
	Action            string  `json:"action"`
	MessagePayload    *string `json:"messagePayload"`
	RecipientClientID string  `json:"recipientClientId"`
	CorrelationID     string  `json:"correlationId"`
}

// clientFrame is a validated client frame.
type clientFrame struct {
	action    kvs.Action
	payload   string // base64, as received
	recipient string // set only on frames from the master
	corr      string
}

// frameError says why a client frame is refused. With a correlationId the client gets
// a STATUS_RESPONSE; without one the frame is only dropped.
type frameError struct {
	action  string // clipped, for the event log
	corr    string
	errType string
	desc    string
}

// parseClientFrame validates a text frame from a connection of role: JSON shape, a valid
// correlationId, a known action, a non-empty base64-JSON payload of at most 10 KB, and a
// valid recipientClientId on frames from the master. It never panics.
func parseClientFrame(role string, data []byte) (clientFrame, *frameError) {
	var in incoming
	if err := json.Unmarshal(data, &in); err != nil {
		return clientFrame{}, &frameError{desc: "frame is not a JSON object"}
	}
	action := clip(in.Action, 40)
	if kvs.ValidateCorrelationID(in.CorrelationID) != nil {
		return clientFrame{}, &frameError{action: action, desc: "invalid correlationId"}
	}
	invalid := func(desc string) (clientFrame, *frameError) {
		return clientFrame{}, &frameError{action: action, corr: in.CorrelationID, errType: "InvalidArgumentException", desc: desc}
	}
	switch kvs.Action(in.Action) {
	case kvs.ActionSDPOffer, kvs.ActionSDPAnswer, kvs.ActionICECandidate:
	default:
		return invalid(fmt.Sprintf("unknown action %q", action))
	}
	if in.MessagePayload == nil || *in.MessagePayload == "" {
		return invalid("messagePayload is required")
	}
	payload := *in.MessagePayload
	if len(payload) > kvs.MaxPayloadBytes {
		return invalid(fmt.Sprintf("messagePayload is %d bytes, at most %d", len(payload), kvs.MaxPayloadBytes))
	}
	var body json.RawMessage
	if err := kvs.DecodePayload(payload, &body); err != nil {
		return invalid("messagePayload is not base64-encoded JSON")
	}
	f := clientFrame{action: kvs.Action(in.Action), payload: payload, corr: in.CorrelationID}
	if role == RoleMaster {
		if err := kvs.ValidateClientID(in.RecipientClientID); err != nil {
			return invalid("recipientClientId is required on messages from the master and must be a valid ClientId")
		}
		f.recipient = in.RecipientClientID
	}
	return f, nil
}

// handleFrame validates one client frame and relays it, or answers/drops it.
func (e *Emulator) handleFrame(c *conn, typ websocket.MessageType, data []byte) {
	base := Event{Channel: c.ch.name, Role: c.role, ClientID: c.clientID}
	if typ != websocket.MessageText {
		e.dropFrame(base, "", "binary frame")
		return
	}
	in, ferr := parseClientFrame(c.role, data)
	if ferr != nil {
		e.refuseFrame(c, base, ferr.action, ferr.corr, ferr.errType, ferr.desc)
		return
	}
	action := string(in.action)
	lim := c.sdpLim
	if in.action == kvs.ActionICECandidate {
		lim = c.iceLim
	}
	if !lim.Allow() {
		e.refuseFrame(c, base, action, in.corr, "ClientLimitExceededException", "message rate limit exceeded for this connection")
		return
	}
	if in.action == kvs.ActionSDPOffer && c.role == RoleViewer {
		if why := e.offerFault(c); why != "" {
			ev := base
			ev.Kind, ev.Action, ev.Detail, ev.Size = EventFault, action, why+": offer dropped silently", len(in.payload)
			e.record(ev)
			e.dropFrame(base, action, "fault "+why)
			return
		}
	}
	frame, err := json.Marshal(kvs.ServiceMessage{MessageType: kvs.MessageType(in.action), MessagePayload: in.payload, SenderClientID: c.clientID})
	if err != nil {
		e.dropFrame(base, action, "cannot encode frame")
		return
	}
	msg := &pendingMsg{sender: c.clientID, recipient: in.recipient, action: in.action, frame: frame, size: len(in.payload)}
	if in.action == kvs.ActionSDPAnswer && c.role == RoleMaster && e.delayAnswer(c, msg, base) {
		return
	}
	e.route(c.ch, msg, in.corr, c)
}

// dropFrame records that a client frame of action was dropped, and why.
func (e *Emulator) dropFrame(base Event, action, why string) {
	ev := base
	ev.Kind, ev.Action, ev.Detail = EventDropped, action, why
	e.record(ev)
}

// refuseFrame drops a client frame and, when the frame carried a
// correlationId, answers it with a STATUS_RESPONSE of errType.
func (e *Emulator) refuseFrame(c *conn, base Event, action, corr, errType, desc string) {
	e.dropFrame(base, action, desc)
	if corr != "" {
		e.sendStatus(c, corr, errType, desc)
	}
}

// delayAnswer holds the master's answer msg back when the delay-answer fault
// is on, routing it once the delay is over, and reports whether it did.
func (e *Emulator) delayAnswer(c *conn, msg *pendingMsg, base Event) bool {
	e.mu.Lock()
	delay := e.faults.AnswerDelay
	if delay > 0 {
		e.afterLocked(delay, nil, func() { e.route(c.ch, msg, "", c) })
	}
	e.mu.Unlock()
	if delay <= 0 {
		return false
	}
	ev := base
	ev.Kind, ev.Action, ev.Recipient, ev.Detail = EventFault, string(msg.action), msg.recipient, "delay-answer "+delay.String()
	e.record(ev)
	return true
}

// offerFault decides whether a viewer's offer is dropped by a fault, and which.
func (e *Emulator) offerFault(c *conn) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offerCount++
	switch {
	case c.reuseBlocked:
		return "reuse-cooldown"
	case e.faults.DropNextOffers > 0:
		e.faults.DropNextOffers--
		return "drop-offers"
	case e.faults.DropOfferEvery > 0 && e.offerCount%e.faults.DropOfferEvery == 0:
		return "drop-offer-every"
	}
	return ""
}

// malformedFrames are what SendMalformed and the malformed-every fault inject.
var malformedFrames = [][]byte{
	[]byte(`{"messageType":"SDP_ANSWER","messagePayload":"%%% not base64 %%%","senderClientId":""}`),
	[]byte(`{"messageType":"NO_SUCH_TYPE","messagePayload":""}`),
	[]byte(`this is not JSON {`),
}

// route delivers msg to its recipient now, or queues it for the channel's TTL.
func (e *Emulator) route(ch *channel, msg *pendingMsg, corr string, from *conn) {
	now := e.now()
	var events []Event
	e.mu.Lock()
	if e.channels[ch.name] != ch {
		e.mu.Unlock()
		e.record(Event{Kind: EventDropped, Channel: ch.name, ClientID: msg.sender, Recipient: msg.recipient, Action: string(msg.action), Size: msg.size, Detail: "channel deleted"})
		return
	}
	expired := ch.pruneLocked(now)
	var target *conn
	if msg.recipient == "" {
		target = ch.master
	} else {
		target = ch.viewers[msg.recipient]
	}
	base := msg.event(ch.name)
	notConnected := false
	if target == nil {
		events = e.queueLocked(ch, msg, now)
		notConnected = from != nil && from.role == RoleMaster
	} else {
		e.deliverCount++
		if k := e.faults.MalformedEvery; k > 0 && e.deliverCount%k == 0 {
			target.send(malformedFrames[(e.deliverCount/k)%len(malformedFrames)])
			ev := base
			ev.Kind, ev.Detail = EventMalformed, "malformed-every: one malformed frame before this message"
			events = append(events, ev)
		}
		ev := base
		if target.send(msg.frame) {
			ev.Kind = EventRelay
		} else {
			ev.Kind, ev.Detail = EventDropped, "recipient's send queue is full"
		}
		events = append(events, ev)
	}
	e.mu.Unlock()
	e.recordExpired(ch.name, expired)
	for _, ev := range events {
		e.record(ev)
	}
	if notConnected && corr != "" {
		e.sendStatus(from, corr, "InvalidArgumentException",
			fmt.Sprintf("recipient %s is not connected; the message is kept for %s", msg.recipient, ch.ttl))
	}
}

// event is the event of msg on channel, without Kind and Detail.
func (m *pendingMsg) event(channel string) Event {
	return Event{Channel: channel, ClientID: m.sender, Recipient: m.recipient, Action: string(m.action), Size: m.size}
}

// queueLocked keeps msg for its recipient for the channel's TTL: a newer offer
// replaces an undelivered one from the same sender, and beyond the queue caps
// (Config.MaxQueued per recipient, Config.MaxQueuedChannel per channel) the
// oldest messages are dropped. It returns the events to record. The caller
// holds e.mu.
func (e *Emulator) queueLocked(ch *channel, msg *pendingMsg, now time.Time) []Event {
	var events []Event
	if msg.action == kvs.ActionSDPOffer {
		ch.pending = slices.DeleteFunc(ch.pending, func(m *pendingMsg) bool {
			if m.action == kvs.ActionSDPOffer && m.sender == msg.sender && m.recipient == msg.recipient {
				ev := msg.event(ch.name)
				ev.Kind, ev.Detail = EventOverwritten, "an undelivered offer was replaced by a newer one"
				events = append(events, ev)
				return true
			}
			return false
		})
	}
	msg.expires = now.Add(ch.ttl)
	ch.pending = append(ch.pending, msg)
	ev := msg.event(ch.name)
	ev.Kind, ev.Detail = EventQueued, "recipient not connected; kept for "+ch.ttl.String()
	events = append(events, ev)
	dropped := ch.trimLocked(msg.recipient, e.cfg.MaxQueued, e.cfg.MaxQueuedChannel)
	e.queueDropped += int64(len(dropped))
	return append(events, dropped...)
}

// trimLocked drops the oldest queued messages for recipient beyond
// perRecipient, then the oldest of the channel beyond perChannel, and
// returns an event for each. The caller holds Emulator.mu.
func (ch *channel) trimLocked(recipient string, perRecipient, perChannel int) []Event {
	var events []Event
	drop := func(m *pendingMsg, why string) {
		ev := m.event(ch.name)
		ev.Kind, ev.Detail = EventDropped, why
		events = append(events, ev)
	}
	n := 0
	for _, m := range ch.pending {
		if m.recipient == recipient {
			n++
		}
	}
	if excess := n - perRecipient; excess > 0 {
		why := fmt.Sprintf("queue full: more than %d undelivered messages for this recipient; the oldest was dropped", perRecipient)
		ch.pending = slices.DeleteFunc(ch.pending, func(m *pendingMsg) bool {
			if excess > 0 && m.recipient == recipient {
				excess--
				drop(m, why)
				return true
			}
			return false
		})
	}
	if excess := len(ch.pending) - perChannel; excess > 0 {
		why := fmt.Sprintf("queue full: more than %d undelivered messages on this channel; the oldest was dropped", perChannel)
		for _, m := range ch.pending[:excess] {
			drop(m, why)
		}
		ch.pending = slices.Delete(ch.pending, 0, excess)
	}
	return events
}

// QueuedMessages counts the undelivered messages the named channel keeps, by
// recipient ClientId ("" = the master).
func (e *Emulator) QueuedMessages(channelName string) map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	if ch := e.channels[channelName]; ch != nil {
		for _, m := range ch.pending {
			out[m.recipient]++
		}
	}
	return out
}

// pruneInterval is how often expired queued messages and stale holds are freed
// on every channel, including channels nobody uses any more.
const pruneInterval = time.Second

// pruneLoop frees expired queued messages and stale holds every
// pruneInterval until Close.
func (e *Emulator) pruneLoop() {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
			e.pruneAll()
		}
	}
}

// pruneAll frees the expired queued messages and stale holds of every channel
// and records the expiries.
func (e *Emulator) pruneAll() {
	now := e.now()
	expired := map[string][]*pendingMsg{}
	e.mu.Lock()
	for name, ch := range e.channels {
		if msgs := ch.pruneLocked(now); len(msgs) > 0 {
			expired[name] = msgs
		}
	}
	e.mu.Unlock()
	for name, msgs := range expired {
		e.recordExpired(name, msgs)
	}
}

func (e *Emulator) recordExpired(channel string, expired []*pendingMsg) {
	for _, m := range expired {
		e.record(Event{Kind: EventExpired, Channel: channel, ClientID: m.sender, Recipient: m.recipient,
			Action: string(m.action), Size: m.size, Detail: "undelivered message outlived the message TTL"})
	}
}

// sendStatus sends a STATUS_RESPONSE for a message that carried correlationId.
func (e *Emulator) sendStatus(c *conn, corr, errType, desc string) {
	frame, err := json.Marshal(kvs.ServiceMessage{
		MessageType: kvs.TypeStatusResponse,
		StatusResponse: &kvs.StatusResponse{
			CorrelationID: corr, ErrorType: errType, StatusCode: "400", Description: desc,
		},
	})
	if err != nil {
		return
	}
	c.send(frame)
	e.record(Event{Kind: EventStatusResponse, Channel: c.ch.name, Role: c.role, ClientID: c.clientID, Detail: errType + ": " + desc})
}

// sendControl sends a GO_AWAY or RECONNECT_ICE_SERVER frame to c.
func (e *Emulator) sendControl(c *conn, t kvs.MessageType, kind, why string) {
	frame, _ := json.Marshal(kvs.ServiceMessage{MessageType: t})
	if c.send(frame) {
		e.record(Event{Kind: kind, Channel: c.ch.name, Role: c.role, ClientID: c.clientID, Detail: why})
	}
}

// lookupConn finds the connection of clientID ("" = master) on the named channel.
func (e *Emulator) lookupConn(channelName, clientID string) (*conn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.channels[channelName]
	if ch == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownChannel, clip(channelName, 60))
	}
	var c *conn
	if clientID == "" {
		c = ch.master
	} else {
		c = ch.viewers[clientID]
	}
	if c == nil {
		who := "master"
		if clientID != "" {
			who = "viewer " + clip(clientID, 60)
		}
		return nil, fmt.Errorf("%w: %s on channel %s", ErrNotConnected, who, channelName)
	}
	return c, nil
}

// Viewers lists the ClientIds of the channel's connected viewers and of closed viewers
// whose slot is still held (stale-viewers fault), sorted.
func (e *Emulator) Viewers(channelName string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := e.channels[channelName]
	if ch == nil {
		return nil
	}
	now := e.now()
	var ids []string
	for id := range ch.viewers {
		ids = append(ids, id)
	}
	for id, until := range ch.stale {
		if now.Before(until) && ch.viewers[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// SendGoAway sends GO_AWAY to a viewer, or to the master when clientID is "".
func (e *Emulator) SendGoAway(channel, clientID string) error {
	c, err := e.lookupConn(channel, clientID)
	if err != nil {
		return fmt.Errorf("send GO_AWAY: %w", err)
	}
	e.sendControl(c, kvs.TypeGoAway, EventGoAway, "requested")
	return nil
}

// SendReconnectICEServer sends RECONNECT_ICE_SERVER to a viewer, or to the master when clientID is "".
func (e *Emulator) SendReconnectICEServer(channel, clientID string) error {
	c, err := e.lookupConn(channel, clientID)
	if err != nil {
		return fmt.Errorf("send RECONNECT_ICE_SERVER: %w", err)
	}
	e.sendControl(c, kvs.TypeReconnectICEServer, EventReconnectICE, "requested")
	return nil
}

// DropConnection ends a connection abruptly: no close frame, TCP reset.
func (e *Emulator) DropConnection(channel, clientID string) error {
	c, err := e.lookupConn(channel, clientID)
	if err != nil {
		return fmt.Errorf("drop connection: %w", err)
	}
	e.record(Event{Kind: EventFault, Channel: channel, Role: c.role, ClientID: clientID, Detail: "drop connection requested"})
	c.shutdown(closeAbrupt, "dropped on request")
	return nil
}

// SendMalformed sends a few malformed frames (bad base64 payload, unknown message type, not JSON).
func (e *Emulator) SendMalformed(channel, clientID string) error {
	c, err := e.lookupConn(channel, clientID)
	if err != nil {
		return fmt.Errorf("send malformed frames: %w", err)
	}
	for _, f := range malformedFrames {
		c.send(f)
	}
	e.record(Event{Kind: EventMalformed, Channel: channel, Role: c.role, ClientID: clientID, Detail: fmt.Sprintf("%d malformed frames requested", len(malformedFrames))})
	return nil
}
