package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// isMalformed reports whether a client must ignore f: it does not parse, or its payload
// is not base64 JSON.
func isMalformed(f []byte) bool {
	m, err := kvs.DecodeServiceMessage(f)
	if err != nil {
		return true
	}
	if m.MessagePayload == "" {
		return false
	}
	var v any
	return kvs.DecodePayload(m.MessagePayload, &v) != nil
}

// offerFate sends one offer from viewer id and reports whether it reached the master
// (true) or was dropped by a fault (false).
func offerFate(t *testing.T, h *harness, master, viewer *wsClient, id string, n int) bool {
	t.Helper()
	mark := h.mark()
	viewer.sendMsg(kvs.ActionSDPOffer, offer(n), "", "")
	ev := h.waitEventAfter(mark, func(ev Event) bool {
		return ev.ClientID == id && ev.Action == "SDP_OFFER" && (ev.Kind == EventRelay || ev.Kind == EventDropped)
	})
	if ev.Kind == EventDropped {
		return false
	}
	if m := master.nextMsg(); m.MessageType != kvs.TypeSDPOffer || sdpOf(t, m).SDP != offer(n).SDP {
		t.Fatalf("master got %+v", m)
	}
	return true
}

func TestFaultDropOffers(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{DropNextOffers: 2}})
	master := h.dial("")
	var fates []bool
	for i := range 3 {
		id := fmt.Sprintf("v%d", i)
		fates = append(fates, offerFate(t, h, master, h.dial(id), id, i))
	}
	if fmt.Sprint(fates) != "[false false true]" {
		t.Errorf("drop-offers=2: fates %v", fates)
	}
	if f := h.e.ActiveFaults(); f.DropNextOffers != 0 {
		t.Errorf("counter left at %d", f.DropNextOffers)
	}

	h.e.SetFaults(Faults{DropOfferEvery: 3})
	fates = nil
	for i := range 6 {
		id := fmt.Sprintf("w%d", i)
		fates = append(fates, offerFate(t, h, master, h.dial(id), id, i))
	}
	if fmt.Sprint(fates) != "[true true false true true false]" {
		t.Errorf("drop-offer-every=3: fates %v", fates)
	}
	// Candidates and answers are never dropped by these faults.
	h.e.SetFaults(Faults{DropNextOffers: 5})
	v := h.dial("cand")
	v.sendMsg(kvs.ActionICECandidate, candidate(1), "", "")
	if m := master.nextMsg(); m.MessageType != kvs.TypeICECandidate {
		t.Errorf("master got %+v", m)
	}
}

func TestFaultReuseCooldown(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{ReuseCooldown: time.Minute}})
	master := h.dial("")
	v := h.dial("viewer-1")
	if !offerFate(t, h, master, v, "viewer-1", 1) {
		t.Fatal("first session's offer dropped")
	}
	mark := h.mark()
	if err := v.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" })

	// Reused 30 s later: connected, but its offers get no answer.
	h.clock.Advance(30 * time.Second)
	v = h.dial("viewer-1")
	if offerFate(t, h, master, v, "viewer-1", 2) {
		t.Fatal("offer within the cooldown reached the master")
	}
	// Another id is not affected.
	if !offerFate(t, h, master, h.dial("viewer-2"), "viewer-2", 3) {
		t.Fatal("other ClientId's offer dropped")
	}
	mark = h.mark()
	if err := v.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" })
	// After the cooldown (counted from the last close) the id works again.
	h.clock.Advance(61 * time.Second)
	if !offerFate(t, h, master, h.dial("viewer-1"), "viewer-1", 4) {
		t.Fatal("offer after the cooldown dropped")
	}
}

// TestFaultAnswerDelay: the master sees a viewer's offer, and the candidate
// sent after it, only after the delay, in order (a slow master).
func TestFaultAnswerDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	h := startHarness(t, Config{Faults: Faults{AnswerDelay: delay}})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	sent := time.Now()
	viewer.sendMsg(kvs.ActionSDPOffer, offer(1), "", "")
	viewer.sendMsg(kvs.ActionICECandidate, candidate(1), "", "")
	if m := master.nextMsg(); m.MessageType != kvs.TypeSDPOffer || sdpOf(t, m).SDP != offer(1).SDP {
		t.Fatalf("first frame %+v, want the offer", m)
	}
	if took := time.Since(sent); took < delay {
		t.Errorf("the master saw the offer after %s, want at least %s", took, delay)
	}
	if m := master.nextMsg(); m.MessageType != kvs.TypeICECandidate {
		t.Fatalf("second frame %+v, want the candidate, after the offer", m)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventFault && strings.HasPrefix(ev.Detail, "delay-answer") })
	// The master's answer is not held.
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	if m := viewer.nextMsg(); m.MessageType != kvs.TypeSDPAnswer {
		t.Fatalf("viewer got %+v, want the answer at once", m)
	}
}

func TestFaultGoAwayReconnectICEDropSocket(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{GoAwayAfter: 50 * time.Millisecond, ReconnectICEAfter: 100 * time.Millisecond}})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	got := map[kvs.MessageType]bool{}
	for range 2 {
		got[viewer.nextMsg().MessageType] = true
	}
	if !got[kvs.TypeGoAway] || !got[kvs.TypeReconnectICEServer] {
		t.Errorf("viewer got %v", got)
	}
	// Only viewers get them.
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	viewer.nextMsg()

	h.e.SetFaults(Faults{DropSocketAfter: 50 * time.Millisecond})
	v2 := h.dial("viewer-2")
	err := v2.ended()
	if err == nil || closeStatus(err) != -1 {
		t.Errorf("dropped socket ended with %v, want an abrupt end without a close frame", err)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-2" })
	if got := h.e.Viewers("demo-channel"); len(got) != 1 || got[0] != "viewer-1" {
		t.Errorf("Viewers = %v", got)
	}
}

func TestFaultMalformedEvery(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{MalformedEvery: 2}})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	for i := range 4 {
		master.sendMsg(kvs.ActionICECandidate, candidate(i), "viewer-1", "")
	}
	good, bad := 0, 0
	for good < 4 {
		if isMalformed(viewer.next()) {
			bad++
			continue
		}
		good++
	}
	if bad != 2 {
		t.Errorf("%d malformed frames before 4 messages, want 2", bad)
	}
}

func TestExplicitControls(t *testing.T) {
	h := startHarness(t, Config{})
	master := h.dial("")
	viewer := h.dial("viewer-1")

	if err := h.e.SendGoAway("demo-channel", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	if m := viewer.nextMsg(); m.MessageType != kvs.TypeGoAway {
		t.Errorf("viewer got %+v", m)
	}
	if err := h.e.SendGoAway("demo-channel", ""); err != nil {
		t.Fatal(err)
	}
	if m := master.nextMsg(); m.MessageType != kvs.TypeGoAway {
		t.Errorf("master got %+v", m)
	}
	if err := h.e.SendReconnectICEServer("demo-channel", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	if m := viewer.nextMsg(); m.MessageType != kvs.TypeReconnectICEServer {
		t.Errorf("viewer got %+v", m)
	}
	if err := h.e.SendMalformed("demo-channel", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	for range len(malformedFrames) {
		if f := viewer.next(); !isMalformed(f) {
			t.Errorf("frame %q decodes fine, want malformed", f)
		}
	}
	// The connection still works after them.
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	if m := viewer.nextMsg(); m.MessageType != kvs.TypeSDPAnswer {
		t.Errorf("viewer got %+v", m)
	}

	if err := h.e.DropConnection("demo-channel", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	if err := viewer.ended(); closeStatus(err) != -1 {
		t.Errorf("dropped viewer ended with %v, want no close frame", err)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" })

	for name, err := range map[string]error{
		"go away, gone viewer":  h.e.SendGoAway("demo-channel", "viewer-1"),
		"reconnect, no channel": h.e.SendReconnectICEServer("nope", ""),
		"drop, gone viewer":     h.e.DropConnection("demo-channel", "viewer-1"),
		"malformed, no channel": h.e.SendMalformed("nope", "x"),
	} {
		if !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrUnknownChannel) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCloseEndsConnections: Close says goodbye to connected clients with 1001, refuses
// new work, and (with goleak in TestMain) leaves no goroutine behind.
func TestCloseEndsConnections(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{GoAwayAfter: time.Hour, AnswerDelay: time.Hour}})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	viewer.sendMsg(kvs.ActionSDPOffer, offer(1), "", "") // held for an hour
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventFault && strings.HasPrefix(ev.Detail, "delay-answer") })
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*wsClient{master, viewer} {
		if err := w.ended(); closeStatus(err) != websocket.StatusGoingAway {
			t.Errorf("client ended with %v, want going away", err)
		}
	}
	if err := h.e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.e.Endpoint()+"/describeSignalingChannel", nil)
	if resp, err := h.http.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Error("request after Close succeeded")
	}
}
