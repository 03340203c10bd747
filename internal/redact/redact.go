// Package redact removes secrets from text before it reaches any output:
// logs, errors shown to users, JSON events, QA reports and the window. Every
// sink of the app goes through it (see Handler for slog).
package redact

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// Marker replaces every secret removed.
const Marker = "[REDACTED]"

var (
	// X-Amz-Signature=..., X-Amz-Security-Token=..., X-Amz-Credential=... in URLs (also URL-encoded '=').
	reAmzQuery = regexp.MustCompile(`(?i)(x-amz-(?:signature|security-token|credential)(?:=|%3d))[^&\s"'<>]*`)
	// Authorization headers: "Authorization: AWS4-HMAC-SHA256 Credential=..., Signature=...".
	reAuthHeader = regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["'\[]?)(?:(?:AWS4-HMAC-SHA256|Bearer|Basic|Digest)[ \t]+[^"'\]\n]*|[^\s"'&,;\]]+)`)
	// key=value or "key":"value" pairs whose key names a secret.
	reSecretPair = regexp.MustCompile(`(?i)(["']?[a-z0-9_.-]*(?:secret|password|passwd|session_?token|securitytoken|sessiontoken|signature)[a-z0-9_.-]*["']?\s*[:=]\s*["']?)([^"'&\s,;}]+)`)
	// Long base64 strings: session tokens and other opaque credentials.
	reLongBase64 = regexp.MustCompile(`[A-Za-z0-9+/=_-]{100,}`)
	// 40-character AWS secret access keys (mixed case base64 alphabet).
	reSecretKey = regexp.MustCompile(`(^|[^A-Za-z0-9+/=])([A-Za-z0-9+/]{40})($|[^A-Za-z0-9+/=])`)
)

// String removes secrets from s: AWS secret access keys, session tokens,
// X-Amz-Signature / X-Amz-Security-Token / X-Amz-Credential query values,
// Authorization headers and values of password/secret/token pairs.
func String(s string) string {
	s = reAmzQuery.ReplaceAllString(s, "${1}"+Marker)
	s = reAuthHeader.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "REDACTED") {
			return m
		}
		return reAuthHeader.FindStringSubmatch(m)[1] + Marker
	})
	s = reSecretPair.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretPair.FindStringSubmatch(m)
		if strings.Contains(sub[2], "REDACTED") {
			return m
		}
		return sub[1] + Marker
	})
	s = reLongBase64.ReplaceAllString(s, Marker)
	s = reSecretKey.ReplaceAllStringFunc(s, func(m string) string {
		sub := reSecretKey.FindStringSubmatch(m)
		if !looksLikeSecretKey(sub[2]) {
			return m
		}
		return sub[1] + Marker + sub[3]
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

// Error is err's text with secrets removed ("" for nil).
func Error(err error) string {
	if err == nil {
		return ""
	}
	return String(err.Error())
}

// Truncate shortens s to at most n bytes (on a rune boundary), marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Attr is a slog ReplaceAttr function: attributes whose key names a secret
// lose their value, and string values lose the secrets in them.
func Attr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Marker)
	}
	if a.Value.Kind() == slog.KindString || a.Value.Kind() == slog.KindAny {
		s := a.Value.String()
		if r := String(s); r != s {
			return slog.String(a.Key, r)
		}
	}
	return a
}

// Handler wraps next so that every record's message and attributes are
// redacted before next sees them.
func Handler(next slog.Handler) slog.Handler { return handler{next} }

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactDeep(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactDeep(a)
	}
	return handler{h.next.WithAttrs(red)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.next.WithGroup(name)} }

// redactDeep redacts a, and the attributes of a group.
func redactDeep(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup {
		return Attr(nil, a)
	}
	group := a.Value.Group()
	red := make([]any, len(group))
	for i, g := range group {
		red[i] = redactDeep(g)
	}
	return slog.Group(a.Key, red...)
}
