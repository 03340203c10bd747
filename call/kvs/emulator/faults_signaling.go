// Faults on the signaling path: the timed faults of viewer connections
// (go-away-after, reconnect-ice-after, drop-socket-after), dropped and
// delayed offers and answers, malformed frames, and the explicit controls
// (SendGoAway, SendReconnectICEServer, DropConnection, SendMalformed).
// The faults themselves and their spec are in faults.go.

package emulator

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

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

// heldMsg is a viewer's message held by the delay-answer fault.
type heldMsg struct {
	msg  *pendingMsg
	corr string
}

// holdForSlowMaster plays a slow master (one that fetches its TURN servers
// before it answers, behind a slow uplink) for the delay-answer fault: a
// viewer's offer, and whatever that viewer sends after it, reach the master
// only after the delay, in order. The master then answers, trickles and
// starts its ICE checks that much later, as a slow master does. It reports
// whether m was held.
func (e *Emulator) holdForSlowMaster(c *conn, m heldMsg, base Event) bool {
	e.mu.Lock()
	delay := e.faults.AnswerDelay
	start := !c.holding && delay > 0 && m.msg.action == kvs.ActionSDPOffer
	if start {
		c.holding = true
		e.afterLocked(delay, c.stop, func() { e.releaseHeld(c) })
	}
	held := c.holding
	if held {
		c.held = append(c.held, m)
	}
	e.mu.Unlock()
	if start {
		ev := base
		ev.Kind, ev.Action, ev.Detail = EventFault, string(m.msg.action), "delay-answer "+delay.String()+": the master sees the offer that late"
		e.record(ev)
	}
	return held
}

// releaseHeld hands the master what holdForSlowMaster held, in order.
func (e *Emulator) releaseHeld(c *conn) {
	e.mu.Lock()
	held := c.held
	c.held, c.holding = nil, false
	e.mu.Unlock()
	for _, m := range held {
		e.route(c.ch, m.msg, m.corr, c)
	}
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
