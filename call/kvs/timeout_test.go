package kvs_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// patience is the short timeout under test; slack is how much longer than it a
// failure may take to be reported (scheduling on a loaded machine).
const (
	patience = 300 * time.Millisecond
	slack    = 2 * time.Second
)

// loadWithTimeouts loads the AWS config of ev's emulator with timeouts t.
func loadWithTimeouts(t *testing.T, ev *env, timeouts kvs.Timeouts) kvs.Config {
	t.Helper()
	cfg, err := kvs.LoadAWSConfig(ctxT(t), kvs.AWSOptions{CAFile: ev.e.CAFile(), Timeouts: timeouts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.CloseIdleConnections)
	return cfg
}

func setFaults(t *testing.T, e *emulator.Emulator, spec string) {
	t.Helper()
	f, err := emulator.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	e.SetFaults(f)
}

// checkTimeout checks that err is a timeout of phase after patience, reported
// within patience plus slack of start, in words that say what happened.
func checkTimeout(t *testing.T, err error, phase string, start time.Time) {
	t.Helper()
	d := patience
	took := time.Since(start)
	var te *kvs.TimeoutError
	if !errors.Is(err, kvs.ErrTimeout) || !errors.As(err, &te) || te.Phase != phase || te.After != d {
		t.Fatalf("got %v (%T), want a %s timeout after %s", err, err, phase, d)
	}
	if took < d || took > d+slack {
		t.Errorf("reported after %s, want about %s", took, d)
	}
	want := "did not answer within " + d.String()
	if phase == kvs.PhaseTLS {
		want = "did not complete the TLS handshake within " + d.String()
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%q does not say %q", err, want)
	}
	t.Logf("error text: %s", err)
}

// A control-plane or ICE-config request the endpoint never answers fails with
// ErrTimeout after the response-header timeout, without SDK retries; the next
// request is served.
func TestStalledControlPlaneTimesOut(t *testing.T) {
	ev := setup(t)
	cfg := loadWithTimeouts(t, ev, kvs.Timeouts{ResponseHeader: patience})
	cp := kvs.NewControlPlane(cfg)
	ctx := ctxT(t)

	setFaults(t, ev.e, "stall-http=1")
	start := time.Now()
	_, err := cp.DescribeChannel(ctx, "ch")
	checkTimeout(t, err, kvs.PhaseResponse, start)
	ch, err := cp.DescribeChannel(ctx, "ch")
	if err != nil {
		t.Fatalf("the request after the stall: %v", err)
	}

	ep, err := cp.GetEndpoints(ctx, ch.ARN, kvs.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	setFaults(t, ev.e, "stall-http=1")
	start = time.Now()
	_, err = cp.GetICEServers(ctx, ep, ch.ARN, "v1")
	checkTimeout(t, err, kvs.PhaseResponse, start)
	if _, err := cp.GetICEServers(ctx, ep, ch.ARN, "v1"); err != nil {
		t.Fatalf("the request after the stall: %v", err)
	}
}

// A WebSocket upgrade the endpoint never answers fails with ErrTimeout after
// the upgrade timeout (or the response-header timeout, whichever is shorter);
// the next dial succeeds and its connection outlives the upgrade timeout.
func TestStalledUpgradeTimesOut(t *testing.T) {
	ev := setup(t)
	arn := ev.e.ChannelARN("ch")

	cfg := loadWithTimeouts(t, ev, kvs.Timeouts{Upgrade: patience})
	setFaults(t, ev.e, "stall-ws=1")
	start := time.Now()
	_, err := dial(t, ev, cfg, arn, kvs.RoleViewer, "v1")
	checkTimeout(t, err, kvs.PhaseUpgrade, start)
	c, err := dial(t, ev, cfg, arn, kvs.RoleViewer, "v1")
	if err != nil {
		t.Fatalf("the dial after the stall: %v", err)
	}
	defer func() { _ = c.Close() }()
	time.Sleep(2 * patience)
	if err := ev.e.SendGoAway("ch", "v1"); err != nil {
		t.Fatal(err)
	}
	next(t, c, kvs.TypeGoAway)

	cfg = loadWithTimeouts(t, ev, kvs.Timeouts{ResponseHeader: patience})
	setFaults(t, ev.e, "stall-ws=1")
	start = time.Now()
	_, err = dial(t, ev, cfg, arn, kvs.RoleViewer, "v2")
	checkTimeout(t, err, kvs.PhaseResponse, start)
}

// blackHole accepts TCP connections and never sends a byte; it returns the
// address and a count of the connections it accepted.
func blackHole(t *testing.T) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

// An endpoint that accepts TCP but never speaks TLS fails with ErrTimeout
// after the TLS handshake timeout, for the control plane and the dialer.
func TestSilentTLSTimesOut(t *testing.T) {
	ev := setup(t)
	addr, accepted := blackHole(t)
	ctx := ctxT(t)
	cfg, err := kvs.LoadAWSConfig(ctx, kvs.AWSOptions{
		CAFile: ev.e.CAFile(), EndpointURL: "https://" + addr, Timeouts: kvs.Timeouts{TLSHandshake: patience},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.CloseIdleConnections()
	start := time.Now()
	_, err = kvs.NewControlPlane(cfg).DescribeChannel(ctx, "ch")
	checkTimeout(t, err, kvs.PhaseTLS, start)

	start = time.Now()
	_, err = kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: ev.e.ChannelARN("ch"),
		Endpoints: kvs.Endpoints{WSS: "wss://" + addr}, Role: kvs.RoleViewer, ClientID: "v1"})
	checkTimeout(t, err, kvs.PhaseTLS, start)
	if n := accepted(); n != 2 {
		t.Errorf("%d connections reached the black hole, want 2 (no retries)", n)
	}
}

// A caller's own deadline is not reported as the endpoint's timeout.
func TestCallerDeadlineIsNotErrTimeout(t *testing.T) {
	ev := setup(t)
	cfg := loadWithTimeouts(t, ev, kvs.Timeouts{})
	setFaults(t, ev.e, "stall-http=1,stall-ws=1")
	ctx, cancel := context.WithTimeout(ctxT(t), patience)
	defer cancel()
	_, err := kvs.NewControlPlane(cfg).DescribeChannel(ctx, "ch")
	if err == nil || errors.Is(err, kvs.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("describe: %v", err)
	}
	ep, err := ev.cp.GetEndpoints(ctxT(t), ev.e.ChannelARN("ch"), kvs.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(ctxT(t), patience)
	defer cancel2()
	_, err = kvs.Dial(ctx2, kvs.DialOptions{Config: cfg, ChannelARN: ev.e.ChannelARN("ch"), Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
	if err == nil || errors.Is(err, kvs.ErrTimeout) {
		t.Fatalf("dial: %v", err)
	}
}
