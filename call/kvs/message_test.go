package kvs

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func ptr[T any](v T) *T { return &v }

func TestClientMessageRoundTrip(t *testing.T) {
	cand := Candidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: ptr("0"), SDPMLineIndex: ptr(uint16(0))}
	frame, err := EncodeClientMessage(ActionICECandidate, cand, "viewer-1", "corr-1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeClientMessage(frame)
	if err != nil {
		t.Fatal(err)
	}
	if m.Action != ActionICECandidate || m.RecipientClientID != "viewer-1" || m.CorrelationID != "corr-1" {
		t.Fatalf("decoded %+v", m)
	}
	var got Candidate
	if err := DecodePayload(m.MessagePayload, &got); err != nil {
		t.Fatal(err)
	}
	if got.Candidate != cand.Candidate || *got.SDPMid != "0" || *got.SDPMLineIndex != 0 || got.UsernameFragment != nil {
		t.Fatalf("payload %+v", got)
	}
	// A viewer's frame has neither recipient nor correlation id on the wire.
	frame, err = EncodeClientMessage(ActionSDPOffer, SessionDescription{Type: "offer", SDP: "v=0\r\n"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(frame); strings.Contains(s, "recipientClientId") || strings.Contains(s, "correlationId") {
		t.Fatalf("viewer frame carries empty optional fields: %s", s)
	}
}

func TestEncodeClientMessageRejects(t *testing.T) {
	big := SessionDescription{Type: "offer", SDP: strings.Repeat("a", MaxPayloadBytes)}
	if _, err := EncodeClientMessage(ActionSDPOffer, big, "", ""); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("large payload: %v", err)
	}
	if _, err := EncodeClientMessage(ActionSDPAnswer, big, "AWS_x", ""); !errors.Is(err, ErrInvalidClientID) {
		t.Errorf("AWS_ recipient: %v", err)
	}
	if _, err := EncodeClientMessage(ActionSDPAnswer, SessionDescription{}, "v", "bad id"); !errors.Is(err, ErrInvalidCorrelationID) {
		t.Errorf("bad correlation id: %v", err)
	}
	for _, id := range []string{"", "AWS_viewer", "has space", "ü", strings.Repeat("a", 257)} {
		if ValidateClientID(id) == nil {
			t.Errorf("ValidateClientID(%q) accepted", id)
		}
	}
	for _, id := range []string{"a", "Viewer_1.2-3", strings.Repeat("a", 256), "aws_lowercase"} {
		if err := ValidateClientID(id); err != nil {
			t.Errorf("ValidateClientID(%q): %v", id, err)
		}
	}
}

func serviceFrame(t testing.TB, typ MessageType, payload any, sender string, status *StatusResponse) []byte {
	t.Helper()
	m := ServiceMessage{MessageType: typ, SenderClientID: sender, StatusResponse: status}
	if payload != nil {
		raw, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		m.MessagePayload = base64.StdEncoding.EncodeToString(raw)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMessage(t *testing.T) {
	now := time.Unix(1700000000, 0)
	m, err := parseMessage(serviceFrame(t, TypeSDPAnswer, SessionDescription{Type: "answer", SDP: "v=0\r\n"}, "", nil), now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeSDPAnswer || m.Answer == nil || m.Answer.Type != webrtc.SDPTypeAnswer || m.Answer.SDP != "v=0\r\n" || m.Offer != nil || !m.Received.Equal(now) {
		t.Fatalf("answer: %+v", m)
	}
	m, err = parseMessage(serviceFrame(t, TypeSDPOffer, SessionDescription{Type: "offer", SDP: "v=0\r\n"}, "viewer-7", nil), now)
	if err != nil || m.Offer == nil || m.Offer.Type != webrtc.SDPTypeOffer || m.SenderClientID != "viewer-7" {
		t.Fatalf("offer: %+v %v", m, err)
	}
	m, err = parseMessage(serviceFrame(t, TypeICECandidate, Candidate{Candidate: "candidate:x", SDPMid: ptr("1"), SDPMLineIndex: ptr(uint16(1)), UsernameFragment: ptr("uf")}, "", nil), now)
	if err != nil || m.Candidate == nil || m.Candidate.Candidate != "candidate:x" || *m.Candidate.SDPMid != "1" || *m.Candidate.SDPMLineIndex != 1 || *m.Candidate.UsernameFragment != "uf" {
		t.Fatalf("candidate: %+v %v", m, err)
	}
	st := &StatusResponse{CorrelationID: "c1", ErrorType: "InvalidArgumentException", StatusCode: "400", Description: "bad"}
	m, err = parseMessage(serviceFrame(t, TypeStatusResponse, nil, "", st), now)
	if err != nil || m.Status == nil || *m.Status != *st {
		t.Fatalf("status: %+v %v", m, err)
	}
	for _, typ := range []MessageType{TypeGoAway, TypeReconnectICEServer} {
		m, err = parseMessage(serviceFrame(t, typ, nil, "", nil), now)
		if err != nil || m.Type != typ {
			t.Fatalf("%s: %+v %v", typ, m, err)
		}
	}
	bad := [][]byte{
		[]byte(`not json`),
		[]byte(`{"messageType":"SDP_ANSWER"}`),
		[]byte(`{"messageType":"SDP_ANSWER","messagePayload":"***"}`),
		[]byte(`{"messageType":"SDP_ANSWER","messagePayload":"bm90IGpzb24="}`),
		serviceFrame(t, TypeSDPAnswer, SessionDescription{Type: "offer", SDP: "v=0"}, "", nil),
		serviceFrame(t, TypeSDPAnswer, SessionDescription{Type: "answer"}, "", nil),
		[]byte(`{"messageType":"STATUS_RESPONSE"}`),
		[]byte(`{"messageType":"SOMETHING_NEW"}`),
	}
	for _, f := range bad {
		if _, err := parseMessage(f, now); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("%s: err %v, want ErrMalformedMessage", f, err)
		}
	}
}

func FuzzDecodeServiceMessage(f *testing.F) {
	f.Add(serviceFrame(f, TypeSDPAnswer, SessionDescription{Type: "answer", SDP: "v=0\r\n"}, "", nil))
	f.Add(serviceFrame(f, TypeICECandidate, Candidate{Candidate: "candidate:1", SDPMid: ptr("0")}, "m", nil))
	f.Add(serviceFrame(f, TypeStatusResponse, nil, "", &StatusResponse{CorrelationID: "c"}))
	f.Add([]byte(`{"messageType":"GO_AWAY"}`))
	f.Add([]byte(`{"messageType":"SDP_OFFER","messagePayload":"e30"}`))
	f.Add([]byte(`{"messageType":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		sm, err := DecodeServiceMessage(frame)
		m, perr := parseMessage(frame, time.Time{})
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) || perr == nil {
				t.Fatalf("decode err %v, parse err %v", err, perr)
			}
			return
		}
		if perr != nil {
			if !errors.Is(perr, ErrMalformedMessage) {
				t.Fatalf("parse error not ErrMalformedMessage: %v", perr)
			}
			return
		}
		if m.Type != sm.MessageType {
			t.Fatalf("type %s vs %s", m.Type, sm.MessageType)
		}
		switch m.Type {
		case TypeSDPOffer:
			if m.Offer == nil || m.Offer.SDP == "" {
				t.Fatal("offer without SDP")
			}
		case TypeSDPAnswer:
			if m.Answer == nil || m.Answer.SDP == "" {
				t.Fatal("answer without SDP")
			}
		case TypeICECandidate:
			if m.Candidate == nil {
				t.Fatal("candidate missing")
			}
		case TypeStatusResponse:
			if m.Status == nil {
				t.Fatal("status missing")
			}
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString([]byte(`{"type":"offer","sdp":"v=0"}`)))
	f.Add(base64.RawStdEncoding.EncodeToString([]byte(`{"candidate":"c","sdpMLineIndex":0}`)))
	f.Add("e30=")
	f.Add("!!!")
	f.Add("")
	f.Fuzz(func(t *testing.T, p string) {
		var sd SessionDescription
		if err := DecodePayload(p, &sd); err == nil {
			// A payload that decodes re-encodes to one that decodes to the same value.
			q, err := EncodePayload(sd)
			if err != nil {
				if errors.Is(err, ErrPayloadTooLarge) {
					return
				}
				t.Fatal(err)
			}
			var again SessionDescription
			if err := DecodePayload(q, &again); err != nil || again != sd {
				t.Fatalf("re-decode %+v vs %+v: %v", again, sd, err)
			}
		} else if !errors.Is(err, ErrMalformedMessage) {
			t.Fatalf("error not ErrMalformedMessage: %v", err)
		}
		var c Candidate
		if err := DecodePayload(p, &c); err != nil && !errors.Is(err, ErrMalformedMessage) {
			t.Fatalf("error not ErrMalformedMessage: %v", err)
		}
	})
}
