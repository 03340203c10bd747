// One signaling WebSocket connection (conn): its send queue and write loop,
// its read loop, and the validation of each client frame (parseClientFrame,
// handleFrame) before it is routed.

package emulator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
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
	held         []heldMsg // delay-answer: this viewer's messages to the master, held in order
	holding      bool
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
	if c.role == RoleViewer && e.holdForSlowMaster(c, heldMsg{msg, in.corr}, base) {
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
