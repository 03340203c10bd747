package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait in these tests so a bug fails instead of hanging;
// no test asserts on how long anything took.
const waitLimit = 10 * time.Second

// fakeClock is a settable clock for the emulator's signature and TTL checks.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a running emulator plus the clients a test needs.
type harness struct {
	t     *testing.T
	e     *Emulator
	clock *fakeClock
	http  *http.Client
}

func startHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clock := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	e, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CAPool(), MinVersion: tls.VersionTLS12}}
	h := &harness{t: t, e: e, clock: clock, http: &http.Client{Transport: tr, Timeout: waitLimit}}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return h
}

// sdk returns a kinesisvideo client for the emulator signing with creds.
func (h *harness) sdk(creds aws.Credentials) *kinesisvideo.Client {
	return kinesisvideo.New(kinesisvideo.Options{
		Region:       h.e.Region(),
		BaseEndpoint: aws.String(h.e.Endpoint()),
		Credentials:  aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		HTTPClient:   h.http,
		Retryer:      aws.NopRetryer{},
	})
}

// signedPost sends a raw JSON POST signed with aws-sdk-go-v2's signer at time at.
func (h *harness) signedPost(path string, body any, creds aws.Credentials, at time.Time) (*http.Response, []byte) {
	h.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.e.Endpoint()+path, bytes.NewReader(raw))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(raw)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), SigningService, h.e.Region(), at); err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, out
}

// defaultChannel is the channel the emulator creates when Config.Channels is empty.
const defaultChannel = "demo-channel"

// presign builds a signaling URL for defaultChannel presigned like the KVS
// SDKs do (X-Amz-Expires=299).
func (h *harness) presign(clientID string, creds aws.Credentials, at time.Time) string {
	h.t.Helper()
	return presignURL(h.t, "wss://"+h.e.listener.Addr().String()+"/", h.e.ChannelARN(defaultChannel), clientID, creds, h.e.Region(), at, 299)
}

func presignURL(t testing.TB, base, arn, clientID string, creds aws.Credentials, region string, at time.Time, expires int) string {
	t.Helper()
	q := url.Values{}
	q.Set(qChannelARN, arn)
	if clientID != "" {
		q.Set(qClientID, clientID)
	}
	q.Set(qExpires, strconv.Itoa(expires))
	req, err := http.NewRequest(http.MethodGet, base+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, SigningService, region, at)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// wsClient is a raw signaling client reading frames into a channel.
type wsClient struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan []byte
	done   chan struct{}
	err    error // read error, valid after done
}

// dialURL dials a presigned URL; it returns the HTTP response on failure.
func (h *harness) dialURL(u string) (*wsClient, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: h.http})
	if err != nil {
		return nil, resp, err
	}
	w := &wsClient{t: h.t, c: c, frames: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				w.err = err
				return
			}
			w.frames <- data
		}
	}()
	h.t.Cleanup(func() {
		_ = c.CloseNow()
		<-w.done
	})
	return w, resp, nil
}

// dial connects as clientID ("" = master) on defaultChannel with the first credential.
func (h *harness) dial(clientID string) *wsClient {
	h.t.Helper()
	mark := h.mark()
	w, resp, err := h.dialURL(h.presign(clientID, h.e.Credentials(), h.clock.Now()))
	if err != nil {
		h.t.Fatalf("dial %s/%q: %v (%s)", defaultChannel, clientID, err, respBody(resp))
	}
	role := RoleViewer
	if clientID == "" {
		role = RoleMaster
	}
	h.waitEventAfter(mark, func(ev Event) bool {
		return ev.Kind == EventConnect && ev.Channel == defaultChannel && ev.ClientID == clientID && ev.Role == role
	})
	return w
}

// dialFail dials and expects the handshake to be refused; it returns status and body.
func (h *harness) dialFail(u string) (int, string) {
	h.t.Helper()
	w, resp, err := h.dialURL(u)
	if err == nil {
		_ = w.c.CloseNow()
		h.t.Fatalf("dial succeeded, want a refused handshake")
	}
	if resp == nil {
		h.t.Fatalf("dial failed without an HTTP response: %v", err)
	}
	return resp.StatusCode, respBody(resp)
}

func respBody(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return string(b)
}

// waitEvent waits for a matching event among all those kept in the log.
func (h *harness) waitEvent(match func(Event) bool) {
	h.t.Helper()
	h.waitEventAfter(0, match)
}

// mark returns the sequence number of the next event, for waitEventAfter.
func (h *harness) mark() int64 { return h.e.eventSeq() }

// waitEventAfter waits for a matching event among those recorded after mark.
func (h *harness) waitEventAfter(mark int64, match func(Event) bool) Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ev, err := h.e.waitEventFrom(ctx, mark, match)
	if err != nil {
		h.t.Fatalf("event never came: %v\nevents: %+v", err, h.e.Events())
	}
	return ev
}

// next returns the next raw frame.
func (w *wsClient) next() []byte {
	w.t.Helper()
	select {
	case f := <-w.frames:
		return f
	case <-w.done:
		select {
		case f := <-w.frames:
			return f
		default:
		}
		w.t.Fatalf("connection ended while waiting for a frame: %v", w.err)
	case <-time.After(waitLimit):
		w.t.Fatalf("no frame")
	}
	return nil
}

// nextMsg returns the next frame decoded as a service message.
func (w *wsClient) nextMsg() kvs.ServiceMessage {
	w.t.Helper()
	f := w.next()
	m, err := kvs.DecodeServiceMessage(f)
	if err != nil {
		w.t.Fatalf("frame %q: %v", f, err)
	}
	return m
}

// ended waits for the connection to end and returns the read error.
func (w *wsClient) ended() error {
	w.t.Helper()
	select {
	case <-w.done:
		return w.err
	case <-time.After(waitLimit):
		w.t.Fatalf("connection did not end")
	}
	return nil
}

func (w *wsClient) write(frame []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, frame); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// sendMsg sends action with payload v; recipient and correlation id optional.
func (w *wsClient) sendMsg(action kvs.Action, v any, recipient, corr string) {
	w.t.Helper()
	f, err := kvs.EncodeClientMessage(action, v, recipient, corr)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(f)
}

func offer(n int) kvs.SessionDescription {
	return kvs.SessionDescription{Type: "offer", SDP: "v=0\r\no=- " + strconv.Itoa(n) + " 1 IN IP4 127.0.0.1\r\n"}
}

func answer(n int) kvs.SessionDescription {
	return kvs.SessionDescription{Type: "answer", SDP: "v=0\r\no=- " + strconv.Itoa(n) + " 2 IN IP4 127.0.0.1\r\n"}
}

func candidate(n int) kvs.Candidate {
	mid, idx := "0", uint16(0)
	return kvs.Candidate{Candidate: "candidate:" + strconv.Itoa(n) + " 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}
}

// sdpOf decodes a service message's SDP payload.
func sdpOf(t *testing.T, m kvs.ServiceMessage) kvs.SessionDescription {
	t.Helper()
	var sd kvs.SessionDescription
	if err := kvs.DecodePayload(m.MessagePayload, &sd); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return sd
}

func closeStatus(err error) websocket.StatusCode { return websocket.CloseStatus(err) }
