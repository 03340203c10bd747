// Dial: opening a signaling connection (presigned URL, WebSocket handshake
// with its timeouts and TLS trust) and the errors of a refused or failed
// handshake.

package kvs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// DialOptions configures a signaling connection.
type DialOptions struct {
	// Config supplies credentials, region and the TLS trust of the dialer.
	Config Config
	// ChannelARN is the channel to join.
	ChannelARN string
	// Endpoints are the channel's endpoints for Role (only WSS is used).
	Endpoints Endpoints
	// Role is RoleViewer or RoleMaster.
	Role Role
	// ClientID is the viewer's ClientId (required for a viewer, not sent by a master).
	ClientID string
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// ClockOffset is added to the local clock when signing (e.g. the
	// ServiceError.ClockOffset of a refused attempt); zero for none.
	ClockOffset time.Duration
}

// dialOp names Dial in its errors.
const dialOp = "open signaling connection"

// Dial signs a fresh URL and opens the signaling WebSocket. A refused handshake
// returns a *ServiceError: 403 matches ErrAccessDenied (and ErrURLExpired or
// ErrClockSkew when the service says so), 404 matches ErrChannelNotFound.
func Dial(ctx context.Context, o DialOptions) (*Conn, error) {
	clientID, err := dialClientID(o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dialOp, err)
	}
	if o.Endpoints.WSS == "" {
		return nil, fmt.Errorf("%s: no WSS endpoint", dialOp)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	creds, err := o.Config.credentials(ctx)
	if err != nil {
		return nil, err
	}
	signedAt := time.Now().Add(o.ClockOffset)
	signed, err := PresignURL(ctx, creds, o.Config.AWS.Region, o.Endpoints.WSS, o.ChannelARN, clientID, signedAt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dialOp, err)
	}

	timeouts := o.Config.Timeouts.withDefaults()
	hc, tr := signalingHTTPClient(o.Config.TLS, timeouts)
	defer tr.CloseIdleConnections()
	// Ending uctx once Dial has returned leaves the connection alone.
	uctx, cancel := context.WithTimeoutCause(ctx, timeouts.Upgrade, errUpgradeTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(uctx, signed, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(uctx), errUpgradeTimeout) {
			return nil, &TimeoutError{Op: dialOp, Phase: PhaseUpgrade, After: timeouts.Upgrade}
		}
		return nil, dialError(o, resp, err, []string{creds.SecretAccessKey, creds.SessionToken, signed})
	}
	ws.SetReadLimit(readLimit)

	c := &Conn{
		ws:       ws,
		role:     o.Role,
		clientID: clientID,
		log:      log.With("role", string(o.Role)),
		msgs:     make(chan Message, messageBuffer),
		done:     make(chan struct{}),
		closing:  make(chan struct{}),
		sdpPace:  pace(SDPMessagesPerSecond),
		icePace:  pace(ICEMessagesPerSecond),
	}
	go c.readLoop()
	return c, nil
}

// dialClientID checks o.Role and returns the ClientId to sign: the viewer's
// (validated), or "" for the master.
func dialClientID(o DialOptions) (string, error) {
	switch o.Role {
	case RoleViewer:
		if err := ValidateClientID(o.ClientID); err != nil {
			return "", err
		}
		return o.ClientID, nil
	case RoleMaster:
		return "", nil
	default:
		return "", fmt.Errorf("unknown role %q", o.Role)
	}
}

// errUpgradeTimeout is the cause of the context of a WebSocket handshake that
// took longer than Timeouts.Upgrade.
var errUpgradeTimeout = errors.New("signaling WebSocket upgrade timed out")

// signalingHTTPClient is the HTTP client of one WebSocket handshake, trusting
// tlsCfg (nil: the system roots), bounded by the connect, TLS and response
// header timeouts of t, and never following a redirect with the signed URL.
// The caller closes the transport's idle connections when done.
func signalingHTTPClient(tlsCfg *tls.Config, t Timeouts) (*http.Client, *http.Transport) {
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr := &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: tlsCfg.Clone(),
	}
	t.apply(tr)
	hc := &http.Client{
		Transport: tr,
		// Never follow a redirect with a signed URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return hc, tr
}

// dialError is Dial's error for a failed handshake: the service's refusal as a
// *ServiceError, otherwise the transport error; secrets (and the signed URL)
// are redacted from both.
func dialError(o DialOptions, resp *http.Response, err error, secrets []string) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		return handshakeError(resp, o.ChannelARN, o.Config.AWS.Region, time.Now().Add(o.ClockOffset), secrets)
	}
	if terr := o.Config.Timeouts.timeoutError(err, dialOp); terr != nil {
		return terr
	}
	if isUntrusted(err) {
		return fmt.Errorf("%s: %s: %s", dialOp, untrustedHint, redact(dialErrText(err), secrets...))
	}
	return fmt.Errorf("%s: %s", dialOp, redact(dialErrText(err), secrets...))
}

// dialErrText is the text of a failed dial without the (signed) URL.
func dialErrText(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return "failed to WebSocket dial: " + uerr.Err.Error()
	}
	return err.Error()
}

// handshakeError classifies a refused WebSocket handshake; now is the (corrected)
// local time when the response arrived.
func handshakeError(resp *http.Response, channelARN, region string, now time.Time, secrets []string) error {
	se := &ServiceError{Op: dialOp, StatusCode: resp.StatusCode}
	if resp.Body != nil {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1024)) // coder/websocket keeps at most 1 KB
		se.Code, se.Message = parseErrorBody(resp.Header, raw)
	}
	se.Message = redact(se.Message, secrets...)
	if off, ok := clockOffset(resp.Header, now); ok {
		se.ClockOffset = off
	}
	msg := strings.ToLower(se.Message)
	expired := strings.Contains(msg, "expired") && !strings.Contains(msg, "token")
	if resp.StatusCode == http.StatusForbidden && expired && absDuration(se.ClockOffset) <= maxSkew {
		se.Kinds = []error{ErrAccessDenied, ErrURLExpired}
		se.Hint = "the signed URL expired before it was used: sign right before dialing"
		return se
	}
	if se.Code == "ClientLimitExceededException" && strings.Contains(msg, "viewer") {
		se.Kinds = []error{ErrViewerLimit}
		se.Hint = "the channel already has its maximum of viewers (stale sessions of earlier calls may still hold slots)"
		return se
	}
	classify(se, channelARN, region)
	if se.Hint == "" {
		se.Hint = fmt.Sprintf("the service refused the WebSocket handshake (HTTP %d)", resp.StatusCode)
	}
	return se
}

// pace returns a limiter a little under perSecond, with a burst one short
// of it, so that messages a network path bunches up still arrive within the
// service's rate.
func pace(perSecond int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(0.9*float64(perSecond)), perSecond-1)
}
