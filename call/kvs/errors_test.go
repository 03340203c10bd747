package kvs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"
)

func TestRedact(t *testing.T) {
	sig := strings.Repeat("ab12", 16)
	in := "bad GET /?X-Amz-Credential=AKID%2F2024&X-Amz-Security-Token=tok123&X-Amz-Signature=" + sig + " secret=s3cr3tKEY sig " + sig
	out := redact(in, "s3cr3tKEY")
	for _, leak := range []string{"tok123", sig, "s3cr3tKEY", "AKID"} {
		if strings.Contains(out, leak) {
			t.Errorf("redacted text %q still holds %q", out, leak)
		}
	}
	if long := redact(strings.Repeat("x ", 500)); len(long) > 210 {
		t.Errorf("not shortened: %d bytes", len(long))
	}
	// AWS's signature-mismatch message goes on to repeat the request.
	echo := "The request signature we calculated does not match the signature you provided.\n\n" +
		"The Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:tok123\n'"
	if got := redact(echo); got != "The request signature we calculated does not match the signature you provided." {
		t.Errorf("echo kept: %q", got)
	}
	if got := redact("key AKIAABCDEFGHIJKLMNOP is not allowed. The String-to-Sign should have been 'AWS4'"); got != "key [redacted] is not allowed." {
		t.Errorf("got %q", got)
	}
	if got := cleanCode("Bad<Code>\n" + strings.Repeat("x", 100)); strings.ContainsAny(got, "<>\n") || len(got) > 70 {
		t.Errorf("code %q", got)
	}
}

func TestHandshakeErrorClassification(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	resp := func(status int, date time.Time, body string) *http.Response {
		h := http.Header{}
		if !date.IsZero() {
			h.Set("Date", date.Format(http.TimeFormat))
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	cases := []struct {
		name   string
		resp   *http.Response
		is     []error
		isNot  []error
		inText string
	}{
		{"skew from Date header", resp(403, now.Add(-7*time.Minute), `{"message":"Request has expired"}`),
			[]error{ErrAccessDenied, ErrClockSkew}, []error{ErrURLExpired, ErrCredentials}, "7m0s ahead"},
		{"skewed signature is not bad credentials", resp(403, now.Add(-7*time.Minute), `{"__type":"InvalidSignatureException","message":"Signature expired"}`),
			[]error{ErrAccessDenied, ErrClockSkew}, []error{ErrCredentials}, "7m0s ahead"},
		{"unknown key", resp(403, now, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`),
			[]error{ErrAccessDenied, ErrCredentials}, []error{ErrClockSkew}, "AWS rejected the credentials (UnrecognizedClient)"},
		{"expired URL", resp(403, now.Add(10*time.Second), `{"message":"Request has expired"}`),
			[]error{ErrAccessDenied, ErrURLExpired}, []error{ErrClockSkew}, "expired"},
		{"expired token is not an expired URL", resp(403, now, `{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}`),
			[]error{ErrAccessDenied, ErrCredentials}, []error{ErrURLExpired, ErrClockSkew}, "AWS rejected the credentials (ExpiredToken): the session token has expired"},
		{"not found", resp(404, time.Time{}, `not json`),
			[]error{ErrChannelNotFound}, []error{ErrAccessDenied}, "not found in us-west-2"},
		{"plain 403", resp(403, time.Time{}, `{"message":"Forbidden"}`),
			[]error{ErrAccessDenied}, []error{ErrClockSkew, ErrURLExpired, ErrCredentials}, "HTTP 403"},
		{"other", resp(500, time.Time{}, ``),
			nil, []error{ErrAccessDenied, ErrChannelNotFound}, "HTTP 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := handshakeError(tc.resp, "arn:x", "us-west-2", now, nil)
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("%v: not %v", err, want)
				}
			}
			for _, not := range tc.isNot {
				if errors.Is(err, not) {
					t.Errorf("%v: is %v", err, not)
				}
			}
			if !strings.Contains(err.Error(), tc.inText) {
				t.Errorf("%q lacks %q", err, tc.inText)
			}
		})
	}
}

func TestOffsetFromMessage(t *testing.T) {
	off, ok := offsetFromMessage("Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z (20240101T001000Z - 5 min.)")
	if !ok || off != 10*time.Minute {
		t.Fatalf("offset %v %v", off, ok)
	}
	if _, ok := offsetFromMessage("Signature expired"); ok {
		t.Fatal("offset from a message without times")
	}
}

func TestSTUNAndLoopback(t *testing.T) {
	if got := (EndpointVariant{}).stunURL("us-west-2"); got != "stun:stun.kinesisvideo.us-west-2.amazonaws.com:443" {
		t.Error(got)
	}
	if got := (EndpointVariant{}).stunURL("cn-north-1"); got != "stun:stun.kinesisvideo.cn-north-1.amazonaws.com.cn:443" {
		t.Error(got)
	}
	for h, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "127.1.2.3": true, "r-1.kinesisvideo.us-west-2.amazonaws.com": false, "10.0.0.1": false} {
		if isLoopbackHost(h) != want {
			t.Errorf("isLoopbackHost(%q) != %v", h, want)
		}
	}
}

// GetIceServerConfig is retried under the SDK retryer for server errors, not for
// refusals, and sends the SDK client's request shape.
func TestGetICEServersRetries(t *testing.T) {
	defer goleak.VerifyNone(t)
	var calls atomic.Int32
	var mode atomic.Value
	mode.Store("flaky")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		var in map[string]any
		if r.URL.Path != "/v1/get-ice-server-config" || r.Method != http.MethodPost ||
			!strings.Contains(r.Header.Get("Authorization"), "/us-west-2/kinesisvideo/aws4_request") ||
			json.NewDecoder(r.Body).Decode(&in) != nil || in["ChannelARN"] != "arn:c" || in["Service"] != "TURN" {
			http.Error(w, `{"message":"bad request shape"}`, http.StatusBadRequest)
			return
		}
		if _, ok := in["ClientId"]; ok {
			http.Error(w, `{"message":"master sends no ClientId here"}`, http.StatusBadRequest)
			return
		}
		switch {
		case mode.Load() == "denied":
			w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException:http://internal")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"not allowed"}`))
		case n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte(`{"IceServerList":[{"Uris":["turn:127.0.0.1:3478?transport=udp"],"Username":"u","Password":"p","Ttl":300}]}`))
		}
	}))
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	cfg := Config{AWS: aws.Config{
		Region:      "us-west-2",
		Credentials: credentials.StaticCredentialsProvider{Value: exampleCreds("")},
		HTTPClient:  client,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}}
	cp := NewControlPlane(cfg)
	ctx := context.Background()
	ice, err := cp.GetICEServers(ctx, Endpoints{HTTPS: srv.URL}, "arn:c", "")
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2 (one retry after 503)", calls.Load())
	}
	if len(ice.Servers) != 1 || ice.Servers[0].URLs[0] != "turn:127.0.0.1:3478?transport=udp" || ice.Servers[0].Credential != "p" || ice.Expires.IsZero() {
		t.Fatalf("ICE config %+v", ice)
	}
	mode.Store("denied")
	calls.Store(10)
	_, err = cp.GetICEServers(ctx, Endpoints{HTTPS: srv.URL}, "arn:c", "")
	if !errors.Is(err, ErrAccessDenied) || calls.Load() != 11 {
		t.Fatalf("denied: %v after %d calls", err, calls.Load()-10)
	}
	var se *ServiceError
	if !errors.As(err, &se) || se.Code != "AccessDeniedException" || se.StatusCode != 403 {
		t.Fatalf("ServiceError %+v", se)
	}
}
