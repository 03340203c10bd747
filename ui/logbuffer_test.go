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
