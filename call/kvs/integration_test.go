package kvs_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// waitLimit bounds every wait so that a bug fails the test instead of hanging it;
// no assertion depends on how long anything took.
const waitLimit = 10 * time.Second

// systemBundle is what AWS_CA_BUNDLE and SSL_CERT_FILE point at on these machines.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// clock is the emulator's clock: real time plus a settable offset.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time      { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) set(d time.Duration) { c.off.Store(int64(d)) }

type env struct {
	e     *emulator.Emulator
	clock *clock
	cfg   kvs.Config
	cp    *kvs.ControlPlane
}

// setup starts an emulator with channel "ch" and loads the AWS config the way the
// app does: the standard environment (endpoint override, credentials, region, and
// AWS_CA_BUNDLE/SSL_CERT_FILE at the system bundle as on these machines) plus CAFile.
func setup(t *testing.T) *env {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	clk := &clock{}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	e, err := emulator.Start(ctx, emulator.Config{Channels: []string{"ch"}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("emulator close: %v", err)
		}
	})
	creds := e.Credentials()
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_KINESIS_VIDEO", e.Endpoint())
	t.Setenv("AWS_REGION", e.Region())
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", creds.SessionToken)
	t.Setenv("AWS_CA_BUNDLE", systemBundle)
	t.Setenv("SSL_CERT_FILE", systemBundle)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if _, err := os.Stat(systemBundle); err != nil {
		t.Fatalf("system bundle: %v", err)
	}
	cfg, err := kvs.LoadAWSConfig(ctx, kvs.AWSOptions{CAFile: e.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.CloseIdleConnections)
	return &env{e: e, clock: clk, cfg: cfg, cp: kvs.NewControlPlane(cfg)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next message of c, failing if it is not of type want.
func next(t *testing.T, c *kvs.Conn, want kvs.MessageType) kvs.Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("connection ended waiting for %s: %v", want, c.Err())
		}
		if m.Type != want {
			t.Fatalf("got %s, want %s", m.Type, want)
		}
		return m
	case <-time.After(waitLimit):
		t.Fatalf("no %s", want)
	}
	return kvs.Message{}
}

func dial(t *testing.T, ev *env, cfg kvs.Config, arn string, role kvs.Role, clientID string) (*kvs.Conn, error) {
	t.Helper()
	ctx := ctxT(t)
	ep, err := ev.cp.GetEndpoints(ctx, arn, role)
	if err != nil {
		t.Fatal(err)
	}
	return kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: arn, Endpoints: ep, Role: role, ClientID: clientID})
}

func TestSignalingViewerAndMaster(t *testing.T) {
	ev := setup(t)
	ctx := ctxT(t)

	ch, err := ev.cp.DescribeChannel(ctx, "ch")
	if err != nil {
		t.Fatal(err)
	}
	if ch.ARN != ev.e.ChannelARN("ch") || ch.Name != "ch" || ch.Type != "SINGLE_MASTER" || ch.Status != "ACTIVE" {
		t.Fatalf("channel %+v", ch)
	}
	byARN, err := ev.cp.DescribeChannel(ctx, ch.ARN)
	if err != nil || byARN != ch {
		t.Fatalf("describe by ARN: %+v %v", byARN, err)
	}
	vep, err := ev.cp.GetEndpoints(ctx, ch.ARN, kvs.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{vep.WSS, vep.HTTPS} {
		p, err := url.Parse(u)
		if err != nil || p.Hostname() != "127.0.0.1" {
			t.Fatalf("endpoint %q is not on loopback", u)
		}
	}
	ice, err := ev.cp.GetICEServers(ctx, vep, ch.ARN, "viewer-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ice.Servers) == 0 || ice.Expires.Before(time.Now()) {
		t.Fatalf("ICE config %+v", ice)
	}
	for _, s := range ice.Servers {
		for _, u := range s.URLs {
			if strings.Contains(u, "amazonaws.com") || !strings.Contains(u, "127.0.0.1") {
				t.Errorf("ICE server %q on a loopback endpoint", u)
			}
		}
		if s.Username == "" || s.Credential == nil || s.Credential == "" {
			t.Errorf("TURN server without credentials: %v", s.URLs)
		}
	}
	mep, err := ev.cp.GetEndpoints(ctx, ch.ARN, kvs.RoleMaster)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.cp.GetICEServers(ctx, mep, ch.ARN, ""); err != nil {
		t.Fatalf("master ICE config: %v", err)
	}

	master, err := kvs.Dial(ctx, kvs.DialOptions{Config: ev.cfg, ChannelARN: ch.ARN, Endpoints: mep, Role: kvs.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = master.Close() }()
	viewer, err := kvs.Dial(ctx, kvs.DialOptions{Config: ev.cfg, ChannelARN: ch.ARN, Endpoints: vep, Role: kvs.RoleViewer, ClientID: "viewer-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = viewer.Close() }()

	// Offer, answer and candidates both ways.
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"}
	if err := viewer.SendOffer(ctx, offer, "offer-1"); err != nil {
		t.Fatal(err)
	}
	m := next(t, master, kvs.TypeSDPOffer)
	if m.SenderClientID != "viewer-1" || m.Offer == nil || *m.Offer != offer || m.Received.IsZero() {
		t.Fatalf("master got %+v", m)
	}
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\n"}
	if err := master.SendAnswer(ctx, answer, m.SenderClientID, ""); err != nil {
		t.Fatal(err)
	}
	if m := next(t, viewer, kvs.TypeSDPAnswer); m.Answer == nil || *m.Answer != answer {
		t.Fatalf("viewer got %+v", m)
	}
	mid, idx := "0", uint16(0)
	vc := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}
	if err := viewer.SendCandidate(ctx, vc, "", ""); err != nil {
		t.Fatal(err)
	}
	if m := next(t, master, kvs.TypeICECandidate); m.Candidate == nil || m.Candidate.Candidate != vc.Candidate || *m.Candidate.SDPMid != "0" || m.SenderClientID != "viewer-1" {
		t.Fatalf("master got %+v", m)
	}
	mc := webrtc.ICECandidateInit{Candidate: "candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host", SDPMid: &mid, SDPMLineIndex: &idx}
	if err := master.SendCandidate(ctx, mc, "viewer-1", "cand-1"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, viewer, kvs.TypeICECandidate); m.Candidate == nil || m.Candidate.Candidate != mc.Candidate || *m.Candidate.SDPMLineIndex != 0 {
		t.Fatalf("viewer got %+v", m)
	}

	// A message for a viewer that is not connected, with a correlationId, gets a STATUS_RESPONSE.
	if err := master.SendCandidate(ctx, mc, "nobody", "corr-42"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, master, kvs.TypeStatusResponse); m.Status == nil || m.Status.CorrelationID != "corr-42" || m.Status.ErrorType == "" {
		t.Fatalf("status %+v", m.Status)
	}

	// Role rules and validation happen before anything is sent.
	if err := viewer.SendCandidate(ctx, vc, "master", ""); !errors.Is(err, kvs.ErrWrongRole) {
		t.Errorf("viewer with recipient: %v", err)
	}
	if err := master.SendCandidate(ctx, mc, "", ""); !errors.Is(err, kvs.ErrWrongRole) {
		t.Errorf("master without recipient: %v", err)
	}
	if err := master.SendOffer(ctx, offer, ""); !errors.Is(err, kvs.ErrWrongRole) {
		t.Errorf("master offer: %v", err)
	}
	big := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: strings.Repeat("a=x\r\n", 3000)}
	if err := viewer.SendOffer(ctx, big, ""); !errors.Is(err, kvs.ErrPayloadTooLarge) {
		t.Errorf("large offer: %v", err)
	}
	if err := viewer.SendOffer(ctx, offer, "bad id!"); !errors.Is(err, kvs.ErrInvalidCorrelationID) {
		t.Errorf("bad correlation id: %v", err)
	}

	// Service control messages arrive typed; malformed frames are counted, never fatal.
	if err := ev.e.SendMalformed("ch", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.SendGoAway("ch", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	next(t, viewer, kvs.TypeGoAway)
	if n := viewer.Malformed(); n != 3 {
		t.Errorf("malformed = %d, want 3", n)
	}
	if err := ev.e.SendReconnectICEServer("ch", "viewer-1"); err != nil {
		t.Fatal(err)
	}
	next(t, viewer, kvs.TypeReconnectICEServer)
	if err := viewer.Err(); err != nil {
		t.Fatalf("viewer ended: %v", err)
	}

	// A dropped socket ends the connection with ErrSignalingClosed.
	if err := ev.e.DropConnection("ch", ""); err != nil {
		t.Fatal(err)
	}
	for range master.Messages() {
	}
	<-master.Done()
	if err := master.Err(); !errors.Is(err, kvs.ErrSignalingClosed) {
		t.Fatalf("master Err = %v", err)
	}
	if err := master.SendAnswer(ctx, answer, "viewer-1", ""); !errors.Is(err, kvs.ErrNotConnected) {
		t.Errorf("send after drop: %v", err)
	}
	if err := master.Close(); err != nil {
		t.Errorf("close after drop: %v", err)
	}

	// Our own Close: normal, idempotent, no error recorded, stream closed.
	if err := viewer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := viewer.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-viewer.Messages(); ok {
		t.Error("messages still open after Close")
	}
	if err := viewer.Err(); err != nil {
		t.Errorf("Err after Close = %v", err)
	}
	if err := viewer.SendOffer(ctx, offer, ""); !errors.Is(err, kvs.ErrNotConnected) {
		t.Errorf("send after close: %v", err)
	}
}

// A service close frame is reported with its code when a newer connection with
// the same ClientId takes over.
func TestSignalingReplacedConnection(t *testing.T) {
	ev := setup(t)
	arn := ev.e.ChannelARN("ch")
	first, err := dial(t, ev, ev.cfg, arn, kvs.RoleViewer, "same-id")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Close() }()
	second, err := dial(t, ev, ev.cfg, arn, kvs.RoleViewer, "same-id")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Close() }()
	select {
	case <-first.Done():
	case <-time.After(waitLimit):
		t.Fatal("the replaced connection did not end")
	}
	if err := first.Err(); !errors.Is(err, kvs.ErrSignalingClosed) {
		t.Fatalf("Err = %v", err)
	}
	if err := second.Err(); err != nil {
		t.Fatalf("second ended: %v", err)
	}
}

func checkNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	s := err.Error()
	t.Logf("error text: %s", s)
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("error text holds a secret: %s", s)
		}
	}
	if strings.Contains(s, "X-Amz-Signature") || strings.Contains(s, "X-Amz-Security-Token") {
		t.Errorf("error text holds signed URL parts: %s", s)
	}
}

func TestSignalingFailures(t *testing.T) {
	ev := setup(t)
	ctx := ctxT(t)
	arn := ev.e.ChannelARN("ch")
	good := ev.e.Credentials()

	t.Run("unknown channel", func(t *testing.T) {
		_, err := ev.cp.DescribeChannel(ctx, "nope")
		if !errors.Is(err, kvs.ErrChannelNotFound) || !strings.Contains(err.Error(), `channel "nope" not found in `+ev.e.Region()) {
			t.Fatalf("describe: %v", err)
		}
		checkNoSecrets(t, err)
		var se *kvs.ServiceError
		if !errors.As(err, &se) || se.Code != "ResourceNotFoundException" {
			t.Fatalf("not a ServiceError: %#v", err)
		}
		ep, err := ev.cp.GetEndpoints(ctx, arn, kvs.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(arn, "channel/ch/", "channel/gone/", 1)
		_, err = kvs.Dial(ctx, kvs.DialOptions{Config: ev.cfg, ChannelARN: bad, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
		if !errors.Is(err, kvs.ErrChannelNotFound) {
			t.Fatalf("dial: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
		if _, err := ev.cp.GetICEServers(ctx, ep, bad, "v1"); !errors.Is(err, kvs.ErrChannelNotFound) {
			t.Fatalf("ICE config: %v", err)
		}
	})

	t.Run("wrong secret key", func(t *testing.T) {
		wrong := good
		wrong.SecretAccessKey = "WRONG" + good.SecretAccessKey[5:]
		cfg, err := kvs.LoadAWSConfig(ctx, kvs.AWSOptions{CAFile: ev.e.CAFile(), Credentials: credentials.StaticCredentialsProvider{Value: wrong}})
		if err != nil {
			t.Fatal(err)
		}
		defer cfg.CloseIdleConnections()
		_, err = kvs.NewControlPlane(cfg).DescribeChannel(ctx, "ch")
		if !errors.Is(err, kvs.ErrAccessDenied) || errors.Is(err, kvs.ErrClockSkew) || !strings.Contains(err.Error(), "secret key is wrong") {
			t.Fatalf("describe: %v", err)
		}
		checkNoSecrets(t, err, wrong.SecretAccessKey, good.SecretAccessKey, good.SessionToken)
		_, err = dial(t, ev, cfg, arn, kvs.RoleViewer, "v1")
		if !errors.Is(err, kvs.ErrAccessDenied) || !strings.Contains(err.Error(), "secret key is wrong") {
			t.Fatalf("dial: %v", err)
		}
		checkNoSecrets(t, err, wrong.SecretAccessKey, good.SecretAccessKey, good.SessionToken)
	})

	t.Run("expired URL", func(t *testing.T) {
		ep, err := ev.cp.GetEndpoints(ctx, arn, kvs.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		// The URL is signed now; the service's clock says 6 minutes later: past X-Amz-Expires=299.
		ev.clock.set(6 * time.Minute)
		defer ev.clock.set(0)
		_, err = kvs.Dial(ctx, kvs.DialOptions{Config: ev.cfg, ChannelARN: arn, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
		if !errors.Is(err, kvs.ErrURLExpired) || !errors.Is(err, kvs.ErrAccessDenied) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("dial: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
	})

	t.Run("clock behind", func(t *testing.T) {
		ep, err := ev.cp.GetEndpoints(ctx, arn, kvs.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		ev.clock.set(-10 * time.Minute)
		defer ev.clock.set(0)
		_, err = kvs.Dial(ctx, kvs.DialOptions{Config: ev.cfg, ChannelARN: arn, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
		if !errors.Is(err, kvs.ErrClockSkew) || !errors.Is(err, kvs.ErrAccessDenied) || !strings.Contains(err.Error(), "clock") {
			t.Fatalf("dial: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
		_, err = ev.cp.DescribeChannel(ctx, "ch")
		if !errors.Is(err, kvs.ErrClockSkew) || !errors.Is(err, kvs.ErrAccessDenied) || !strings.Contains(err.Error(), "local clock is 10m0s ahead") {
			t.Fatalf("describe: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
	})

	t.Run("bad client id", func(t *testing.T) {
		for _, id := range []string{"", "AWS_viewer", "has space"} {
			_, err := dial(t, ev, ev.cfg, arn, kvs.RoleViewer, id)
			if !errors.Is(err, kvs.ErrInvalidClientID) {
				t.Fatalf("ClientId %q: %v", id, err)
			}
			checkNoSecrets(t, err)
		}
	})

	t.Run("untrusted endpoint", func(t *testing.T) {
		// Without the emulator's CA only AWS_CA_BUNDLE (the system bundle) is trusted: TLS must fail.
		cfg, err := kvs.LoadAWSConfig(ctx, kvs.AWSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cp := kvs.NewControlPlane(cfg)
		_, err = cp.DescribeChannel(ctx, "ch")
		if err == nil || !strings.Contains(err.Error(), "--ca-file") {
			t.Fatalf("describe without the CA: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
		ep, err := ev.cp.GetEndpoints(ctx, arn, kvs.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: arn, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
		if err == nil || !strings.Contains(err.Error(), "--ca-file") {
			t.Fatalf("dial without the CA: %v", err)
		}
		checkNoSecrets(t, err, good.SecretAccessKey, good.SessionToken)
	})

	t.Run("programmatic trust", func(t *testing.T) {
		cfg, err := kvs.LoadAWSConfig(ctx, kvs.AWSOptions{
			RootCAs:     ev.e.CAPool(),
			EndpointURL: ev.e.Endpoint(),
			Region:      ev.e.Region(),
			Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: good.SecretAccessKey, SessionToken: good.SessionToken}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cfg.CloseIdleConnections()
		c, err := dial(t, ev, cfg, arn, kvs.RoleMaster, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSendsKeepToTheServiceRate: the service refuses a connection's offers
// and answers beyond 5 a second and candidates beyond 20 (the emulator does
// too). A master answering ten viewers at once, and a viewer sending 30
// candidates at once, get every message through: the sends wait their turn.
func TestSendsKeepToTheServiceRate(t *testing.T) {
	ev := setup(t)
	ctx := ctxT(t)
	arn := ev.e.ChannelARN("ch")
	master, err := dial(t, ev, ev.cfg, arn, kvs.RoleMaster, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = master.Close() }()
	var viewers []*kvs.Conn
	for i := range 10 {
		v, err := dial(t, ev, ev.cfg, arn, kvs.RoleViewer, fmt.Sprintf("viewer-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = v.Close() }()
		viewers = append(viewers, v)
	}
	start := time.Now()
	for i := range viewers {
		answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: "v=0\r\n"}
		if err := master.SendAnswer(ctx, answer, fmt.Sprintf("viewer-%d", i), ""); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	for _, v := range viewers {
		next(t, v, kvs.TypeSDPAnswer)
	}
	t.Logf("ten answers delivered in %s", time.Since(start).Round(time.Millisecond))
	for i := range 30 {
		c := webrtc.ICECandidateInit{Candidate: fmt.Sprintf("candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host", i, 40000+i)}
		if err := viewers[0].SendCandidate(ctx, c, "", ""); err != nil {
			t.Fatalf("candidate %d: %v", i, err)
		}
	}
	for range 30 {
		next(t, master, kvs.TypeICECandidate)
	}
	for _, e := range ev.e.Events() {
		if e.Kind == emulator.EventRefused || strings.Contains(e.Detail, "rate limit") {
			t.Errorf("the emulator refused a message: %+v", e)
		}
	}
}
