// Package emulator is a local Amazon Kinesis Video Streams WebRTC signaling service
// for tests, QA and the demo mode: the control plane (REST JSON, SigV4-checked), the
// HTTPS GetIceServerConfig call backed by a real TURN server, and the SigV4-presigned
// WSS signaling relay between one master and up to ten viewers per channel, with
// fault injection. It listens on loopback only unless told otherwise, with a
// throw-away CA whose certificate clients must trust explicitly.
package emulator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config configures Start. The zero value is usable.
type Config struct {
	Listen           string            // host:port, default "127.0.0.1:0"; must be loopback unless AllowNonLoopback
	AllowNonLoopback bool              // allow a non-loopback Listen address
	Region           string            // default "us-west-2"
	AccountID        string            // default "123456789012"
	Credentials      []aws.Credentials // accepted credentials; default one generated test credential
	Channels         []string          // channels created at start; default ["demo-channel"]
	MessageTTL       time.Duration     // undelivered-message TTL of the start channels, default 60s (5-120s)
	Faults           Faults            // initial faults
	EventLog         io.Writer         // optional JSON-lines sink of every event, in addition to the bounded in-memory log
	EventLogSize     int               // events kept in memory (Events, WaitEvent), default DefaultEventLogSize
	MaxQueued        int               // undelivered messages kept per recipient on a channel, default DefaultMaxQueued
	MaxQueuedChannel int               // undelivered messages kept per channel, default DefaultMaxQueuedChannel
	Logger           *slog.Logger      // default: discard
	Now              func() time.Time  // clock for signatures, URL expiry, message TTL, stale holds, reuse cooldown (fault timers use real time); default time.Now
	CADir            string            // where ca.pem is written; default a temporary directory removed on Close
}

// Service limits the emulator enforces.
const (
	MaxViewersPerChannel = 10
	SDPMessagesPerSecond = 5
	ICEMessagesPerSecond = 20
	DefaultMessageTTL    = 60 * time.Second
	MinMessageTTL        = 5 * time.Second
	MaxMessageTTL        = 120 * time.Second
	// TURNCredentialTTL is the Ttl of the ICE servers GetIceServerConfig returns.
	TURNCredentialTTL = 300 * time.Second
	// DefaultMaxQueued is how many undelivered messages a channel keeps for one
	// recipient; beyond it the oldest is dropped.
	DefaultMaxQueued = 256
	// DefaultMaxQueuedChannel is how many undelivered messages a channel keeps
	// in all; beyond it the oldest is dropped.
	DefaultMaxQueuedChannel = 1024
)

// Errors returned by the Emulator's methods.
var (
	ErrUnknownChannel = errors.New("unknown channel")
	ErrNotConnected   = errors.New("client not connected")
	ErrClosed         = errors.New("emulator closed")
)

// Emulator is a running local KVS. All methods are safe for concurrent use.
type Emulator struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	creds     []aws.Credentials
	pki       *localPKI
	caFile    string
	removeDir string
	listener  net.Listener
	srv       *http.Server
	endpoint  string
	turn      *turnServer
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	mu            sync.Mutex
	closed        bool
	faults        Faults
	offerCount    int
	deliverCount  int
	channels      map[string]*channel // by name
	conns         map[*conn]struct{}
	requestSerial int64
	queueDropped  int64 // undelivered messages dropped because a queue was full

	evMu         sync.Mutex
	events       eventRing
	authFailures map[string]int64 // by reason; see AuthFailures
	evNotify     chan struct{}
}

var channelNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,256}$`)

// Start creates the CA, listens and serves until Close. ctx only bounds the start-up.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	creds, err := startCredentials(cfg.Credentials)
	if err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	ip, err := listenIP(cfg)
	if err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	var extraIPs []net.IP
	if ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		extraIPs = append(extraIPs, ip)
	}

	e := newEmulator(cfg, creds)
	if e.pki, err = newLocalPKI(extraIPs); err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	if err := e.writeCA(); err != nil {
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	created := e.now()
	for _, name := range cfg.Channels {
		e.channels[name] = e.newChannel(name, cfg.MessageTTL, created)
	}

	lc := net.ListenConfig{}
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		e.removeCA()
		return nil, fmt.Errorf("start kvs emulator: listen: %w", err)
	}
	if e.turn, err = startTURN(ctx, turnHost(ip), cfg.Faults, e.record); err != nil {
		_ = ln.Close()
		e.removeCA()
		return nil, fmt.Errorf("start kvs emulator: %w", err)
	}
	e.serve(ln)
	e.wg.Go(e.pruneLoop)
	e.record(Event{Kind: EventStart, Detail: e.endpoint})
	if cfg.Faults != (Faults{}) {
		e.record(Event{Kind: EventFault, Detail: "initial " + cfg.Faults.String()})
	}
	e.log.Info("kvs emulator listening", "endpoint", e.endpoint, "region", cfg.Region, "ca", e.caFile,
		"turn", e.turn.addr, "channels", cfg.Channels, "faults", cfg.Faults.String())
	return e, nil
}

// newEmulator is the Emulator of cfg (with its defaults filled in) accepting
// creds, before it has a CA, channels or a listener.
func newEmulator(cfg Config, creds []aws.Credentials) *Emulator {
	e := &Emulator{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		creds:    creds,
		done:     make(chan struct{}),
		faults:   cfg.Faults,
		channels: map[string]*channel{},
		conns:    map[*conn]struct{}{},
		evNotify: make(chan struct{}),

		events:       eventRing{size: cfg.EventLogSize},
		authFailures: map[string]int64{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e
}

// withDefaults fills in the defaults of cfg and checks its message TTL and
// channel names.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.MessageTTL == 0 {
		cfg.MessageTTL = DefaultMessageTTL
	}
	if cfg.EventLogSize <= 0 {
		cfg.EventLogSize = DefaultEventLogSize
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxQueuedChannel <= 0 {
		cfg.MaxQueuedChannel = DefaultMaxQueuedChannel
	}
	if cfg.MessageTTL < MinMessageTTL || cfg.MessageTTL > MaxMessageTTL {
		return cfg, fmt.Errorf("message TTL %s outside %s-%s", cfg.MessageTTL, MinMessageTTL, MaxMessageTTL)
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{"demo-channel"}
	}
	for _, name := range cfg.Channels {
		if !channelNamePattern.MatchString(name) {
			return cfg, fmt.Errorf("invalid channel name %q", clip(name, 60))
		}
	}
	return cfg, nil
}

// startCredentials returns the credentials the emulator accepts: a copy of
// given, or one generated test credential when none are given.
func startCredentials(given []aws.Credentials) ([]aws.Credentials, error) {
	creds := slices.Clone(given)
	if len(creds) == 0 {
		c, err := generateCredentials()
		if err != nil {
			return nil, err
		}
		creds = []aws.Credentials{c}
	}
	for i, c := range creds {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("credential %d lacks an access key id or secret", i)
		}
	}
	return creds, nil
}

// listenIP checks that cfg.Listen is a loopback address, unless
// cfg.AllowNonLoopback, and returns its IP (nil when the host is a name).
func listenIP(cfg Config) (net.IP, error) {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	if !hostIsLoopback(host) && !cfg.AllowNonLoopback {
		return nil, fmt.Errorf("listen address %q is not loopback (set AllowNonLoopback to allow it)", cfg.Listen)
	}
	return net.ParseIP(host), nil
}

// turnHost is where the TURN server listens: the listen IP when it is a
// specific address, otherwise the loopback address of its family.
func turnHost(ip net.IP) string {
	switch {
	case ip != nil && !ip.IsUnspecified():
		return ip.String()
	case ip != nil && ip.To4() == nil:
		return "::1"
	default:
		return "127.0.0.1"
	}
}

// serve accepts TLS connections on ln and serves the control plane and the
// signaling WebSockets until Close.
func (e *Emulator) serve(ln net.Listener) {
	e.listener = tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{e.pki.server},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
	e.endpoint = "https://" + ln.Addr().String()
	e.srv = &http.Server{
		Handler:           http.HandlerFunc(e.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, rawConnKey{}, c)
		},
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	e.wg.Go(func() {
		if err := e.srv.Serve(e.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("kvs emulator server stopped", "err", err)
		}
	})
}

// rawConnKey is the context key of the accepted net.Conn of an HTTP request.
type rawConnKey struct{}

func generateCredentials() (aws.Credentials, error) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	buf := make([]byte, 16+40)
	if _, err := rand.Read(buf); err != nil {
		return aws.Credentials{}, fmt.Errorf("generate test credential: %w", err)
	}
	id := []byte("AKIA")
	for _, b := range buf[:16] {
		id = append(id, upper[int(b)%len(upper)])
	}
	secret := make([]byte, 0, 40)
	for _, b := range buf[16:] {
		secret = append(secret, secretChars[int(b)%len(secretChars)])
	}
	return aws.Credentials{AccessKeyID: string(id), SecretAccessKey: string(secret), Source: "kvs-emulator"}, nil
}

func (e *Emulator) writeCA() error {
	dir := e.cfg.CADir
	if dir == "" {
		d, err := os.MkdirTemp("", "kvs-emulator-ca-")
		if err != nil {
			return fmt.Errorf("create CA directory: %w", err)
		}
		dir, e.removeDir = d, d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	e.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(e.caFile, e.pki.caPEM, 0o644); err != nil {
		e.removeCA()
		return fmt.Errorf("write CA file: %w", err)
	}
	return nil
}

func (e *Emulator) removeCA() {
	if e.removeDir != "" {
		if err := os.RemoveAll(e.removeDir); err != nil {
			e.log.Warn("remove CA directory", "err", err)
		}
	}
}

// Endpoint is the HTTPS base URL of the control plane and of the signaling endpoints,
// e.g. "https://127.0.0.1:PORT".
func (e *Emulator) Endpoint() string { return e.endpoint }

// Region is the AWS region the emulator answers for.
func (e *Emulator) Region() string { return e.cfg.Region }

// Credentials returns the first accepted credential.
func (e *Emulator) Credentials() aws.Credentials { return e.creds[0] }

// CAPool returns a pool holding only the emulator's CA certificate.
func (e *Emulator) CAPool() *x509.CertPool { return e.pki.caPool.Clone() }

// CAFile is the path of the PEM file holding the emulator's CA certificate.
func (e *Emulator) CAFile() string { return e.caFile }

// TURNAddr is the UDP address ("127.0.0.1:PORT") of the emulator's TURN server.
func (e *Emulator) TURNAddr() string { return e.turn.addr }

// ChannelARN returns the ARN of the named channel, or "" when it does not exist.
func (e *Emulator) ChannelARN(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch := e.channels[name]; ch != nil {
		return ch.arn
	}
	return ""
}

// Env returns the environment that points an AWS SDK and Go's TLS at the emulator:
// AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_CA_BUNDLE, SSL_CERT_FILE, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN when the first
// credential has one). It holds a secret: print it for the operator, never log it.
func (e *Emulator) Env() []string {
	c := e.creds[0]
	env := []string{
		"AWS_ENDPOINT_URL_KINESIS_VIDEO=" + e.endpoint,
		"AWS_CA_BUNDLE=" + e.caFile,
		"SSL_CERT_FILE=" + e.caFile,
		"AWS_REGION=" + e.cfg.Region,
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
	}
	if c.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+c.SessionToken)
	}
	return env
}

// lookupCredential finds an accepted credential by access key id.
func (e *Emulator) lookupCredential(id string) (aws.Credentials, bool) {
	for _, c := range e.creds {
		if c.AccessKeyID == id {
			return c, true
		}
	}
	return aws.Credentials{}, false
}

// SetFaults replaces the active faults (and resets their counters). The
// relay faults apply from the next relayed packet on, and a blackout's clock
// starts anew (see Faults.BlackoutFor).
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	e.faults = f
	e.offerCount, e.deliverCount = 0, 0
	e.mu.Unlock()
	e.turn.shaper.set(f)
	e.record(Event{Kind: EventFault, Detail: "set " + f.String()})
}

// RelayStats returns what the TURN server relayed, and dropped or delayed
// under the relay faults, since Start.
func (e *Emulator) RelayStats() RelayStats { return e.turn.shaper.snapshot() }

// ActiveFaults returns the faults in force, with counters as they are now.
func (e *Emulator) ActiveFaults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.faults
}

// takeReject consumes one reject fault (reject-403, then
// reject-unrecognized-client, reject-invalid-signature, reject-expired-token)
// and returns its name and the refusal it injects into request r of action
// ("CONNECT" for a signaling handshake); nil when none applies.
func (e *Emulator) takeReject(r *http.Request, action string) (string, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := &e.faults
	switch {
	case f.Reject403 > 0:
		f.Reject403--
		msg := "User is not authorized to perform: kinesisvideo:" + action + " (emulated fault reject-403)"
		if action == "CONNECT" {
			msg = "Access denied (emulated fault reject-403)"
		}
		return "reject-403", &apiError{http.StatusForbidden, "AccessDeniedException", msg}
	case f.RejectUnrecognizedClient > 0:
		f.RejectUnrecognizedClient--
		return "reject-unrecognized-client", &apiError{http.StatusForbidden, "UnrecognizedClientException", msgInvalidToken}
	case f.RejectInvalidSignature > 0:
		f.RejectInvalidSignature--
		return "reject-invalid-signature", &apiError{http.StatusForbidden, "InvalidSignatureException", msgSignatureMismatch + canonicalEcho(r)}
	case f.RejectExpiredToken > 0:
		f.RejectExpiredToken--
		return "reject-expired-token", &apiError{http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	return "", nil
}

// canonicalEcho is the part of AWS's signature-mismatch message that echoes
// the request back (its canonical string, session token and credential
// included), so that clients are tested against repeating it.
func canonicalEcho(r *http.Request) string {
	return "\n\nThe Canonical String for this request should have been\n'" + r.Method + "\n" + r.URL.EscapedPath() + "\n" +
		r.URL.RawQuery + "\nhost:" + r.Host + "\nx-amz-date:" + r.Header.Get("X-Amz-Date") +
		"\nx-amz-security-token:" + r.Header.Get("X-Amz-Security-Token") + "\n\nhost;x-amz-date;x-amz-security-token\n" +
		"'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "'\n" +
		"Authorization: " + r.Header.Get("Authorization")
}

// Close stops serving, closes every signaling connection (with a close frame where the
// peer answers in time), stops the TURN server, waits for every goroutine and removes
// the temporary CA directory.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		conns := make([]*conn, 0, len(e.conns))
		for c := range e.conns {
			conns = append(conns, c)
		}
		e.mu.Unlock()
		close(e.done)

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			// A client still connecting (a TLS handshake not finished, a
			// request in flight) when the emulator closes is not an error of
			// the emulator's: cut it off.
			e.log.Debug("connections still open at close: closing them", "err", err)
			_ = e.srv.Close()
		}
		for _, c := range conns {
			c.shutdown(closeGoingAway, "emulator shutting down")
		}
		for _, c := range conns {
			select {
			case <-c.finished:
			case <-ctx.Done():
				c.shutdown(closeAbrupt, "emulator shutdown timed out")
			}
		}
		e.wg.Wait()
		if err := e.turn.close(); err != nil {
			e.closeErr = errors.Join(e.closeErr, fmt.Errorf("close kvs emulator: %w", err))
		}
		e.removeCA()
		e.record(Event{Kind: EventStop})
	})
	return e.closeErr
}

// Stats are counters and sizes of what the emulator keeps in memory.
type Stats struct {
	// Events is how many events the in-memory log holds (at most Config.EventLogSize).
	Events int
	// EventsRecorded counts the events recorded since Start, authentication failures excluded.
	EventsRecorded int64
	// AuthFailures counts requests and handshakes that failed authentication (see AuthFailures).
	AuthFailures int64
	// Queued is how many undelivered messages all channels keep.
	Queued int
	// QueueDropped counts undelivered messages dropped because a queue was full.
	QueueDropped int64
}

// Stats returns the emulator's counters and sizes.
func (e *Emulator) Stats() Stats {
	var st Stats
	e.mu.Lock()
	for _, ch := range e.channels {
		st.Queued += len(ch.pending)
	}
	st.QueueDropped = e.queueDropped
	e.mu.Unlock()
	e.evMu.Lock()
	st.Events = len(e.events.buf)
	st.EventsRecorded = e.events.next
	for _, n := range e.authFailures {
		st.AuthFailures += n
	}
	e.evMu.Unlock()
	return st
}

// newRequestID returns a request id for the x-amzn-RequestId header.
func (e *Emulator) newRequestID() string {
	e.mu.Lock()
	e.requestSerial++
	n := e.requestSerial
	e.mu.Unlock()
	return fmt.Sprintf("kvs-emulator-%08d", n)
}

// channelARN builds an ARN shaped like the service's:
// arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/CREATION_MILLIS.
func (e *Emulator) channelARN(name string, created time.Time) string {
	return "arn:aws:kinesisvideo:" + e.cfg.Region + ":" + e.cfg.AccountID + ":channel/" + name + "/" +
		strconv.FormatInt(created.UnixMilli(), 10)
}
