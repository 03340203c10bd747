// A signaling channel's state (channel): its master and viewers, stale
// viewer holds, and undelivered messages, with the periodic pruning of
// expired messages and holds; Viewers and QueuedMessages report it.

package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
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
