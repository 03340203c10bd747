// The emulator's lifecycle: Start (CA, channels, listener, TURN server),
// serving TLS, and Close. Configuration is in config.go, accessors and fault
// setters in accessors.go.

// Package emulator is a local Amazon Kinesis Video Streams WebRTC signaling service
// for tests, QA and the demo mode: the control plane (REST JSON, SigV4-checked), the
// HTTPS GetIceServerConfig call backed by a real TURN server, and the SigV4-presigned
// WSS signaling relay between one master and up to ten viewers per channel, with
// fault injection. It listens on loopback only unless told otherwise, with a
// throw-away CA whose certificate clients must trust explicitly.
package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
