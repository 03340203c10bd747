package emulator

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
)

// Each reject fault refuses the next request and the next handshake with its
// AWS error code, then lets requests through again.
func TestRejectFaults(t *testing.T) {
	h := startHarness(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	in := &kinesisvideo.DescribeSignalingChannelInput{ChannelName: aws.String(defaultChannel)}
	for fault, code := range map[string]string{
		"reject-403":                 "AccessDeniedException",
		"reject-unrecognized-client": "UnrecognizedClientException",
		"reject-invalid-signature":   "InvalidSignatureException",
		"reject-expired-token":       "ExpiredTokenException",
	} {
		f, err := ParseFaults(fault + "=2")
		if err != nil {
			t.Fatal(err)
		}
		h.e.SetFaults(f)
		if _, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in); apiCode(err) != code {
			t.Errorf("%s: describe got %v, want %s", fault, err, code)
		}
		status, body := h.dialFail(h.presign("v1", h.e.Credentials(), h.clock.Now()))
		if status != http.StatusForbidden || !strings.Contains(body, code) {
			t.Errorf("%s: handshake got HTTP %d %s", fault, status, body)
		}
		if _, err := h.sdk(h.e.Credentials()).DescribeSignalingChannel(ctx, in); err != nil {
			t.Errorf("%s: after the fault: %v", fault, err)
		}
		h.waitEvent(func(ev Event) bool { return ev.Kind == EventFault && ev.Action == "CONNECT" && ev.Detail == fault })
	}
}
