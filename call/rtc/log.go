package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// levelTrace is the slog level pion's trace and debug output is logged at:
// below slog.LevelDebug, so a debug logger does not drown in ICE chatter.
const levelTrace = slog.LevelDebug - 4

// loggerFactory adapts pion's logging to slog.
type loggerFactory struct{ log *slog.Logger }

// newLoggerFactory returns a pion logger factory writing to log, or one that
// discards everything when log is nil.
func newLoggerFactory(log *slog.Logger) logging.LoggerFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	return loggerFactory{log: log}
}

// NewLogger implements logging.LoggerFactory.
func (f loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return scopedLogger{log: f.log.With("pion", scope)}
}

// scopedLogger is one pion scope's logger.
type scopedLogger struct{ log *slog.Logger }

func (l scopedLogger) emit(level slog.Level, format string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	msg := format
	// pion logs the remote ICE password when an agent starts: keep the format
	// (which names the fields) and drop the values.
	if len(args) > 0 && !strings.Contains(strings.ToLower(format), "pwd") {
		msg = fmt.Sprintf(format, args...)
	}
	l.log.Log(context.Background(), level, msg)
}

// Trace, Debug, Info, Warn and Error (and their f forms) implement
// logging.LeveledLogger. pion's warnings are routine in trickle ICE and
// teardown ("Failed to ping without candidate pairs", "stream is already
// closed"), so they log at Info: a user's Warn level shows our own warnings.
func (l scopedLogger) Trace(msg string)                  { l.emit(levelTrace, "%s", msg) }
func (l scopedLogger) Tracef(format string, args ...any) { l.emit(levelTrace, format, args...) }
func (l scopedLogger) Debug(msg string)                  { l.emit(levelTrace, "%s", msg) }
func (l scopedLogger) Debugf(format string, args ...any) { l.emit(levelTrace, format, args...) }
func (l scopedLogger) Info(msg string)                   { l.emit(slog.LevelDebug, "%s", msg) }
func (l scopedLogger) Infof(format string, args ...any)  { l.emit(slog.LevelDebug, format, args...) }
func (l scopedLogger) Warn(msg string)                   { l.emit(slog.LevelInfo, "%s", msg) }
func (l scopedLogger) Warnf(format string, args ...any)  { l.emit(slog.LevelInfo, format, args...) }
func (l scopedLogger) Error(msg string)                  { l.emit(slog.LevelError, "%s", msg) }
func (l scopedLogger) Errorf(format string, args ...any) { l.emit(slog.LevelError, format, args...) }
