package kvs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// readLimit bounds one received frame; payloads are at most 10 KB of base64 plus envelope.
const readLimit = 64 * 1024

// messageBuffer is how many received messages wait for the consumer before the read loop blocks.
const messageBuffer = 64

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

// Message is one typed message delivered by the signaling service.
type Message struct {
	// Type is the service's messageType.
	Type MessageType
	// SenderClientID is the sender's ClientId (empty for messages from a master to a viewer).
	SenderClientID string
	// Offer is set for TypeSDPOffer.
	Offer *webrtc.SessionDescription
	// Answer is set for TypeSDPAnswer.
	Answer *webrtc.SessionDescription
	// Candidate is set for TypeICECandidate.
	Candidate *webrtc.ICECandidateInit
	// Status is set for TypeStatusResponse.
	Status *StatusResponse
	// Received is when the frame was read.
	Received time.Time
}

// Conn is an open signaling connection. Its methods are safe for concurrent use.
type Conn struct {
	ws       *websocket.Conn
	role     Role
	clientID string
	log      *slog.Logger

	msgs      chan Message
	done      chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	malformed atomic.Int64

	mu  sync.Mutex
	err error
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

// Messages returns the stream of received messages; it is closed when the connection ends.
func (c *Conn) Messages() <-chan Message { return c.msgs }

// Done is closed when the socket is gone and the read loop has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err tells why the connection ended: nil while open and after our own Close,
// otherwise an error wrapping ErrSignalingClosed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Malformed counts received frames that did not decode (they are ignored).
func (c *Conn) Malformed() int64 { return c.malformed.Load() }

// Close closes the connection with a normal close code and waits for the read
// loop to end. It is idempotent; after it returns no goroutine of c remains.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		cerr := c.ws.Close(websocket.StatusNormalClosure, "")
		<-c.done
		// A socket that had already ended reports that through Err, not here.
		if cerr != nil && c.Err() == nil && !isClosedErr(cerr) {
			err = fmt.Errorf("close signaling connection: %w", cerr)
		}
	})
	return err
}

func isClosedErr(err error) bool {
	var ce websocket.CloseError
	return errors.As(err, &ce) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "already wrote close")
}

// readLoop reads frames until the socket ends, delivering typed messages.
func (c *Conn) readLoop() {
	defer close(c.done)
	defer close(c.msgs)
	// The read context is never tied to a caller's: ending it would drop the socket.
	ctx := context.Background()
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			c.finish(err)
			return
		}
		if typ != websocket.MessageText {
			c.countMalformed(fmt.Errorf("%w: binary frame", ErrMalformedMessage))
			continue
		}
		m, err := parseMessage(frame, time.Now())
		if err != nil {
			c.countMalformed(err)
			continue
		}
		select {
		case c.msgs <- m:
		case <-c.closing:
			// Keep reading so Close's handshake completes; drop what nobody will read.
		}
	}
}

func (c *Conn) countMalformed(err error) {
	c.malformed.Add(1)
	c.log.Debug("ignored malformed signaling frame", "err", err)
}

// finish records why the read loop ended.
func (c *Conn) finish(err error) {
	select {
	case <-c.closing:
		return // our own Close
	default:
	}
	code := websocket.CloseStatus(err)
	var e error
	if code == -1 {
		e = fmt.Errorf("%w: %v", ErrSignalingClosed, err)
	} else {
		e = fmt.Errorf("%w by the service (close code %d %s)", ErrSignalingClosed, int(code), code)
	}
	c.mu.Lock()
	c.err = e
	c.mu.Unlock()
	c.log.Debug("signaling connection ended", "err", e)
}

// parseMessage decodes one service frame into a typed Message.
func parseMessage(frame []byte, received time.Time) (Message, error) {
	sm, err := DecodeServiceMessage(frame)
	if err != nil {
		return Message{}, err
	}
	m := Message{Type: sm.MessageType, SenderClientID: sm.SenderClientID, Received: received}
	switch sm.MessageType {
	case TypeSDPOffer, TypeSDPAnswer:
		want := "offer"
		if sm.MessageType == TypeSDPAnswer {
			want = "answer"
		}
		var sd SessionDescription
		if err := DecodePayload(sm.MessagePayload, &sd); err != nil {
			return Message{}, err
		}
		if sd.Type == "" {
			sd.Type = want
		}
		if sd.Type != want || sd.SDP == "" {
			return Message{}, fmt.Errorf("%w: %s with type %q and %d bytes of SDP", ErrMalformedMessage, sm.MessageType, truncate(sd.Type, 20), len(sd.SDP))
		}
		desc := &webrtc.SessionDescription{Type: webrtc.NewSDPType(want), SDP: sd.SDP}
		if sm.MessageType == TypeSDPOffer {
			m.Offer = desc
		} else {
			m.Answer = desc
		}
	case TypeICECandidate:
		var cand Candidate
		if err := DecodePayload(sm.MessagePayload, &cand); err != nil {
			return Message{}, err
		}
		m.Candidate = &webrtc.ICECandidateInit{
			Candidate:        cand.Candidate,
			SDPMid:           cand.SDPMid,
			SDPMLineIndex:    cand.SDPMLineIndex,
			UsernameFragment: cand.UsernameFragment,
		}
	case TypeStatusResponse:
		s := *sm.StatusResponse
		m.Status = &s
	}
	return m, nil
}

// SendOffer sends an SDP offer (viewer only; it goes to the master).
func (c *Conn) SendOffer(ctx context.Context, sd webrtc.SessionDescription, correlationID string) error {
	if c.role != RoleViewer {
		return fmt.Errorf("send offer: %w: only a viewer sends offers here", ErrWrongRole)
	}
	return c.send(ctx, ActionSDPOffer, SessionDescription{Type: sd.Type.String(), SDP: sd.SDP}, "", correlationID)
}

// SendAnswer sends an SDP answer to the viewer recipient (master only).
func (c *Conn) SendAnswer(ctx context.Context, sd webrtc.SessionDescription, recipient, correlationID string) error {
	if c.role != RoleMaster {
		return fmt.Errorf("send answer: %w: only a master sends answers", ErrWrongRole)
	}
	return c.send(ctx, ActionSDPAnswer, SessionDescription{Type: sd.Type.String(), SDP: sd.SDP}, recipient, correlationID)
}

// SendCandidate sends an ICE candidate; recipient is "" for a viewer and the
// viewer's ClientId for a master.
func (c *Conn) SendCandidate(ctx context.Context, cand webrtc.ICECandidateInit, recipient, correlationID string) error {
	return c.send(ctx, ActionICECandidate, Candidate{
		Candidate:        cand.Candidate,
		SDPMid:           cand.SDPMid,
		SDPMLineIndex:    cand.SDPMLineIndex,
		UsernameFragment: cand.UsernameFragment,
	}, recipient, correlationID)
}

// send validates, encodes and writes one client message. A ctx that ends
// during the write drops the socket (coder/websocket semantics).
func (c *Conn) send(ctx context.Context, action Action, payload any, recipient, correlationID string) error {
	op := "send " + string(action)
	switch {
	case c.role == RoleViewer && recipient != "":
		return fmt.Errorf("%s: %w: a viewer's messages go to the master and carry no recipient", op, ErrWrongRole)
	case c.role == RoleMaster && recipient == "":
		return fmt.Errorf("%s: %w: a master must name the recipient viewer", op, ErrWrongRole)
	}
	frame, err := EncodeClientMessage(action, payload, recipient, correlationID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	select {
	case <-c.done:
		return fmt.Errorf("%s: %w", op, ErrNotConnected)
	case <-c.closing:
		return fmt.Errorf("%s: %w", op, ErrNotConnected)
	default:
	}
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		select {
		case <-c.done:
			return fmt.Errorf("%s: %w: %v", op, ErrNotConnected, err)
		default:
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
