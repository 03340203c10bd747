package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"
	"github.com/aws/smithy-go"
	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

func TestControlPlaneWithSDK(t *testing.T) {
	h := startHarness(t, Config{Channels: []string{"demo-channel", "other"}, MessageTTL: 30 * time.Second})
	ctx := context.Background()
	kv := h.sdk(h.e.Credentials())

	d, err := kv.DescribeSignalingChannel(ctx, &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String("demo-channel")})
	if err != nil {
		t.Fatalf("DescribeSignalingChannel: %v", err)
	}
	ci := d.ChannelInfo
	if aws.ToString(ci.ChannelARN) != h.e.ChannelARN("demo-channel") || ci.ChannelStatus != types.StatusActive ||
		ci.ChannelType != types.ChannelTypeSingleMaster || aws.ToInt32(ci.SingleMasterConfiguration.MessageTtlSeconds) != 30 ||
		ci.CreationTime == nil || ci.CreationTime.IsZero() || aws.ToString(ci.Version) == "" {
		t.Errorf("ChannelInfo = %+v", ci)
	}
	if !strings.HasPrefix(aws.ToString(ci.ChannelARN), "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo-channel/") {
		t.Errorf("ARN = %s", aws.ToString(ci.ChannelARN))
	}
	byARN, err := kv.DescribeSignalingChannel(ctx, &kinesisvideo.DescribeSignalingChannelInput{ChannelARN: ci.ChannelARN})
	if err != nil || aws.ToString(byARN.ChannelInfo.ChannelName) != "demo-channel" {
		t.Errorf("describe by ARN: %+v, %v", byARN, err)
	}

	_, err = kv.DescribeSignalingChannel(ctx, &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("describe missing: %v, want ResourceNotFoundException", err)
	}

	ep, err := kv.GetSignalingChannelEndpoint(ctx, &kinesisvideo.GetSignalingChannelEndpointInput{
		ChannelARN: ci.ChannelARN,
		SingleMasterChannelEndpointConfiguration: &types.SingleMasterChannelEndpointConfiguration{
			Protocols: []types.ChannelProtocol{types.ChannelProtocolWss, types.ChannelProtocolHttps},
			Role:      types.ChannelRoleViewer,
		},
	})
	if err != nil {
		t.Fatalf("GetSignalingChannelEndpoint: %v", err)
	}
	got := map[types.ChannelProtocol]string{}
	for _, it := range ep.ResourceEndpointList {
		got[it.Protocol] = aws.ToString(it.ResourceEndpoint)
	}
	hostPort := strings.TrimPrefix(h.e.Endpoint(), "https://")
	if got[types.ChannelProtocolWss] != "wss://"+hostPort || got[types.ChannelProtocolHttps] != "https://"+hostPort {
		t.Errorf("endpoints = %v", got)
	}
	_, err = kv.GetSignalingChannelEndpoint(ctx, &kinesisvideo.GetSignalingChannelEndpointInput{
		ChannelARN:                               ci.ChannelARN,
		SingleMasterChannelEndpointConfiguration: &types.SingleMasterChannelEndpointConfiguration{Role: "OBSERVER"},
	})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) {
		t.Errorf("bad role: %v, want InvalidArgumentException", err)
	}

	cr, err := kv.CreateSignalingChannel(ctx, &kinesisvideo.CreateSignalingChannelInput{
		ChannelName:               aws.String("made-by-test"),
		SingleMasterConfiguration: &types.SingleMasterConfiguration{MessageTtlSeconds: aws.Int32(10)},
	})
	if err != nil || aws.ToString(cr.ChannelARN) != h.e.ChannelARN("made-by-test") {
		t.Fatalf("CreateSignalingChannel: %+v, %v", cr, err)
	}
	_, err = kv.CreateSignalingChannel(ctx, &kinesisvideo.CreateSignalingChannelInput{ChannelName: aws.String("made-by-test")})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("create twice: %v, want ResourceInUseException", err)
	}
	_, err = kv.CreateSignalingChannel(ctx, &kinesisvideo.CreateSignalingChannelInput{
		ChannelName:               aws.String("bad-ttl"),
		SingleMasterConfiguration: &types.SingleMasterConfiguration{MessageTtlSeconds: aws.Int32(121)},
	})
	if !errors.As(err, &ia) {
		t.Errorf("TTL 121: %v, want InvalidArgumentException", err)
	}

	ls, err := kv.ListSignalingChannels(ctx, &kinesisvideo.ListSignalingChannelsInput{})
	if err != nil {
		t.Fatalf("ListSignalingChannels: %v", err)
	}
	var names []string
	for _, c := range ls.ChannelInfoList {
		names = append(names, aws.ToString(c.ChannelName))
	}
	if strings.Join(names, ",") != "demo-channel,made-by-test,other" {
		t.Errorf("list = %v", names)
	}
	page, err := kv.ListSignalingChannels(ctx, &kinesisvideo.ListSignalingChannelsInput{
		MaxResults:           aws.Int32(1),
		ChannelNameCondition: &types.ChannelNameCondition{ComparisonOperator: types.ComparisonOperatorBeginsWith, ComparisonValue: aws.String("m")},
	})
	if err != nil || len(page.ChannelInfoList) != 1 || aws.ToString(page.ChannelInfoList[0].ChannelName) != "made-by-test" || page.NextToken != nil {
		t.Errorf("filtered list: %+v, %v", page, err)
	}

	_, err = kv.DeleteSignalingChannel(ctx, &kinesisvideo.DeleteSignalingChannelInput{ChannelARN: cr.ChannelARN, CurrentVersion: aws.String("wrong")})
	var vm *types.VersionMismatchException
	if !errors.As(err, &vm) {
		t.Errorf("delete with wrong version: %v, want VersionMismatchException", err)
	}
	if _, err := kv.DeleteSignalingChannel(ctx, &kinesisvideo.DeleteSignalingChannelInput{ChannelARN: cr.ChannelARN}); err != nil {
		t.Errorf("DeleteSignalingChannel: %v", err)
	}
	if h.e.ChannelARN("made-by-test") != "" {
		t.Error("deleted channel still there")
	}
}

// apiCode returns the AWS error code the SDK surfaced.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestControlPlaneAuthFailures(t *testing.T) {
	session := aws.Credentials{AccessKeyID: "AKIASESSIONKEY", SecretAccessKey: "session-secret", SessionToken: "session-token"}
	h := startHarness(t, Config{})
	h2 := startHarness(t, Config{Credentials: []aws.Credentials{session}})
	ctx := context.Background()
	in := &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String("demo-channel")}

	wrongSecret := h.e.Credentials()
	wrongSecret.SecretAccessKey += "x"
	_, err := h.sdk(wrongSecret).DescribeSignalingChannel(ctx, in)
	if apiCode(err) != "InvalidSignatureException" || !strings.Contains(err.Error(), "signature we calculated does not match") {
		t.Errorf("wrong secret: %v", err)
	}
	unknown := h.e.Credentials()
	unknown.AccessKeyID = "AKIANOTKNOWN"
	_, err = h.sdk(unknown).DescribeSignalingChannel(ctx, in)
	if apiCode(err) != "UnrecognizedClientException" {
		t.Errorf("unknown key: %v", err)
	}

	// The emulator's clock runs 10 minutes ahead of the SDK's.
	h.clock.Advance(10 * time.Minute)
	_, err = h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in)
	if apiCode(err) != "InvalidSignatureException" || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("skewed clock: %v", err)
	}
	h.clock.Advance(-10 * time.Minute)

	if _, err := h2.sdk(session).DescribeSignalingChannel(ctx, in); err != nil {
		t.Errorf("session credential: %v", err)
	}
	noToken := session
	noToken.SessionToken = ""
	_, err = h2.sdk(noToken).DescribeSignalingChannel(ctx, in)
	if apiCode(err) != "UnrecognizedClientException" {
		t.Errorf("missing session token: %v", err)
	}

	h.e.SetFaults(Faults{Reject403: 1})
	_, err = h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in)
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Errorf("reject-403: %v, want AccessDeniedException", err)
	}
	if _, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in); err != nil {
		t.Errorf("after the one rejection: %v", err)
	}

	for _, ev := range append(h.e.Events(), h2.e.Events()...) {
		line, _ := json.Marshal(ev)
		for _, secret := range []string{wrongSecret.SecretAccessKey, h.e.Credentials().SecretAccessKey, session.SecretAccessKey, session.SessionToken} {
			if strings.Contains(string(line), secret) {
				t.Fatalf("event leaks a secret: %s", line)
			}
		}
	}
	// Authentication failures are counted by reason, not kept in the event log.
	reasons := h.e.AuthFailures()
	for _, r := range []string{"signature_mismatch", "unknown_access_key", "signature_expired"} {
		if reasons[r] == 0 {
			t.Errorf("no auth failure counted with reason %s (got %v)", r, reasons)
		}
	}
	for _, ev := range h.e.Events() {
		if ev.Kind == EventAuthFailure {
			t.Errorf("auth failure kept in the in-memory log: %+v", ev)
		}
	}
}

// TestIceServerConfigTURN fetches TURN credentials with a raw signed POST and uses them
// for a real allocation on the emulator's TURN server, relaying a datagram.
func TestIceServerConfigTURN(t *testing.T) {
	h := startHarness(t, Config{})
	resp, body := h.signedPost("/v1/get-ice-server-config", map[string]string{
		"ChannelARN": h.e.ChannelARN("demo-channel"), "ClientId": "viewer-1", "Service": "TURN",
	}, h.e.Credentials(), h.clock.Now())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out struct {
		IceServerList []struct {
			Uris               []string
			Username, Password string
			TTL                int `json:"Ttl"`
		}
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.IceServerList) != 1 {
		t.Fatalf("body %s: %v", body, err)
	}
	srv := out.IceServerList[0]
	if srv.TTL != 300 || len(srv.Uris) != 1 || srv.Uris[0] != "turn:"+h.e.TURNAddr()+"?transport=udp" {
		t.Fatalf("ice server = %+v", srv)
	}

	resp, body = h.signedPost("/v1/get-ice-server-config", map[string]string{"ChannelARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/nope/1"},
		h.e.Credentials(), h.clock.Now())
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("unknown channel: %d %s", resp.StatusCode, body)
	}
	wrong := h.e.Credentials()
	wrong.SecretAccessKey = "wrong"
	resp, _ = h.signedPost("/v1/get-ice-server-config", map[string]string{"ChannelARN": h.e.ChannelARN("demo-channel")}, wrong, h.clock.Now())
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("wrong secret: %d", resp.StatusCode)
	}

	// A real TURN allocation with those credentials, and one datagram through the relay.
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: h.e.TURNAddr(), TURNServerAddr: h.e.TURNAddr(),
		Username: srv.Username, Password: srv.Password, Conn: pc, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("TURN allocate with the returned credentials: %v", err)
	}
	defer func() { _ = relay.Close() }()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = peer.Close() }()
	if _, err := relay.WriteTo([]byte("through the relay"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = peer.SetReadDeadline(time.Now().Add(waitLimit))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "through the relay" || from.String() != relay.LocalAddr().String() {
		t.Fatalf("relayed datagram %q from %v (relay %v): %v", buf[:n], from, relay.LocalAddr(), err)
	}

	// Bad credentials are refused by the TURN server.
	pc2, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc2.Close() }()
	bad, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: h.e.TURNAddr(), TURNServerAddr: h.e.TURNAddr(),
		Username: srv.Username, Password: "not-the-password", Conn: pc2, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Listen(); err != nil {
		t.Fatal(err)
	}
	if r, err := bad.Allocate(); err == nil {
		_ = r.Close()
		t.Fatal("allocation with a wrong password succeeded")
	}
}

func TestStartConfig(t *testing.T) {
	if _, err := Start(context.Background(), Config{Listen: "192.0.2.1:0"}); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("non-loopback listen: %v", err)
	}
	if _, err := Start(context.Background(), Config{MessageTTL: time.Second}); err == nil {
		t.Error("TTL 1s accepted")
	}
	if _, err := Start(context.Background(), Config{Channels: []string{"bad name"}}); err == nil {
		t.Error("bad channel name accepted")
	}

	dir := t.TempDir()
	e, err := Start(context.Background(), Config{Listen: "[::1]:0", CADir: dir})
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	if !strings.HasPrefix(e.Endpoint(), "https://[::1]:") || e.CAFile() != dir+"/ca.pem" {
		t.Errorf("endpoint %s, CA %s", e.Endpoint(), e.CAFile())
	}
	env := strings.Join(e.Env(), "\n")
	for _, k := range []string{"AWS_ENDPOINT_URL_KINESIS_VIDEO=" + e.Endpoint(), "AWS_CA_BUNDLE=" + e.CAFile(), "SSL_CERT_FILE=" + e.CAFile(),
		"AWS_REGION=us-west-2", "AWS_ACCESS_KEY_ID=" + e.Credentials().AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.Credentials().SecretAccessKey} {
		if !strings.Contains(env, k) {
			t.Errorf("Env lacks %s", k)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.CAFile()); err != nil {
		t.Errorf("a caller-chosen CADir must be kept: %v", err)
	}

	e, err = Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ca := e.CAFile()
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ca); !os.IsNotExist(err) {
		t.Errorf("temporary CA not removed: %v", err)
	}
}

// TestEnvDrivesUnmodifiedSDK: with only Env() set, the SDK's default configuration
// (AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_CA_BUNDLE, static env credentials) reaches the emulator.
func TestEnvDrivesUnmodifiedSDK(t *testing.T) {
	h := startHarness(t, Config{Now: time.Now})
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	for _, kv := range h.e.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := kinesisvideo.NewFromConfig(cfg)
	out, err := client.DescribeSignalingChannel(context.Background(), &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String("demo-channel")})
	if err != nil {
		t.Fatalf("DescribeSignalingChannel through the environment: %v", err)
	}
	if aws.ToString(out.ChannelInfo.ChannelARN) != h.e.ChannelARN("demo-channel") {
		t.Errorf("ARN %s", aws.ToString(out.ChannelInfo.ChannelARN))
	}
	if tr, ok := cfg.HTTPClient.(interface{ CloseIdleConnections() }); ok {
		tr.CloseIdleConnections()
	}
}
