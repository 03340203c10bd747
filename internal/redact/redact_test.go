package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// Secrets as they appear in this project's logs: a presigned signaling URL,
// SDK request headers, credentials and TURN passwords.
const (
	testSecretKey    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testSessionToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletokenexampletokenexampletokenexampletokenexampletoken1234567890abcdefABCDEF=="
	testSignature    = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)

func TestStringRemovesSecrets(t *testing.T) {
	url := "wss://127.0.0.1:4443/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-ChannelARN=arn%3Aaws&X-Amz-ClientId=viewer-1" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-west-2%2Fkinesisvideo%2Faws4_request" +
		"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=299&X-Amz-Security-Token=" + testSessionToken +
		"&X-Amz-SignedHeaders=host&X-Amz-Signature=" + testSignature
	cases := []struct {
		name, in string
		secrets  []string
		keep     []string
	}{
		{"presigned url", url, []string{testSignature, testSessionToken, "AKIAIOSFODNN7EXAMPLE"}, []string{"X-Amz-ClientId=viewer-1", "X-Amz-Expires=299"}},
		{"url-encoded query", "x-amz-signature%3D" + testSignature + "%26next", []string{testSignature}, nil},
		{"authorization header", "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-west-2/kinesisvideo/aws4_request, SignedHeaders=host, Signature=" + testSignature,
			[]string{testSignature, "AKIAIOSFODNN7EXAMPLE"}, []string{"Authorization: "}},
		{"http.Header print", "map[Authorization:[AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/x, Signature=" + testSignature + "] X-Amz-Date:[20260101T000000Z]]",
			[]string{testSignature}, []string{"X-Amz-Date"}},
		{"bearer", `authorization="Bearer abc.def.ghi"`, []string{"abc.def.ghi"}, nil},
		{"bare secret key", "loaded key " + testSecretKey + " ok", []string{testSecretKey}, []string{"loaded key", " ok"}},
		{"ini secret", "aws_secret_access_key = " + testSecretKey, []string{testSecretKey}, []string{"aws_secret_access_key"}},
		{"json secret", `{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `","SessionToken":"short-token"}`,
			[]string{testSecretKey, "short-token"}, []string{"AccessKeyId"}},
		{"turn password", `{"Uris":["turn:1.2.3.4"],"Username":"1700000000:ch","Password":"s3cr3tTurnPass"}`, []string{"s3cr3tTurnPass"}, []string{"Username"}},
		{"long token alone", "token " + testSessionToken, []string{testSessionToken}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := String(c.in)
			for _, s := range c.secrets {
				if strings.Contains(out, s) {
					t.Errorf("secret %q survived: %s", s, out)
				}
			}
			for _, k := range c.keep {
				if !strings.Contains(out, k) {
					t.Errorf("lost %q: %s", k, out)
				}
			}
			if !strings.Contains(out, Marker) {
				t.Errorf("nothing marked redacted: %s", out)
			}
			if again := String(out); again != out {
				t.Errorf("not stable:\n%s\n%s", out, again)
			}
		})
	}
}

func TestStringKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"state Live after 412 ms",
		"commit 3f786850e387550fdab836ed7e6dc881de23001b", // 40 hex chars: not a secret key
		"ClientId viewer-pool-3 in cooldown for 58s",
		"ice candidate candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
	} {
		if out := String(s); out != s {
			t.Errorf("String(%q) = %q", s, out)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "X-Amz-Signature=" + testSignature, "authorization: Basic Zm9vOmJhcg==", `"password":"x"`,
		testSecretKey, "[REDACTED]", "secret=", "a=b&X-Amz-Credential=", strings.Repeat("A", 120)} {
		f.Add(s, testSignature)
	}
	f.Fuzz(func(t *testing.T, s, sig string) {
		out := String(s)
		if strings.Contains(s, "\n") && !strings.Contains(out, "\n") {
			t.Fatalf("lines merged: %q -> %q", s, out)
		}
		// A signature value planted in a presigned URL never survives.
		if len(sig) >= 8 && !strings.ContainsAny(sig, "&\t\n\r \"'<>") {
			u := s + " wss://h/?X-Amz-Signature=" + sig
			if strings.Contains(String(u), "X-Amz-Signature="+sig) {
				t.Fatalf("signature survived in %q", String(u))
			}
		}
	})
}

// TestHandlerRedactsEverything: a record's message, attributes, grouped
// attributes, WithAttrs attributes and error values all lose their secrets.
func TestHandlerRedactsEverything(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&out, nil))).With("token", "with-attrs-token", "url", "wss://h/?X-Amz-Signature="+testSignature)
	log.Info("loaded "+testSecretKey,
		"error", errors.New("parse failed of process output: {\"SecretAccessKey\":\""+testSecretKey+"\",\"SessionToken\":\""+testSessionToken+"\"}"),
		slog.Group("creds", "secret_access_key", testSecretKey, "note", "token "+testSessionToken))
	got := out.String()
	for _, s := range []string{testSecretKey, testSessionToken, testSignature, "with-attrs-token"} {
		if strings.Contains(got, s) {
			t.Errorf("secret %q survived: %s", s, got)
		}
	}
	if !strings.Contains(got, "loaded") || !strings.Contains(got, Marker) {
		t.Errorf("record lost its text: %s", got)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("héllo world", 2); got != "h…" {
		t.Errorf("Truncate cut a rune: %q", got)
	}
	if got := Truncate("short", 10); got != "short" {
		t.Errorf("Truncate changed a short string: %q", got)
	}
}
