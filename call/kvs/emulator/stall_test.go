package emulator

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/coder/websocket"
)

// stall-http and stall-ws complete TCP and TLS, then never answer the next N
// requests; the one after is served normally.
func TestStallFaults(t *testing.T) {
	h := startHarness(t, Config{})
	const patience = 300 * time.Millisecond
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: h.e.CAPool(), MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: patience,
	}
	defer tr.CloseIdleConnections()
	impatient := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	in := &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String(defaultChannel)}
	sdk := kinesisvideo.New(kinesisvideo.Options{
		Region: h.e.Region(), BaseEndpoint: aws.String(h.e.Endpoint()), HTTPClient: impatient,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return h.e.Credentials(), nil }),
		Retryer:     aws.NopRetryer{},
	})

	f, err := ParseFaults("stall-http=2,stall-ws=1")
	if err != nil {
		t.Fatal(err)
	}
	h.e.SetFaults(f)
	for range 2 {
		start := time.Now()
		_, err := sdk.DescribeSignalingChannel(ctx, in)
		if err == nil {
			t.Fatal("a stalled request was answered")
		}
		if took := time.Since(start); took < patience {
			t.Errorf("gave up after %s, before the client's %s: the emulator answered something: %v", took, patience, err)
		}
	}
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventFault && ev.Action == "DescribeSignalingChannel" && ev.Detail == "stall-http: request left unanswered"
	})
	if _, err := sdk.DescribeSignalingChannel(ctx, in); err != nil {
		t.Fatalf("after the stalls: %v", err)
	}

	dctx, dcancel := context.WithTimeout(ctx, patience)
	_, resp, err := websocket.Dial(dctx, h.presign("v1", h.e.Credentials(), h.clock.Now()), &websocket.DialOptions{HTTPClient: h.http})
	dcancel()
	if err == nil || resp != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled upgrade: %v (response %v)", err, resp)
	}
	h.waitEvent(func(ev Event) bool { return ev.Kind == EventFault && ev.Detail == "stall-ws: request left unanswered" })
	h.dial("v1")
	if got := h.e.ActiveFaults(); got.StallHTTP != 0 || got.StallWS != 0 {
		t.Errorf("faults left %+v", got)
	}
}

// Close does not wait for a client that never gives up on a stalled request.
func TestStallEndsOnClose(t *testing.T) {
	h := startHarness(t, Config{Faults: Faults{StallHTTP: 1}})
	errc := make(chan error, 1)
	go func() {
		_, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(context.Background(),
			&kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String(defaultChannel)})
		errc <- err
	}()
	h.waitEvent(func(ev Event) bool {
		return ev.Kind == EventFault && ev.Detail == "stall-http: request left unanswered"
	})
	start := time.Now()
	if err := h.e.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %s with a stalled request", took)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the stalled request got an answer")
		}
	case <-time.After(waitLimit):
		t.Fatal("the stalled request never ended")
	}
}
