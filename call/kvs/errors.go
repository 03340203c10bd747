package kvs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Sentinel errors the call controller uses to classify failures (errors.Is).
var (
	// ErrAccessDenied: the service refused the credentials or their permissions.
	ErrAccessDenied = errors.New("access denied")
	// ErrClockSkew: the local clock differs too much from the service's (also ErrAccessDenied).
	// The credentials are fine then: it never matches ErrCredentials.
	ErrClockSkew = errors.New("clock skew")
	// ErrURLExpired: the presigned signaling URL was no longer valid (also ErrAccessDenied).
	ErrURLExpired = errors.New("signaling URL expired")
	// ErrChannelNotFound: the signaling channel does not exist in the region.
	ErrChannelNotFound = errors.New("channel not found")
	// ErrSignalingClosed: the signaling connection ended without our Close.
	ErrSignalingClosed = errors.New("signaling connection closed")
	// ErrNotConnected: a send on a connection that has ended.
	ErrNotConnected = errors.New("signaling not connected")
	// ErrWrongRole: a message that the connection's role must not send.
	ErrWrongRole = errors.New("message not allowed for this role")
	// ErrViewerLimit: the channel refused a new viewer connection: all its
	// viewer slots are taken (possibly by stale sessions of earlier calls).
	ErrViewerLimit = errors.New("no free viewer slot on the channel")
)

// ServiceError is a refusal by the KVS service (control plane, ICE config, or the
// signaling handshake). It matches the sentinels in Kinds through errors.Is. Its text
// says what to fix and never holds secrets or signatures.
type ServiceError struct {
	// Op is what was attempted, e.g. "describe signaling channel".
	Op string
	// StatusCode is the HTTP status (0 when unknown).
	StatusCode int
	// Code is the AWS error code, e.g. "ResourceNotFoundException".
	Code string
	// Message is the service's message, shortened and redacted.
	Message string
	// Hint says what the user should fix.
	Hint string
	// ClockOffset is the service clock minus the local clock, when the response told it.
	ClockOffset time.Duration
	// Kinds are the sentinel errors this error matches.
	Kinds []error
}

// Error implements error.
func (e *ServiceError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Hint != "" {
		b.WriteString(e.Hint)
	} else {
		b.WriteString("request failed")
	}
	var detail []string
	if e.StatusCode != 0 {
		detail = append(detail, fmt.Sprintf("HTTP %d", e.StatusCode))
	}
	if e.Code != "" {
		detail = append(detail, e.Code)
	}
	if e.Message != "" {
		detail = append(detail, fmt.Sprintf("%q", e.Message))
	}
	if len(detail) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(detail, ": "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel kinds for errors.Is.
func (e *ServiceError) Unwrap() []error { return e.Kinds }

// maxSkew is how far the clocks may differ before SigV4 requests are refused.
const maxSkew = 5 * time.Minute

var (
	secretQuery = regexp.MustCompile(`(?i)(X-Amz-(Signature|Security-Token|Credential)=)[^&\s"']*`)
	hexRun      = regexp.MustCompile(`[0-9a-fA-F]{64}`)
	accessKeyID = regexp.MustCompile(`\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b`)
	// echoStart marks where an AWS message starts repeating the request back
	// (a signature mismatch's canonical string and string to sign, which hold
	// the session token and credential scope).
	echoStart = regexp.MustCompile(`(?is)(\n|\bthe canonical string\b|\bthe string-to-sign\b|\bauthorization:)`)
	codeChars = regexp.MustCompile(`[^A-Za-z0-9_.:-]`)
)

// maxMessage is the longest service message put into an error.
const maxMessage = 200

// redact shortens a service message and removes anything that could be a
// secret or an echo of the request: everything from the first line break or
// echoed canonical request on, presigned query values, 64-hex-digit runs
// (signatures), access key ids, and the given strings.
func redact(msg string, secrets ...string) string {
	if loc := echoStart.FindStringIndex(msg); loc != nil {
		msg = msg[:loc[0]]
	}
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	msg = secretQuery.ReplaceAllString(msg, "${1}[redacted]")
	msg = hexRun.ReplaceAllString(msg, "[redacted]")
	msg = accessKeyID.ReplaceAllString(msg, "[redacted]")
	msg = strings.Join(strings.Fields(msg), " ")
	return truncate(msg, maxMessage)
}

// cleanCode keeps an AWS error code to the characters codes use and 64 bytes.
func cleanCode(code string) string {
	return truncate(codeChars.ReplaceAllString(code, ""), 64)
}

// clockOffset compares the response's Date header with local time.
func clockOffset(h http.Header, local time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	d := h.Get("Date")
	if d == "" {
		return 0, false
	}
	t, err := http.ParseTime(d)
	if err != nil {
		return 0, false
	}
	return t.Sub(local).Round(time.Second), true
}

// untrustedHint tells what to do about a certificate the client does not trust.
const untrustedHint = "the endpoint's TLS certificate is not trusted (for a local endpoint pass its CA with --ca-file)"

// isUntrusted reports whether err is a failed TLS certificate verification.
func isUntrusted(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func skewText(off time.Duration) string {
	if off > 0 {
		return fmt.Sprintf("the local clock is %s behind the service's: fix the system time", off)
	}
	return fmt.Sprintf("the local clock is %s ahead of the service's: fix the system time", -off)
}

func mentionsSkew(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "signature expired") || strings.Contains(m, "not yet current") ||
		strings.Contains(m, "not yet valid") || strings.Contains(m, "skew") || strings.Contains(m, "time too")
}

// skewMessage matches AWS's "Signature expired: <signed> is now earlier than <limit>
// (<service time> - 5 min.)" and "Signature not yet current: <signed> is still later
// than <limit> (<service time> + 5 min.)".
var skewMessage = regexp.MustCompile(`(\d{8}T\d{6}Z) is (?:now earlier|still later) than \d{8}T\d{6}Z \((\d{8}T\d{6}Z) [-+]`)

// offsetFromMessage reads the service clock minus the signing clock from an AWS skew message.
func offsetFromMessage(msg string) (time.Duration, bool) {
	m := skewMessage.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	signed, err1 := time.Parse("20060102T150405Z", m[1])
	service, err2 := time.Parse("20060102T150405Z", m[2])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return service.Sub(signed), true
}

func mentionsSignatureMismatch(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "signature we calculated does not match")
}

// classifyAWSError turns an SDK error of a control plane call into a ServiceError
// when the service refused the request; other errors are wrapped with op.
// channel and region name the channel in "not found" texts.
func classifyAWSError(err error, op, channel, region string, now time.Time) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		if isUntrusted(err) {
			return fmt.Errorf("%s: %s: %w", op, untrustedHint, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	se := &ServiceError{Op: op, Code: cleanCode(apiErr.ErrorCode()), Message: redact(apiErr.ErrorMessage())}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil {
		se.StatusCode = respErr.HTTPStatusCode()
		if off, ok := clockOffset(respErr.Response.Header, now); ok {
			se.ClockOffset = off
		}
	}
	classify(se, channel, region)
	return se
}

// wrongSecret is what a signature mismatch without clock skew means.
const wrongSecret = "the secret key is wrong (signature mismatch); check the credentials"

// rejected marks e as credentials AWS rejected, with a hint naming what AWS said.
func (e *ServiceError) rejected(what string) {
	e.Kinds = append(e.Kinds, ErrAccessDenied, ErrCredentials)
	short := strings.TrimSuffix(e.Code, "Exception")
	if short == "" {
		short = fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	e.Hint = fmt.Sprintf("AWS rejected the credentials (%s): %s", short, what)
}

// clockHint marks e as a clock-skew refusal and words the hint when the
// measured offset is too large or the service's message says the time was
// off; it reports whether it did.
func (e *ServiceError) clockHint(skewed bool) bool {
	switch {
	case skewed:
		e.Hint = skewText(e.ClockOffset)
	case mentionsSkew(e.Message):
		e.Hint = "the request time was refused: the local clock is probably off, fix the system time"
	default:
		return false
	}
	e.Kinds = append(e.Kinds, ErrClockSkew)
	return true
}

// classify fills Kinds and Hint of se from its code, status and message.
func classify(se *ServiceError, channel, region string) {
	if off, ok := offsetFromMessage(se.Message); ok && absDuration(off) > absDuration(se.ClockOffset) {
		se.ClockOffset = off
	}
	skewed := absDuration(se.ClockOffset) > maxSkew
	switch se.Code {
	case "ResourceNotFoundException":
		se.Kinds = append(se.Kinds, ErrChannelNotFound)
		se.Hint = fmt.Sprintf("channel %q not found in %s: check the channel name and region", channel, region)
		return
	case "UnrecognizedClientException", "InvalidClientTokenId":
		se.rejected("the access key id is not known; check the profile or refresh the credentials")
		return
	case "ExpiredTokenException", "ExpiredToken":
		se.rejected("the session token has expired; refresh them (e.g. `aws sso login`)")
		return
	case "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignatureException":
		if !se.clockHint(skewed) {
			se.rejected(wrongSecret)
			return
		}
		se.Kinds = append(se.Kinds, ErrAccessDenied)
		return
	case "AccessDeniedException", "AccessDenied":
		switch {
		case se.clockHint(skewed):
			se.Kinds = append(se.Kinds, ErrAccessDenied)
		case mentionsSignatureMismatch(se.Message):
			se.rejected(wrongSecret)
		default:
			se.Kinds = append(se.Kinds, ErrAccessDenied)
			se.Hint = fmt.Sprintf("the credentials are not allowed to use channel %q: check the IAM policy", channel)
		}
		return
	}
	switch se.StatusCode {
	case http.StatusNotFound:
		se.Kinds = append(se.Kinds, ErrChannelNotFound)
		se.Hint = fmt.Sprintf("channel %q not found in %s: check the channel name and region", channel, region)
	case http.StatusForbidden, http.StatusUnauthorized:
		se.Kinds = append(se.Kinds, ErrAccessDenied)
		if !se.clockHint(skewed) {
			se.Hint = "access denied: check the credentials and their IAM policy"
		}
	}
}
