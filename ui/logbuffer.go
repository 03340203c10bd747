package ui

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kvsviewer/kvsviewer/internal/redact"
)

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
// one) at or above level least (nil means slog.LevelDebug).
func NewLogBuffer(capacity int, least slog.Leveler) *LogBuffer {
	if capacity < 1 {
		capacity = 1
	}
	if least == nil {
		least = slog.LevelDebug
	}
	s := &logStore{min: least, capacity: capacity}
	inner := slog.NewTextHandler(s, &slog.HandlerOptions{
		Level:       least,
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
	line := redact.String(strings.TrimRight(s.scratch.String(), "\n"))
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

// Records returns the kept records at or above least, oldest first.
func (b *LogBuffer) Records(least slog.Level) []LogRecord {
	s := b.store
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LogRecord, 0, len(s.records))
	for i := range s.records {
		r := s.records[(s.next+i)%len(s.records)]
		if r.Level >= least {
			out = append(out, r)
		}
	}
	return out
}

// Text returns the kept records at or above least as lines of text.
func (b *LogBuffer) Text(least slog.Level) string {
	var sb strings.Builder
	for _, r := range b.Records(least) {
		sb.WriteString(r.Line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return redact.Attr(groups, a)
}
