package ui

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Secrets as they appear in this project's logs: a presigned signaling URL,
// SDK request headers, credentials and TURN passwords.
const (
	testSecretKey    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testSessionToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletokenexampletokenexampletokenexampletokenexampletoken1234567890abcdefABCDEF=="
	testSignature    = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)

func TestRedactRemovesSecrets(t *testing.T) {
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
			out := Redact(c.in)
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
			if !strings.Contains(out, Redacted) {
				t.Errorf("nothing marked redacted: %s", out)
			}
			if again := Redact(out); again != out {
				t.Errorf("not stable:\n%s\n%s", out, again)
			}
		})
	}
}

func TestRedactKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"state Live after 412 ms",
		"commit 3f786850e387550fdab836ed7e6dc881de23001b", // 40 hex chars: not a secret key
		"ClientId viewer-pool-3 in cooldown for 58s",
		"ice candidate candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
	} {
		if out := Redact(s); out != s {
			t.Errorf("Redact(%q) = %q", s, out)
		}
	}
}

func TestLogBufferRedactsAttrsAndFilters(t *testing.T) {
	b := NewLogBuffer(100, slog.LevelDebug)
	log := slog.New(b).With("component", "kvs")
	log.Debug("dialing", "url", "wss://h/?X-Amz-Signature="+testSignature)
	log.Info("credentials", "secret_access_key", testSecretKey, "password", "hunter2", "SessionToken", "tok")
	log.WithGroup("turn").Warn("ice servers", slog.Group("server", "username", "u", "credential", "p4ss"))
	log.Error("failed", "err", errors.New("Authorization: Bearer xyz"))

	all := b.Text(slog.LevelDebug)
	for _, s := range []string{testSignature, testSecretKey, "hunter2", "tok\n", "p4ss", "xyz"} {
		if strings.Contains(all, s) {
			t.Errorf("secret %q in log:\n%s", s, all)
		}
	}
	for _, s := range []string{"component=kvs", "turn.server.username=u", "level=ERROR"} {
		if !strings.Contains(all, s) {
			t.Errorf("missing %q in log:\n%s", s, all)
		}
	}
	if n := len(b.Records(slog.LevelDebug)); n != 4 {
		t.Errorf("%d records at debug, want 4", n)
	}
	if n := len(b.Records(slog.LevelWarn)); n != 2 {
		t.Errorf("%d records at warn, want 2", n)
	}
	if r := b.Records(slog.LevelError); len(r) != 1 || !strings.Contains(r[0].Line, "msg=failed") {
		t.Errorf("error records = %+v", r)
	}
}

func TestLogBufferLevelAndCapacity(t *testing.T) {
	b := NewLogBuffer(3, slog.LevelInfo)
	log := slog.New(b)
	log.Debug("dropped")
	for i := range 5 {
		log.Info(fmt.Sprintf("line %d", i))
	}
	var got []string
	for _, r := range b.Records(slog.LevelDebug) {
		got = append(got, r.Line[strings.Index(r.Line, "msg="):])
	}
	want := []string{`msg="line 2"`, `msg="line 3"`, `msg="line 4"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records %v, want %v", got, want)
	}
}

func TestLogBufferConcurrentWithOnChange(t *testing.T) {
	b := NewLogBuffer(1000, nil)
	var mu sync.Mutex
	calls := 0
	b.OnChange(func() { mu.Lock(); calls++; mu.Unlock() })
	log := slog.New(b)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				log.Info("msg", "g", g, "i", i)
			}
		}()
	}
	wg.Wait()
	if n := len(b.Records(slog.LevelDebug)); n != 200 {
		t.Errorf("%d records, want 200", n)
	}
	if calls != 200 {
		t.Errorf("OnChange called %d times, want 200", calls)
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "X-Amz-Signature=" + testSignature, "authorization: Basic Zm9vOmJhcg==", `"password":"x"`,
		testSecretKey, "[REDACTED]", "secret=", "a=b&X-Amz-Credential=", strings.Repeat("A", 120)} {
		f.Add(s, testSignature)
	}
	f.Fuzz(func(t *testing.T, s, sig string) {
		out := Redact(s)
		if strings.Contains(s, "\n") && !strings.Contains(out, "\n") {
			t.Fatalf("lines merged: %q -> %q", s, out)
		}
		// A signature value planted in a presigned URL never survives.
		if len(sig) >= 8 && !strings.ContainsAny(sig, "&\t\n\r \"'<>") {
			u := s + " wss://h/?X-Amz-Signature=" + sig
			if strings.Contains(Redact(u), "X-Amz-Signature="+sig) {
				t.Fatalf("signature survived in %q", Redact(u))
			}
		}
	})
}
