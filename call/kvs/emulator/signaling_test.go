package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

func TestRelayBothWays(t *testing.T) {
	var log bytes.Buffer
	h := startHarness(t, Config{EventLog: &syncWriter{w: &log}})
	master := h.dial("")
	viewer := h.dial("viewer-1")

	viewer.sendMsg(kvs.ActionSDPOffer, offer(1), "", "corr-1")
	m := master.nextMsg()
	if m.MessageType != kvs.TypeSDPOffer || m.SenderClientID != "viewer-1" || sdpOf(t, m).SDP != offer(1).SDP {
		t.Fatalf("master got %+v", m)
	}
	viewer.sendMsg(kvs.ActionICECandidate, candidate(1), "", "")
	if m := master.nextMsg(); m.MessageType != kvs.TypeICECandidate || m.SenderClientID != "viewer-1" {
		t.Fatalf("master got %+v", m)
	}

	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	m = viewer.nextMsg()
	if m.MessageType != kvs.TypeSDPAnswer || m.SenderClientID != "" || sdpOf(t, m).SDP != answer(1).SDP {
		t.Fatalf("viewer got %+v", m)
	}
	master.sendMsg(kvs.ActionICECandidate, candidate(2), "viewer-1", "")
	m = viewer.nextMsg()
	var c kvs.Candidate
	if err := kvs.DecodePayload(m.MessagePayload, &c); err != nil || c.Candidate != candidate(2).Candidate {
		t.Fatalf("viewer candidate %+v: %v", c, err)
	}
	if got := h.e.Viewers("demo-channel"); len(got) != 1 || got[0] != "viewer-1" {
		t.Errorf("Viewers = %v", got)
	}

	// The JSON-lines sink holds the same events, with sizes but never payloads.
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventRelay && ev.Action == "ICE_CANDIDATE" && ev.Recipient == "viewer-1"
	})
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	relays := 0
	for _, l := range lines {
		var ev Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event line %q: %v", l, err)
		}
		if ev.Kind == EventRelay {
			relays++
			if ev.Size == 0 {
				t.Errorf("relay event without size: %s", l)
			}
		}
		if strings.Contains(l, "v=0") || strings.Contains(l, offer(1).SDP) || strings.Contains(l, base64.StdEncoding.EncodeToString([]byte(`{"type"`))) {
			t.Errorf("event line holds payload content: %s", l)
		}
	}
	if relays != 4 {
		t.Errorf("%d relay events in the sink, want 4", relays)
	}
}

// syncWriter serialises writes for a bytes.Buffer read by the test after Close.
type syncWriter struct{ w *bytes.Buffer }

func (s *syncWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func TestQueueTTLAndOfferOverwrite(t *testing.T) {
	h := startHarness(t, Config{MessageTTL: 10 * time.Second})
	viewer := h.dial("viewer-1")

	// No master yet: two offers and a candidate are queued; the newer offer replaces the older.
	viewer.sendMsg(kvs.ActionSDPOffer, offer(1), "", "")
	viewer.sendMsg(kvs.ActionICECandidate, candidate(1), "", "")
	viewer.sendMsg(kvs.ActionSDPOffer, offer(2), "", "")
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventOverwritten && ev.ClientID == "viewer-1" })
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventQueued && ev.Action == "SDP_OFFER" && strings.Contains(ev.Detail, "10s")
	})

	master := h.dial("")
	first, second := master.nextMsg(), master.nextMsg()
	if first.MessageType != kvs.TypeICECandidate || second.MessageType != kvs.TypeSDPOffer || sdpOf(t, second).SDP != offer(2).SDP {
		t.Fatalf("master got %s then %s (%q)", first.MessageType, second.MessageType, sdpOf(t, second).SDP)
	}

	// A master answer to a viewer that is gone is kept for the TTL, then dropped.
	if err := viewer.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" })
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "corr-a")
	sr := master.nextMsg()
	if sr.MessageType != kvs.TypeStatusResponse || sr.StatusResponse.CorrelationID != "corr-a" || sr.StatusResponse.StatusCode != "400" {
		t.Fatalf("master got %+v, want a STATUS_RESPONSE for the absent recipient", sr)
	}
	master.sendMsg(kvs.ActionSDPAnswer, answer(2), "viewer-1", "")
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventQueued && ev.Action == "SDP_ANSWER" && ev.Recipient == "viewer-1"
	})
	// Within the TTL the viewer gets it on reconnect.
	h.clock.Advance(9 * time.Second)
	viewer2 := h.dial("viewer-1")
	for _, want := range []string{answer(1).SDP, answer(2).SDP} {
		if m := viewer2.nextMsg(); m.MessageType != kvs.TypeSDPAnswer || sdpOf(t, m).SDP != want {
			t.Fatalf("reconnected viewer got %+v", m)
		}
	}
	// Past the TTL it is gone.
	mark := h.mark()
	if err := viewer2.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" })
	master.sendMsg(kvs.ActionSDPAnswer, answer(3), "viewer-1", "")
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventQueued && ev.Action == "SDP_ANSWER" })
	h.clock.Advance(11 * time.Second)
	viewer3 := h.dial("viewer-1")
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventExpired && ev.Recipient == "viewer-1" && ev.Action == "SDP_ANSWER"
	})
	viewer3.sendMsg(kvs.ActionSDPOffer, offer(9), "", "")
	if m := master.nextMsg(); m.MessageType != kvs.TypeSDPOffer || sdpOf(t, m).SDP != offer(9).SDP {
		t.Fatalf("master got %+v", m)
	}
	master.sendMsg(kvs.ActionSDPAnswer, answer(9), "viewer-1", "")
	if m := viewer3.nextMsg(); sdpOf(t, m).SDP != answer(9).SDP {
		t.Fatalf("viewer got %q first, want only the fresh answer (the expired one must be gone)", sdpOf(t, m).SDP)
	}
}

func TestStatusResponses(t *testing.T) {
	h := startHarness(t, Config{})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	big := strings.Repeat("A", kvs.MaxPayloadBytes+4)
	cases := []struct {
		name, frame, errType string
	}{
		{"bad base64", `{"action":"SDP_OFFER","messagePayload":"%%%","correlationId":"c1"}`, "InvalidArgumentException"},
		{"payload not JSON", `{"action":"SDP_OFFER","messagePayload":"` + base64.StdEncoding.EncodeToString([]byte("not json")) + `","correlationId":"c2"}`, "InvalidArgumentException"},
		{"unknown action", `{"action":"SDP_PRANSWER","messagePayload":"e30=","correlationId":"c3"}`, "InvalidArgumentException"},
		{"too large", `{"action":"SDP_OFFER","messagePayload":"` + big + `","correlationId":"c4"}`, "InvalidArgumentException"},
		{"no payload", `{"action":"ICE_CANDIDATE","correlationId":"c5"}`, "InvalidArgumentException"},
	}
	for _, tc := range cases {
		viewer.write([]byte(tc.frame))
		m := viewer.nextMsg()
		if m.MessageType != kvs.TypeStatusResponse || m.StatusResponse.ErrorType != tc.errType || m.StatusResponse.StatusCode != "400" ||
			!strings.HasPrefix(tc.frame[strings.Index(tc.frame, `"correlationId":"`)+17:], m.StatusResponse.CorrelationID+`"`) || m.StatusResponse.Description == "" {
			t.Errorf("%s: got %+v / %+v", tc.name, m, m.StatusResponse)
		}
	}
	// The master must name a recipient.
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "", "m1")
	if m := master.nextMsg(); m.MessageType != kvs.TypeStatusResponse || m.StatusResponse.CorrelationID != "m1" {
		t.Errorf("master without recipient: %+v", m)
	}

	// Bad frames without a correlationId are dropped silently: the next frame the viewer
	// sees is the master's answer, not a STATUS_RESPONSE.
	for _, f := range []string{`{"action":"SDP_OFFER","messagePayload":"%%%"}`, `not json`, `{"action":"NOPE","messagePayload":"e30="}`,
		`{"action":"SDP_OFFER","messagePayload":"e30=","correlationId":"bad id with spaces"}`} {
		viewer.write([]byte(f))
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventDropped && ev.Detail == "invalid correlationId" })
	master.sendMsg(kvs.ActionSDPAnswer, answer(2), "viewer-1", "")
	if m := viewer.nextMsg(); m.MessageType != kvs.TypeSDPAnswer {
		t.Errorf("viewer got %+v, want the answer (no STATUS_RESPONSE without correlationId)", m)
	}
	dropped := 0
	for _, ev := range h.e.Events() {
		if ev.Kind == EventDropped && ev.ClientID == "viewer-1" {
			dropped++
		}
	}
	if dropped != len(cases)+4 {
		t.Errorf("%d dropped events for the viewer, want %d", dropped, len(cases)+4)
	}
}

func TestRateLimit(t *testing.T) {
	h := startHarness(t, Config{})
	master := h.dial("")
	viewer := h.dial("viewer-1")
	// 40 offers back to back against the 5 TPS bucket (burst 5): each is either relayed
	// or answered with a ClientLimitExceededException STATUS_RESPONSE.
	const n = 40
	for i := range n {
		viewer.sendMsg(kvs.ActionSDPOffer, offer(i), "", fmt.Sprintf("o%d", i))
	}
	relayed, limited := 0, 0
	h.waitEvent(func(ev Event) bool {
		switch {
		case ev.Kind == EventRelay && ev.ClientID == "viewer-1":
			relayed++
		case ev.Kind == EventStatusResponse && ev.ClientID == "viewer-1" && strings.HasPrefix(ev.Detail, "ClientLimitExceededException"):
			limited++
		}
		return relayed+limited == n
	})
	if relayed < SDPMessagesPerSecond || limited == 0 {
		t.Errorf("%d relayed, %d rate-limited", relayed, limited)
	}
	for range relayed {
		if m := master.nextMsg(); m.MessageType != kvs.TypeSDPOffer {
			t.Fatalf("master got %+v", m)
		}
	}
	for range limited {
		if m := viewer.nextMsg(); m.MessageType != kvs.TypeStatusResponse || m.StatusResponse.ErrorType != "ClientLimitExceededException" {
			t.Fatalf("viewer got %+v", m)
		}
	}
}

func TestViewerLimitWithStaleHold(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{StaleViewerHold: time.Minute}})
	var viewers []*wsClient
	for i := range MaxViewersPerChannel {
		viewers = append(viewers, h.dial(fmt.Sprintf("viewer-%d", i)))
	}
	status, body := h.dialFail(h.presign("viewer-extra", h.e.Credentials(), h.clock.Now()))
	if status != http.StatusBadRequest || !strings.Contains(body, "ClientLimitExceededException") {
		t.Fatalf("11th viewer: %d %s", status, body)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventRefused && ev.ClientID == "viewer-extra" })

	// A viewer leaves, but its slot is held: still full, and Viewers lists it.
	if err := viewers[0].c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventFault && ev.ClientID == "viewer-0" && strings.HasPrefix(ev.Detail, "stale-viewers")
	})
	if got := h.e.Viewers("demo-channel"); len(got) != MaxViewersPerChannel || got[0] != "viewer-0" {
		t.Errorf("Viewers = %v", got)
	}
	if status, _ := h.dialFail(h.presign("viewer-extra", h.e.Credentials(), h.clock.Now())); status != http.StatusBadRequest {
		t.Fatalf("11th viewer during the hold: %d", status)
	}
	// The same ClientId may take its own held slot back.
	back := h.dial("viewer-0")
	mark := h.mark()
	if err := back.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	h.waitEventAfter(mark, func(ev Event) bool { return ev.Kind == EventFault && ev.ClientID == "viewer-0" })
	// Once the hold ends the slot is free.
	h.clock.Advance(61 * time.Second)
	if got := h.e.Viewers("demo-channel"); len(got) != MaxViewersPerChannel-1 {
		t.Errorf("Viewers after the hold = %v", got)
	}
	h.dial("viewer-extra")
}

func TestClientIDReplacement(t *testing.T) {
	h := startHarness(t, Config{})
	master := h.dial("")
	first := h.dial("viewer-1")
	second := h.dial("viewer-1")
	if err := first.ended(); closeStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("replaced viewer ended with %v, want a normal close", err)
	}
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventDisconnect && ev.ClientID == "viewer-1" && strings.HasPrefix(ev.Detail, "replaced")
	})
	if got := h.e.Viewers("demo-channel"); len(got) != 1 {
		t.Errorf("Viewers = %v", got)
	}
	master.sendMsg(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	if m := second.nextMsg(); m.MessageType != kvs.TypeSDPAnswer {
		t.Errorf("new connection got %+v", m)
	}

	master2 := h.dial("")
	if err := master.ended(); closeStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("replaced master ended with %v", err)
	}
	second.sendMsg(kvs.ActionSDPOffer, offer(1), "", "")
	if m := master2.nextMsg(); m.SenderClientID != "viewer-1" {
		t.Errorf("new master got %+v", m)
	}
}

func TestSignalingHandshakeFailures(t *testing.T) {
	h := startHarness(t, Config{})
	creds := h.e.Credentials()

	status, body := h.dialFail(h.presign("viewer-1", creds, h.clock.Now().Add(-300*time.Second)))
	if status != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Errorf("expired URL: %d %s", status, body)
	}
	wrong := creds
	wrong.SecretAccessKey = "wrong"
	if status, body := h.dialFail(h.presign("viewer-1", wrong, h.clock.Now())); status != http.StatusForbidden ||
		!strings.Contains(body, "signature we calculated does not match") {
		t.Errorf("wrong secret: %d %s", status, body)
	}
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}
	if status, _ := h.dialFail(h.presign("viewer-1", unknown, h.clock.Now())); status != http.StatusForbidden {
		t.Errorf("unknown key: %d", status)
	}
	base := "wss://" + h.e.listener.Addr().String() + "/"
	missing := presignURL(t, base, "arn:aws:kinesisvideo:us-west-2:123456789012:channel/missing/1", "viewer-1", creds, h.e.Region(), h.clock.Now(), 299)
	if status, body := h.dialFail(missing); status != http.StatusNotFound || !strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("unknown channel: %d %s", status, body)
	}
	bad := presignURL(t, base, h.e.ChannelARN("demo-channel"), "AWS_reserved", creds, h.e.Region(), h.clock.Now(), 299)
	if status, _ := h.dialFail(bad); status != http.StatusBadRequest {
		t.Errorf("invalid ClientId: %d", status)
	}
	h.e.SetFaults(Faults{Reject403: 1})
	if status, body := h.dialFail(h.presign("viewer-1", creds, h.clock.Now())); status != http.StatusForbidden ||
		!strings.Contains(body, "AccessDeniedException") {
		t.Errorf("reject-403: %d %s", status, body)
	}
	h.dial("viewer-1")
	for _, ev := range h.e.Events() {
		if strings.Contains(fmt.Sprint(ev), creds.SecretAccessKey) {
			t.Fatalf("event leaks the secret: %+v", ev)
		}
	}
}

// TestBrowserOriginIsAccepted: a browser's WebSocket carries the page's
// Origin (the KVS JS SDK's test page runs on any host); KVS authenticates
// the presigned URL, not the origin, and so does the emulator. It refused
// such handshakes until the JS SDK interop test (call/interop) tried one.
func TestBrowserOriginIsAccepted(t *testing.T) {
	h := startHarness(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.presign("browser-viewer", h.e.Credentials(), h.clock.Now()), &websocket.DialOptions{
		HTTPClient: h.http, HTTPHeader: http.Header{"Origin": {"https://test-page.example"}},
	})
	if err != nil {
		t.Fatalf("handshake from a web page: %v (%s)", err, respBody(resp))
	}
	_ = c.CloseNow()
}
