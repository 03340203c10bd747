package kvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// A TCP connect that outlasts the connect timeout is recognised after net/http
// and the SDK have wrapped it, and is not retried by the SDK retryer.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	// A deadline already past when the dial starts: a timeout without waiting.
	_, derr := dialContext(time.Nanosecond)(context.Background(), "tcp", ln.Addr().String())
	if derr == nil {
		t.Skip("the loopback connect beat a 1ns timeout")
	}
	wrapped := fmt.Errorf("operation error: %w", &url.Error{Op: "Post", URL: "https://" + ln.Addr().String(), Err: derr})
	terr := Timeouts{Connect: 2 * time.Second}.timeoutError(wrapped, "describe signaling channel")
	var te *TimeoutError
	if !errors.Is(terr, ErrTimeout) || !errors.As(terr, &te) || te.Phase != PhaseConnect || te.After != 2*time.Second {
		t.Fatalf("%v (%T) from %v", terr, terr, derr)
	}
	if !strings.Contains(terr.Error(), "did not accept the connection within 2s") {
		t.Errorf("text %q", terr)
	}
	if !retry.NewStandard().IsErrorRetryable(wrapped) {
		t.Fatal("the SDK's own retryer would not retry it anyway: the test proves nothing")
	}
	if withoutTimeoutRetries(retry.NewStandard()).IsErrorRetryable(wrapped) {
		t.Error("a connect timeout is retried by the SDK")
	}

	// A cancelled caller is not a connect timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dialContext(time.Second)(ctx, "tcp", ln.Addr().String()); err == nil || errors.As(err, new(*dialTimeoutError)) {
		t.Errorf("cancelled dial: %v", err)
	}
}

func TestTimeoutsDefaults(t *testing.T) {
	got := Timeouts{Upgrade: time.Second}.withDefaults()
	want := Timeouts{Connect: 5 * time.Second, TLSHandshake: 5 * time.Second, ResponseHeader: 10 * time.Second, Upgrade: time.Second}
	if got != want {
		t.Fatalf("%+v", got)
	}
	if (Timeouts{}).timeoutError(errors.New("connection refused"), "op") != nil {
		t.Error("a refused connection is not a timeout")
	}
}
