// Message routing: route delivers a client message to its recipient or queues
// it for the channel's message TTL (queueLocked, bounded by trimLocked);
// sendStatus answers a refused message with a STATUS_RESPONSE.

package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

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
	dropped := ch.trimLocked(msg.recipient, e.cfg.MaxQueued, e.cfg.MaxQueuedChannel)
	e.queueDropped += int64(len(dropped))
	events = append(events, dropped...)
	// The queued event comes last: whoever waits for it sees the drops it
	// caused already recorded.
	ev := msg.event(ch.name)
	ev.Kind, ev.Detail = EventQueued, "recipient not connected; kept for "+ch.ttl.String()
	return append(events, ev)
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
