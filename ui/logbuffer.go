package ui

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Redacted replaces every secret the log buffer removes.
const Redacted = "[REDACTED]"

// LogRecord is one formatted, already redacted log line.
type LogRecord struct {
	Time  time.Time
	Level slog.Level
	Line  string // "15:04:05.000 INFO message key=value ...", without a newline
}

// LogBuffer is an slog.Handler that keeps the most recent records in memory,
// formatted and with secrets redacted, for the log pane. Handlers derived
// with WithAttrs / WithGroup share the buffer. It is safe for concurrent use.
type LogBuffer struct {
	store *logStore
	inner slog.Handler
}

type logStore struct {
	mu       sync.Mutex
	min      slog.Leveler
	capacity int
	records  []LogRecord // ring of up to capacity records
	next     int         // index of the oldest record once the ring is full
	scratch  bytes.Buffer
	onChange func()
}

func (s *logStore) Write(p []byte) (int, error) { return s.scratch.Write(p) }

// NewLogBuffer returns a buffer keeping the last capacity records (at least
// one) at or above level min (nil means slog.LevelDebug).
func NewLogBuffer(capacity int, min slog.Leveler) *LogBuffer {
	if capacity < 1 {
		capacity = 1
	}
	if min == nil {
		min = slog.LevelDebug
	}
	s := &logStore{min: min, capacity: capacity}
	inner := slog.NewTextHandler(s, &slog.HandlerOptions{
		Level:       min,
		ReplaceAttr: redactAttr,
	})
	return &LogBuffer{store: s, inner: inner}
}

// Enabled reports whether records at level are kept.
func (b *LogBuffer) Enabled(_ context.Context, level slog.Level) bool {
	return level >= b.store.min.Level()
}

// Handle formats, redacts and stores one record.
func (b *LogBuffer) Handle(ctx context.Context, r slog.Record) error {
	s := b.store
	s.mu.Lock()
	s.scratch.Reset()
	err := b.inner.Handle(ctx, r)
	line := Redact(strings.TrimRight(s.scratch.String(), "\n"))
	rec := LogRecord{Time: r.Time, Level: r.Level, Line: line}
	if len(s.records) < s.capacity {
		s.records = append(s.records, rec)
	} else {
		s.records[s.next] = rec
		s.next = (s.next + 1) % s.capacity
	}
	notify := s.onChange
	s.mu.Unlock()
	if notify != nil {
		notify()
	}
	return err
}

// WithAttrs returns a handler that adds attrs to every record and shares this buffer.
func (b *LogBuffer) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogBuffer{store: b.store, inner: b.inner.WithAttrs(attrs)}
}

// WithGroup returns a handler that qualifies later attributes with name and shares this buffer.
func (b *LogBuffer) WithGroup(name string) slog.Handler {
	return &LogBuffer{store: b.store, inner: b.inner.WithGroup(name)}
}

// OnChange sets a function called, outside the buffer's lock and on the
// logging goroutine, after each new record. nil removes it.
func (b *LogBuffer) OnChange(fn func()) {
	b.store.mu.Lock()
	b.store.onChange = fn
	b.store.mu.Unlock()
}

// Records returns the kept records at or above min, oldest first.
func (b *LogBuffer) Records(min slog.Level) []LogRecord {
	s := b.store
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LogRecord, 0, len(s.records))
	for i := range s.records {
		r := s.records[(s.next+i)%len(s.records)]
		if r.Level >= min {
			out = append(out, r)
		}
	}
	return out
}

// Text returns the kept records at or above min as lines of text.
func (b *LogBuffer) Text(min slog.Level) string {
	var sb strings.Builder
	for _, r := range b.Records(min) {
		sb.WriteString(r.Line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// sensitiveKey reports whether an attribute with this key holds a secret.
func sensitiveKey(key string) bool {
	k := strings.ToLower(key)
	k = strings.NewReplacer("_", "", "-", "", ".", "").Replace(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "signature", "authorization", "credential", "sessionkey", "privatekey"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	if a.Value.Kind() == slog.KindString || a.Value.Kind() == slog.KindAny {
		s := a.Value.String()
		if r := Redact(s); r != s {
			return slog.String(a.Key, r)
		}
	}
	return a
}

var (
	// X-Amz-Signature=..., X-Amz-Security-Token=..., X-Amz-Credential=... in URLs (also URL-encoded '=').
	reAmzQuery = regexp.MustCompile(`(?i)(x-amz-(?:signature|security-token|credential)(?:=|%3d))[^&\s"'<>]*`)
	// Authorization headers: "Authorization: AWS4-HMAC-SHA256 Credential=..., Signature=...".
	reAuthHeader = regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["'\[]?)(?:(?:AWS4-HMAC-SHA256|Bearer|Basic|Digest)\s+[^"'\]\n]*|[^\s"'&,;\]]+)`)
	// key=value or "key":"value" pairs whose key names a secret.
	reSecretPair = regexp.MustCompile(`(?i)(["']?[a-z0-9_.-]*(?:secret|password|passwd|session_?token|securitytoken|sessiontoken|signature)[a-z0-9_.-]*["']?\s*[:=]\s*["']?)([^"'&\s,;}]+)`)
	// Long base64 strings: session tokens and other opaque credentials.
	reLongBase64 = regexp.MustCompile(`[A-Za-z0-9+/=_-]{100,}`)
	// 40-character AWS secret access keys (mixed case base64 alphabet).
	reSecretKey = regexp.MustCompile(`(^|[^A-Za-z0-9+/=])([A-Za-z0-9+/]{40})($|[^A-Za-z0-9+/=])`)
)

// Redact removes secrets from s: AWS secret access keys, session tokens,
// X-Amz-Signature / X-Amz-Security-Token / X-Amz-Credential query values,
// Authorization headers and values of password/secret/token pairs.
func Redact(s string) string {
	s = reAmzQuery.ReplaceAllString(s, "${1}"+Redacted)
	s = reAuthHeader.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "REDACTED") {
			return m
		}
		return reAuthHeader.FindStringSubmatch(m)[1] + Redacted
	})
	s = reSecretPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretPair.FindStringSubmatch(m)
		if strings.Contains(sub[2], "REDACTED") {
			return m
		}
		return sub[1] + Redacted
	})
	s = reLongBase64.ReplaceAllString(s, Redacted)
	s = reSecretKey.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretKey.FindStringSubmatch(m)
		if !looksLikeSecretKey(sub[2]) {
			return m
		}
		return sub[1] + Redacted + sub[3]
	})
	return s
}

// looksLikeSecretKey tells a 40-character secret access key from hex digests
// and plain words: secret keys mix upper and lower case letters and digits.
func looksLikeSecretKey(s string) bool {
	var upper, lower, digit bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9', c == '/', c == '+':
			digit = true
		}
	}
	return upper && lower && digit
}
