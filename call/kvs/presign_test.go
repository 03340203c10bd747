package kvs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The presigned-URL example of the AWS S3 documentation ("Authenticating Requests:
// Using Query Parameters (AWS Signature Version 4)", sigv4-query-string-auth):
// GET https://examplebucket.s3.amazonaws.com/test.txt, valid 86400 s from
// 20130524T000000Z, us-east-1, payload UNSIGNED-PAYLOAD, access key
// AKIAIOSFODNN7EXAMPLE with the documented example secret; the documented
// signature is s3VectorSignature.
const (
	exampleAccessKey  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	s3VectorSignature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)

var s3VectorTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func exampleCreds(token string) aws.Credentials {
	return aws.Credentials{AccessKeyID: exampleAccessKey, SecretAccessKey: exampleSecretKey, SessionToken: token}
}

// referenceSignature computes a presigned-URL signature the way the KVS JS SDK's
// SigV4RequestSigner.getSignedURL does, independently of aws-sdk-go-v2: params
// are the query parameters without X-Amz-Signature.
func referenceSignature(secret, region, service, host, path, payloadHash string, params map[string]string, t time.Time) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q []string
	for _, k := range keys {
		q = append(q, k+"="+strings.ReplaceAll(url.QueryEscape(params[k]), "+", "%20"))
	}
	canonical := strings.Join([]string{"GET", path, strings.Join(q, "&"), "host:" + host + "\n", "host", payloadHash}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	date := t.UTC().Format("20060102")
	scope := date + "/" + region + "/" + service + "/aws4_request"
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", t.UTC().Format("20060102T150405Z"), scope, hex.EncodeToString(sum[:])}, "\n")
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
	return hex.EncodeToString(mac(k, toSign))
}

func TestSigV4PresignVector(t *testing.T) {
	u, err := url.Parse("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Expires=86400")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := presign(context.Background(), exampleCreds(""), u, "UNSIGNED-PAYLOAD", "s3", "us-east-1", s3VectorTime)
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	if sig := got.Query().Get("X-Amz-Signature"); sig != s3VectorSignature {
		t.Errorf("SDK presign signature = %s, want the documented %s", sig, s3VectorSignature)
	}
	// The independent reference signer must reproduce the vector too, so it can judge KVS URLs below.
	ref := referenceSignature(exampleSecretKey, "us-east-1", "s3", "examplebucket.s3.amazonaws.com", "/test.txt", "UNSIGNED-PAYLOAD", map[string]string{
		"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
		"X-Amz-Credential":    exampleAccessKey + "/20130524/us-east-1/s3/aws4_request",
		"X-Amz-Date":          "20130524T000000Z",
		"X-Amz-Expires":       "86400",
		"X-Amz-SignedHeaders": "host",
	}, s3VectorTime)
	if ref != s3VectorSignature {
		t.Errorf("reference signature = %s, want %s", ref, s3VectorSignature)
	}
}

func TestPresignURLShape(t *testing.T) {
	const arn = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo-channel/1234567890123"
	now := time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC)
	cases := []struct {
		name, endpoint, clientID, token, wantHost, wantPath string
	}{
		{"viewer", "wss://v-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "viewer-1", "", "v-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "/"},
		{"viewer with token", "wss://v-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "viewer-1", "FwoGZXIvYXdzEBYaDH+token/with=chars", "v-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "/"},
		{"master", "wss://m-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "", "", "m-1a2b3c4d.kinesisvideo.us-west-2.amazonaws.com", "/"},
		{"local port and path", "wss://127.0.0.1:8443/signal", "v", "", "127.0.0.1:8443", "/signal"},
		{"default port dropped", "wss://example.test:443", "v", "", "example.test", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := PresignURL(context.Background(), exampleCreds(tc.token), "us-west-2", tc.endpoint, arn, tc.clientID, now)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(signed)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "wss" || u.Host != tc.wantHost || u.Path != tc.wantPath {
				t.Fatalf("URL %s://%s%s, want wss://%s%s", u.Scheme, u.Host, u.Path, tc.wantHost, tc.wantPath)
			}
			q := u.Query()
			want := map[string]string{
				"X-Amz-ChannelARN":    arn,
				"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
				"X-Amz-Credential":    exampleAccessKey + "/20240301/us-west-2/kinesisvideo/aws4_request",
				"X-Amz-Date":          "20240301T123045Z",
				"X-Amz-Expires":       "299",
				"X-Amz-SignedHeaders": "host",
			}
			if tc.clientID != "" {
				want["X-Amz-ClientId"] = tc.clientID
			}
			if tc.token != "" {
				want["X-Amz-Security-Token"] = tc.token
			}
			for k, v := range want {
				if got := q.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k := range q {
				if _, ok := want[k]; !ok && k != "X-Amz-Signature" {
					t.Errorf("unexpected query parameter %s", k)
				}
			}
			if tc.clientID == "" && q.Has("X-Amz-ClientId") {
				t.Error("master URL carries X-Amz-ClientId")
			}
			// The signature must be what the JS SDK's algorithm computes for the same inputs
			// (session token inside the canonical query, as KVS requires).
			ref := referenceSignature(exampleSecretKey, "us-west-2", "kinesisvideo", tc.wantHost, tc.wantPath, emptyPayloadHash, want, now)
			if got := q.Get("X-Amz-Signature"); got != ref {
				t.Errorf("signature %s, reference %s", got, ref)
			}
		})
	}
}

func TestPresignURLRejects(t *testing.T) {
	const arn = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/c/1"
	now := time.Now()
	cases := []struct{ name, region, endpoint, arn string }{
		{"https endpoint", "us-west-2", "https://x.test", arn},
		{"query in endpoint", "us-west-2", "wss://x.test/?a=b", arn},
		{"no region", "", "wss://x.test", arn},
		{"no channel", "us-west-2", "wss://x.test", ""},
		{"garbage", "us-west-2", "::::", arn},
	}
	for _, tc := range cases {
		if _, err := PresignURL(context.Background(), exampleCreds(""), tc.region, tc.endpoint, tc.arn, "v", now); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := PresignURL(context.Background(), aws.Credentials{AccessKeyID: "A"}, "us-west-2", "wss://x.test", arn, "v", now); err == nil {
		t.Error("credentials without secret: no error")
	}
}
