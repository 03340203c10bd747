package kvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Default timeouts of reaching a KVS endpoint (see Timeouts).
const (
	DefaultConnectTimeout        = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Second
	DefaultUpgradeTimeout        = 10 * time.Second
)

// Timeouts bound each phase of reaching a KVS endpoint (the control plane,
// GetIceServerConfig and the signaling WebSocket), so that an endpoint that
// accepts the connection and never answers (black-holed, a captive proxy)
// fails the call with ErrTimeout instead of hanging it. Zero fields take the
// defaults. The SDK does not retry these timeouts itself: the caller decides.
type Timeouts struct {
	// Connect bounds the TCP connect (default DefaultConnectTimeout).
	Connect time.Duration
	// TLSHandshake bounds the TLS handshake (default DefaultTLSHandshakeTimeout).
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for the response headers once a request
	// is sent (default DefaultResponseHeaderTimeout).
	ResponseHeader time.Duration
	// Upgrade bounds the whole signaling WebSocket handshake, from connect to
	// the 101 answer (default DefaultUpgradeTimeout).
	Upgrade time.Duration
}

// withDefaults fills the zero fields of t with the defaults.
func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, DefaultConnectTimeout)
	def(&t.TLSHandshake, DefaultTLSHandshakeTimeout)
	def(&t.ResponseHeader, DefaultResponseHeaderTimeout)
	def(&t.Upgrade, DefaultUpgradeTimeout)
	return t
}

// apply sets the connect, TLS handshake and response header timeouts of t on tr.
func (t Timeouts) apply(tr *http.Transport) {
	tr.DialContext = dialContext(t.Connect)
	tr.TLSHandshakeTimeout = t.TLSHandshake
	tr.ResponseHeaderTimeout = t.ResponseHeader
}

// Phases of reaching an endpoint that a TimeoutError names.
const (
	PhaseConnect  = "connect"
	PhaseTLS      = "tls"
	PhaseResponse = "response"
	PhaseUpgrade  = "upgrade"
	// PhaseCredentials is getting credentials from the chain (SSO,
	// credential_process, STS) within AWSOptions.CredentialTimeout.
	PhaseCredentials = "credentials"
)

// ErrTimeout is matched by a request to a KVS endpoint that did not answer one
// phase in time (see Timeouts). Worth another attempt: the path to the
// endpoint may recover.
var ErrTimeout = errors.New("KVS endpoint timed out")

// TimeoutError is a request to a KVS endpoint that timed out in one phase. It
// matches ErrTimeout through errors.Is.
type TimeoutError struct {
	// Op is what was attempted, e.g. "describe signaling channel".
	Op string
	// Phase is PhaseConnect, PhaseTLS, PhaseResponse, PhaseUpgrade or PhaseCredentials.
	Phase string
	// After is the timeout that expired.
	After time.Duration
}

// Error implements error.
func (e *TimeoutError) Error() string {
	var what string
	switch e.Phase {
	case PhaseCredentials:
		return fmt.Sprintf("%s: the AWS credential provider (SSO, credential_process or STS) did not answer within %s", e.Op, e.After)
	case PhaseConnect:
		what = "the KVS endpoint did not accept the connection within %s"
	case PhaseTLS:
		what = "the KVS endpoint accepted the connection but did not complete the TLS handshake within %s"
	default:
		what = "the KVS endpoint accepted the connection but did not answer within %s"
	}
	return e.Op + ": " + fmt.Sprintf(what, e.After) + " (a firewall, proxy or captive portal may be in the way)"
}

// Is reports whether target is ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// dialTimeoutError is a TCP connect that took longer than the connect timeout.
type dialTimeoutError struct{ err error }

func (e *dialTimeoutError) Error() string { return e.err.Error() }
func (e *dialTimeoutError) Unwrap() error { return e.err }
func (e *dialTimeoutError) Timeout() bool { return true }

// dialContext is a TCP dialer bounded by connect whose timeouts are
// recognisable (dialTimeoutError) after net/http has wrapped them.
func dialContext(connect time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		var ne net.Error
		if err != nil && ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			return nil, &dialTimeoutError{err}
		}
		return c, err
	}
}

// timeoutPhase tells which phase of a request err timed out in, if any: the
// connect (dialContext), or net/http's TLS handshake or response header
// timeouts, which it reports only in its error text.
func timeoutPhase(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var de *dialTimeoutError
	if errors.As(err, &de) {
		return PhaseConnect, true
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "net/http: TLS handshake timeout"):
		return PhaseTLS, true
	case strings.Contains(msg, "net/http: timeout awaiting response headers"):
		return PhaseResponse, true
	}
	return "", false
}

// timeoutError returns the TimeoutError of op when err is a phase timeout
// under t, and nil otherwise.
func (t Timeouts) timeoutError(err error, op string) error {
	phase, ok := timeoutPhase(err)
	if !ok {
		return nil
	}
	t = t.withDefaults()
	after := map[string]time.Duration{PhaseConnect: t.Connect, PhaseTLS: t.TLSHandshake, PhaseResponse: t.ResponseHeader}[phase]
	return &TimeoutError{Op: op, Phase: phase, After: after}
}

// noTimeoutRetries wraps an SDK retryer so that it does not retry a phase
// timeout: an endpoint that did not answer in 10 s would otherwise hold the
// caller for three times that before it hears about it.
type noTimeoutRetries struct{ aws.RetryerV2 }

// IsErrorRetryable implements aws.Retryer.
func (r noTimeoutRetries) IsErrorRetryable(err error) bool {
	if _, ok := timeoutPhase(err); ok {
		return false
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// withoutTimeoutRetries returns r, not retrying phase timeouts.
func withoutTimeoutRetries(r aws.Retryer) aws.Retryer {
	v2, ok := r.(aws.RetryerV2)
	if !ok {
		v2 = retryerV2{r}
	}
	return noTimeoutRetries{v2}
}

// retryerV2 adapts an aws.Retryer to aws.RetryerV2.
type retryerV2 struct{ aws.Retryer }

// GetAttemptToken implements aws.RetryerV2.
func (r retryerV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
