package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// lockedBuffer is an io.Writer safe to read while the emulator writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// kinds counts the events of each kind in the JSON lines written so far.
func (l *lockedBuffer) kinds(t *testing.T) map[string]int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(l.b.String()), "\n") {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		out[ev.Kind]++
	}
	return out
}

// The in-memory event log keeps the last EventLogSize events; the JSON-lines
// sink gets every one; failed authentications are only counted.
func TestEventLogIsBounded(t *testing.T) {
	const size, calls, unauthenticated = 40, 150, 150
	sink := &lockedBuffer{}
	h := startHarness(t, Config{EventLogSize: size, EventLog: sink})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	in := &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String(defaultChannel)}
	for range calls {
		if _, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	wrong := h.e.Credentials()
	wrong.SecretAccessKey = "wrong" + wrong.SecretAccessKey[5:]
	for i := range unauthenticated {
		if i%2 == 0 {
			_, err := h.sdk(wrong).DescribeSignalingChannel(ctx, in)
			if apiCode(err) != "InvalidSignatureException" {
				t.Fatalf("wrong secret: %v", err)
			}
			continue
		}
		if status, _ := h.dialFail(h.presign("v-unauth", wrong, h.clock.Now())); status != 403 {
			t.Fatalf("unauthenticated handshake: HTTP %d", status)
		}
	}

	events := h.e.Events()
	if len(events) != size {
		t.Fatalf("%d events kept, want the last %d", len(events), size)
	}
	for _, ev := range events {
		if ev.Kind != EventControlPlane {
			t.Fatalf("kept %+v; want only the newest (control plane) events", ev)
		}
	}
	st := h.e.Stats()
	if st.Events != size || st.EventsRecorded < calls || st.AuthFailures != unauthenticated {
		t.Fatalf("stats %+v", st)
	}
	if n := h.e.AuthFailures()["signature_mismatch"]; n != unauthenticated {
		t.Errorf("auth failures by reason %v", h.e.AuthFailures())
	}
	if k := sink.kinds(t); k[EventControlPlane] != calls || k[EventAuthFailure] != unauthenticated {
		t.Errorf("the JSON-lines sink got %v, want every event", k)
	}

	// Waiting still works once the log has wrapped, from the start and from a mark.
	mark := h.mark()
	if _, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in); err != nil {
		t.Fatal(err)
	}
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventControlPlane })
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventControlPlane })
}

// Undelivered messages are capped per recipient and per channel (the oldest
// go first, each drop is an event), and expired ones are freed even when the
// channel sees no more traffic.
func TestQueuedMessagesAreBounded(t *testing.T) {
	const perRecipient, perChannel = 5, 8
	h := startHarness(t, Config{MessageTTL: 10 * time.Second, MaxQueued: perRecipient, MaxQueuedChannel: perChannel})
	master := h.dial("")
	queued := 0
	sendTo := func(recipient string, n int) {
		for i := range n {
			mark := h.mark()
			master.sendMsg(kvs.ActionICECandidate, candidate(i), recipient, "")
			h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventQueued && ev.Recipient == recipient })
			queued++
		}
	}
	// Two viewers that never connect.
	sendTo("ghost-1", 10)
	if got := h.e.QueuedMessages(defaultChannel); got["ghost-1"] != perRecipient {
		t.Fatalf("queued %v, want %d for ghost-1", got, perRecipient)
	}
	sendTo("ghost-2", 10)
	got := h.e.QueuedMessages(defaultChannel)
	if got["ghost-2"] != perRecipient || got["ghost-1"] != perChannel-perRecipient || len(got) != 2 {
		t.Fatalf("queued %v, want ghost-2:%d ghost-1:%d", got, perRecipient, perChannel-perRecipient)
	}
	st := h.e.Stats()
	if st.Queued != perChannel || st.QueueDropped != int64(queued-perChannel) {
		t.Fatalf("stats %+v after %d queued messages", st, queued)
	}
	dropped := 0
	for _, ev := range h.e.Events() {
		if ev.Kind == EventDropped && strings.Contains(ev.Detail, "queue full") {
			dropped++
		}
	}
	if dropped != queued-perChannel {
		t.Errorf("%d queue-full events, want %d", dropped, queued-perChannel)
	}

	// An unauthenticated client leaves nothing behind but a count.
	before := h.e.Stats()
	wrong := h.e.Credentials()
	wrong.SecretAccessKey = "wrong" + wrong.SecretAccessKey[5:]
	if status, _ := h.dialFail(h.presign("intruder", wrong, h.clock.Now())); status != 403 {
		t.Fatalf("unauthenticated handshake: HTTP %d", status)
	}
	after := h.e.Stats()
	if after.AuthFailures != before.AuthFailures+1 || after.EventsRecorded != before.EventsRecorded || after.Queued != before.Queued {
		t.Errorf("stats before %+v, after the unauthenticated client %+v", before, after)
	}

	// Past the TTL the queue is emptied by the emulator itself: nobody
	// connects, sends or dials on this channel again.
	mark := h.mark()
	h.clock.Advance(11 * time.Second)
	expired := 0
	h.waitEventAfter(mark, func(ev Event) bool {
		if ev.Kind == EventExpired {
			expired++
		}
		return expired == perChannel
	})
	if got := h.e.QueuedMessages(defaultChannel); len(got) != 0 {
		t.Fatalf("queued %v after the TTL", got)
	}
	h.e.mu.Lock()
	held := cap(h.e.channels[defaultChannel].pending)
	h.e.mu.Unlock()
	if held != 0 {
		t.Errorf("the emptied queue still holds an array of %d", held)
	}
}

// A heavy load of undelivered messages and events leaves the heap at the caps'
// size, not at the load's: 20,000 messages of 4 KB for recipients that never
// connect would hold 80 MB unbounded.
func TestQueueMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("heap measurement")
	}
	h := startHarness(t, Config{})
	h.e.mu.Lock()
	ch := h.e.channels[defaultChannel]
	h.e.mu.Unlock()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const messages, frameSize = 20_000, 4 << 10
	for i := range messages {
		msg := &pendingMsg{
			sender: "", recipient: "ghost-" + string(rune('a'+i%50)), action: kvs.ActionICECandidate,
			frame: make([]byte, frameSize), size: frameSize,
		}
		h.e.route(ch, msg, "", nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KB for %d messages of %d bytes; stats %+v", grown>>10, messages, frameSize, h.e.Stats())
	if limit := int64(DefaultMaxQueuedChannel*frameSize) + 16<<20; grown > limit {
		t.Errorf("heap grew by %d MB, want at most %d MB", grown>>20, limit>>20)
	}
	st := h.e.Stats()
	if st.Queued != DefaultMaxQueuedChannel || st.Events != DefaultEventLogSize {
		t.Errorf("stats %+v", st)
	}
	if n := h.e.QueuedMessages(defaultChannel)["ghost-a"]; n > DefaultMaxQueued {
		t.Errorf("%d queued for one recipient", n)
	}
}

// A channel remembers when at most maxLastClosed viewer ClientIds last
// closed, forgetting the oldest first.
func TestLastClosedIsBounded(t *testing.T) {
	ch := &channel{lastClosed: map[string]time.Time{}}
	start := time.Now()
	for i := range maxLastClosed + 10 {
		ch.noteClosedLocked(fmt.Sprintf("viewer-%d", i), start.Add(time.Duration(i)*time.Millisecond))
	}
	if len(ch.lastClosed) != maxLastClosed {
		t.Fatalf("%d remembered", len(ch.lastClosed))
	}
	if _, ok := ch.lastClosed["viewer-0"]; ok {
		t.Error("the oldest was kept")
	}
	if _, ok := ch.lastClosed[fmt.Sprintf("viewer-%d", maxLastClosed+9)]; !ok {
		t.Error("the newest was forgotten")
	}
}

// TestChannelNameLength: a channel name has 1 to 256 characters, as KVS
// allows, in the emulator's configuration.
func TestChannelNameLength(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{strings.Repeat("a", 256), true},
		{strings.Repeat("a", 257), false},
		{"", false},
		{"door 1", false},
	} {
		_, err := Config{Channels: []string{c.name}}.withDefaults()
		if (err == nil) != c.ok {
			t.Errorf("channel name of %d characters %q: error %v, want ok %v", len(c.name), clip(c.name, 20), err, c.ok)
		}
	}
}
