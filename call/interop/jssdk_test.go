package interop_test

import (
	"context"
	"crypto/tls"
	_ "embed"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// The test pages: the JS SDK as master, and as viewer.
var (
	//go:embed testdata/master.html
	masterPage string
	//go:embed testdata/viewer.html
	viewerPage string
)

const channel = "jssdk-channel"

// TestViewerAgainstJSSDKMaster: the official KVS WebRTC JS SDK is the
// MASTER, in headless Chromium with its fake camera and microphone, and
// signs its own WebSocket URL; this app's controller is the viewer. Through
// the emulator, the call goes live both ways (the master decodes our video
// and hears our audio; we decode its picture), the data channel's round
// trip is measured against the page's echo, and a Reconnect makes a new
// session that goes live again with a new ClientId.
func TestViewerAgainstJSSDKMaster(t *testing.T) {
	bundle := sdkBundle(t)
	log := testLogger()
	emu := startEmulator(t, log)
	arn := emu.ChannelARN(channel)
	p := servePage(t, masterPage, bundle, pageConfig(emu, arn, wssEndpoint(t, emu, arn, types.ChannelRoleMaster), ""))
	chromium(t, p.URL, emu.CAFile())
	p.wait(t, 60*time.Second, "open signaling connection", func(r report) bool { return r.event() == "open" })

	ctrl, err := call.NewController(call.Config{
		AWS:           awsOptions(emu),
		Channel:       channel,
		AnswerTimeout: 10 * time.Second,
		DataChannel:   true,
		Media:         capture.Options{Video: "test", Audio: "tone", Width: 320, Height: 240, FPS: 30, PatternStyle: pattern.StyleViewer},
		Logger:        log,
	})
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	events, _ := ctrl.Subscribe()
	t.Cleanup(func() { _ = ctrl.Close() })

	first := goLive(t, ctrl, events, ctrl.Connect, p)
	// Reconnect: a whole new session against the same browser master.
	second := goLive(t, ctrl, events, ctrl.Reconnect, p)
	if second.ClientID == first.ClientID || second.SessionID == first.SessionID {
		t.Errorf("Reconnect reused the session or ClientId: %s/%d then %s/%d", first.ClientID, first.SessionID, second.ClientID, second.SessionID)
	}
	ctrl.Disconnect()
	if _, err := call.AwaitState(deadline(t, 10*time.Second), ctrl, events, nil, call.StateIdle); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	p.wait(t, 30*time.Second, "the viewer's connection closing", func(r report) bool {
		return r.event() == "connection" && r.str("viewer") == second.ClientID && (r.str("state") == "closed" || r.str("state") == "disconnected" || r.str("state") == "failed")
	})
}

// TestJSSDKViewerAgainstOurMaster: the other way round, the official JS
// SDK is a VIEWER in headless Chromium and this app's master (the one
// `kvsviewer master` runs) answers it: the browser decodes the master's
// 1280x720 pattern and hears its tone, and the data channel carries the
// browser's message to the master and the master's greetings back.
func TestJSSDKViewerAgainstOurMaster(t *testing.T) {
	bundle := sdkBundle(t)
	log := testLogger()
	emu := startEmulator(t, log)
	arn := emu.ChannelARN(channel)
	m, err := master.Start(context.Background(), master.Options{AWS: awsOptions(emu), Channel: channel, Loopback: true, Logger: log})
	if err != nil {
		t.Fatalf("master: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	const viewer = "jssdk-viewer-1"
	p := servePage(t, viewerPage, bundle, pageConfig(emu, arn, wssEndpoint(t, emu, arn, types.ChannelRoleViewer), viewer))
	chromium(t, p.URL, emu.CAFile())
	p.wait(t, 60*time.Second, "an answer from our master", func(r report) bool { return r.event() == "answered" })
	in := p.wait(t, 30*time.Second, "the master's video and audio", func(r report) bool {
		return r.event() == "inbound" && r.num("frames") >= 10 && r.num("audio") > 0
	})
	if in.num("width") != 1280 || in.num("height") != 720 {
		t.Errorf("the browser decoded %vx%v, want the master's 1280x720 pattern", in["width"], in["height"])
	}
	t.Logf("the JS SDK viewer decoded %.0f frames of %.0fx%.0f and received %.0f audio packets", in.num("frames"), in.num("width"), in.num("height"), in.num("audio"))
	greet := p.wait(t, 10*time.Second, "a message from our master", func(r report) bool { return r.event() == "message" })
	t.Logf("on the data channel: %q", greet.str("text"))
	ctx := deadline(t, 20*time.Second)
	if err := m.WaitViewerFrames(ctx, viewer, 10); err != nil {
		t.Errorf("our master decoded no video from the browser: %v", err)
	}
	for !slices.Contains(m.Messages(viewer), "hello from the JS SDK viewer") {
		if ctx.Err() != nil {
			t.Fatalf("our master did not get the browser's message; it has %q", m.Messages(viewer))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goLive runs action (Connect or Reconnect) and waits until both ends show
// the other's media and the data channel has a round trip; it returns the
// first-frame event.
func goLive(t testing.TB, ctrl *call.Controller, events <-chan call.Event, action func(), p *page) call.Event {
	t.Helper()
	action()
	ctx := deadline(t, 45*time.Second)
	ff, err := call.Await(ctx, events, func(e call.Event) bool {
		if e.Kind == call.EventState && e.State == call.StateFailed {
			t.Fatalf("call failed against the JS SDK master: %s: %s", e.Class, e.Message)
		}
		return e.Kind == call.EventPhase && e.Phase == call.PhaseFirstFrame
	}, nil)
	if err != nil {
		t.Fatalf("no first frame from the JS SDK master: %v; its reports: %v", err, p.history())
	}
	if ff.Frame == nil || ff.Frame.Width != 640 || ff.Frame.Height != 480 {
		t.Errorf("first frame %+v, want Chromium's 640x480 fake camera", ff.Frame)
	}
	t.Logf("session %d (%s): first frame %dx%d %s", ff.SessionID, ff.ClientID, ff.Frame.Width, ff.Frame.Height, ff.Frame.Codec)
	in := p.wait(t, 20*time.Second, "our video and audio at the master", func(r report) bool {
		return r.event() == "inbound" && r.str("viewer") == ff.ClientID && r.num("frames") >= 10 && r.num("audio") > 0
	})
	t.Logf("the JS SDK master decoded %.0f of our frames and received %.0f audio packets", in.num("frames"), in.num("audio"))
	rtt, err := call.Await(ctx, events, func(e call.Event) bool {
		return e.Kind == call.EventData && e.Data != nil && e.Data.Kind == call.DataRTT
	}, nil)
	if err != nil {
		t.Fatalf("no data channel round trip through the JS SDK master's echo: %v", err)
	}
	t.Logf("data channel round trip %s", rtt.Data.RTT)
	if st := ctrl.State(); st != call.StateLive {
		t.Fatalf("state %s after the first frame, want Live", st)
	}
	return ff
}

// wssEndpoint asks the emulator for the channel's WSS endpoint for role
// with aws-sdk-go-v2 itself (not this app's kvs package), as the JS SDK's
// test page does with the AWS SDK.
func wssEndpoint(t testing.TB, emu *emulator.Emulator, arn string, role types.ChannelRole) string {
	t.Helper()
	creds := emu.Credentials()
	client := kinesisvideo.New(kinesisvideo.Options{
		Region:       emu.Region(),
		BaseEndpoint: aws.String(emu.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: emu.CAPool(), MinVersion: tls.VersionTLS12},
		}},
	})
	out, err := client.GetSignalingChannelEndpoint(deadline(t, 10*time.Second), &kinesisvideo.GetSignalingChannelEndpointInput{
		ChannelARN: aws.String(arn),
		SingleMasterChannelEndpointConfiguration: &types.SingleMasterChannelEndpointConfiguration{
			Protocols: []types.ChannelProtocol{types.ChannelProtocolWss}, Role: role,
		},
	})
	if err != nil {
		t.Fatalf("GetSignalingChannelEndpoint: %v", err)
	}
	for _, ep := range out.ResourceEndpointList {
		if ep.Protocol == types.ChannelProtocolWss {
			return aws.ToString(ep.ResourceEndpoint)
		}
	}
	t.Fatalf("no WSS endpoint in %+v", out.ResourceEndpointList)
	return ""
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startEmulator starts the emulator with the test channel; on failure the
// test logs what it saw.
func startEmulator(t testing.TB, log *slog.Logger) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(context.Background(), emulator.Config{Channels: []string{channel}, Logger: log})
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator events: %+v; auth failures: %v", emu.Events(), emu.AuthFailures())
		}
		_ = emu.Close()
	})
	return emu
}

// awsOptions point this app's KVS clients at the emulator.
func awsOptions(emu *emulator.Emulator) kvs.AWSOptions {
	c := emu.Credentials()
	return kvs.AWSOptions{
		Region: emu.Region(), EndpointURL: emu.Endpoint(), RootCAs: emu.CAPool(),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	}
}

// pageConfig is what a test page reads from /config.
func pageConfig(emu *emulator.Emulator, arn, wss, clientID string) map[string]string {
	c := emu.Credentials()
	return map[string]string{
		"channelARN": arn, "wss": wss, "region": emu.Region(), "clientId": clientID,
		"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey,
	}
}

func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
