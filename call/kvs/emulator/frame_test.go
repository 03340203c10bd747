package emulator

import (
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// FuzzParseClientFrame: arbitrary frames never panic; accepted frames satisfy the
// service's rules; refusals only promise a STATUS_RESPONSE with a valid correlationId.
func FuzzParseClientFrame(f *testing.F) {
	good, err := kvs.EncodeClientMessage(kvs.ActionSDPOffer, offer(1), "", "c-1")
	if err != nil {
		f.Fatal(err)
	}
	fromMaster, err := kvs.EncodeClientMessage(kvs.ActionSDPAnswer, answer(1), "viewer-1", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good), false)
	f.Add(string(fromMaster), true)
	f.Add(`{"action":"ICE_CANDIDATE","messagePayload":"e30","correlationId":"x"}`, false)
	f.Add(`{"action":"SDP_OFFER","messagePayload":"%%%","correlationId":"c"}`, false)
	f.Add(`{"action":1}`, true)
	f.Add(`[]`, false)
	f.Add(`null`, true)
	f.Fuzz(func(t *testing.T, frame string, master bool) {
		role := RoleViewer
		if master {
			role = RoleMaster
		}
		cf, ferr := parseClientFrame(role, []byte(frame))
		if ferr != nil {
			if ferr.corr != "" && kvs.ValidateCorrelationID(ferr.corr) != nil {
				t.Fatalf("would answer an invalid correlationId %q", ferr.corr)
			}
			if ferr.corr != "" && ferr.errType == "" {
				t.Fatalf("STATUS_RESPONSE without errorType: %+v", ferr)
			}
			return
		}
		var v any
		if len(cf.payload) == 0 || len(cf.payload) > kvs.MaxPayloadBytes || kvs.DecodePayload(cf.payload, &v) != nil {
			t.Fatalf("accepted a bad payload: %+v", cf)
		}
		if master != (cf.recipient != "") || (master && kvs.ValidateClientID(cf.recipient) != nil) {
			t.Fatalf("recipient %q accepted for role %s", cf.recipient, role)
		}
	})
}

func BenchmarkVerifyPresignedURL(b *testing.B) {
	creds := aws.Credentials{AccessKeyID: "AKIATESTKEY", SecretAccessKey: "secret-one"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u, err := url.Parse(presignURL(b, "wss://127.0.0.1:4443/", "arn:aws:kinesisvideo:us-west-2:1:channel/c/1", "v1", creds, "us-west-2", now, 299))
	if err != nil {
		b.Fatal(err)
	}
	lookup := testLookup(creds)
	for b.Loop() {
		if _, err := VerifyPresignedURL(u, "127.0.0.1:4443", "us-west-2", lookup, now); err != nil {
			b.Fatal(err)
		}
	}
}
