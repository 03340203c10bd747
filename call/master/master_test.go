package master

import (
	"context"
	"errors"
	"image"
	"image/color"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

const (
	testChannel = "demo-channel"
	// Master picture size in the tests: small enough for 2 shared cores.
	testW, testH, testFPS = 640, 360, 30
	// Viewer picture size.
	viewerW, viewerH = 320, 240
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger logs to stderr when -v is given and MASTER_TEST_LOG is set, and
// discards otherwise.
func testLogger() *slog.Logger {
	if !testing.Verbose() || os.Getenv("MASTER_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// env is an emulator plus a master on loopback.
type env struct {
	e *emulator.Emulator
	m *Master
}

func awsOptions(e *emulator.Emulator) kvs.AWSOptions {
	creds := e.Credentials()
	return kvs.AWSOptions{
		Region:      e.Region(),
		EndpointURL: e.Endpoint(),
		RootCAs:     e.CAPool(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
	}
}

func startEnv(t *testing.T, ctx context.Context, o Options) *env {
	t.Helper()
	e, err := emulator.Start(ctx, emulator.Config{Channels: []string{testChannel}})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	o.AWS = awsOptions(e)
	o.Channel = testChannel
	o.Loopback = true
	o.Logger = testLogger()
	m, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("start master: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{e: e, m: m}
}

// frameSink records what a test viewer decodes.
type frameSink struct {
	mu           sync.Mutex
	n            uint64
	first        time.Time
	w, h         int
	codec        string
	firstCounter uint32
	lastCounter  uint32
	counters     int
	img          *image.RGBA
	scaler       *decode.Scaler
	changed      chan struct{}
}

func newFrameSink() *frameSink {
	return &frameSink{changed: make(chan struct{}), scaler: decode.NewScaler()}
}

func (s *frameSink) PutFrame(f sink.Frame) {
	c, ok := pattern.ReadCounter(f.Image)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.first = time.Now()
	}
	s.n++
	s.w, s.h, s.codec = f.Width, f.Height, f.Codec
	if ok {
		if s.counters == 0 {
			s.firstCounter = c
		}
		s.lastCounter = c
		s.counters++
	}
	img, err := s.scaler.ToRGBA(s.img, f.Image)
	if err != nil {
		return // never seen as changed: the waiting test fails with its own message
	}
	s.img = img
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *frameSink) frames() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// wait blocks until at least n frames were decoded.
func (s *frameSink) wait(ctx context.Context, n uint64) error {
	for {
		s.mu.Lock()
		got, ch := s.n, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("waiting for frames: " + ctx.Err().Error())
		case <-ch:
		}
	}
}

// testViewer is a KVS viewer written for the tests: pion, the kvs client,
// trickle ICE, its own pattern and tone, and receive.Video to decode.
type testViewer struct {
	t         *testing.T
	id        string
	conn      *kvs.Conn
	pc        *webrtc.PeerConnection
	local     *capture.Local
	sink      *frameSink
	audio     atomic.Uint64
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	offerSent time.Time

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	closed    bool // set under mu before close waits: no receive loop starts after it
	closeOnce sync.Once
}

// registerInOrder registers the viewer's video codecs in the given order, and
// Opus (registered once: pion ignores a codec registered again).
func registerInOrder(order []string) func(*webrtc.MediaEngine) error {
	return func(me *webrtc.MediaEngine) error {
		for _, name := range order {
			sel, err := capture.NewCodecSelector(strings.ToLower(name), capture.Options{Width: viewerW, Height: viewerH, FPS: testFPS})
			if err != nil {
				return err
			}
			sel.Populate(me)
		}
		return nil
	}
}

func newTestViewer(t *testing.T, ctx context.Context, e *emulator.Emulator, clientID string, order []string) *testViewer {
	t.Helper()
	cfg, err := kvs.LoadAWSConfig(ctx, awsOptions(e))
	if err != nil {
		t.Fatalf("viewer config: %v", err)
	}
	cp := kvs.NewControlPlane(cfg)
	ch, err := cp.DescribeChannel(ctx, testChannel)
	if err != nil {
		t.Fatalf("describe channel: %v", err)
	}
	ep, err := cp.GetEndpoints(ctx, ch.ARN, kvs.RoleViewer)
	if err != nil {
		t.Fatalf("get endpoints: %v", err)
	}
	api, err := rtc.NewAPI(rtc.Options{Loopback: true, Populate: registerInOrder(order)})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(rtc.Configuration(nil, rtc.Options{Loopback: true}))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: ch.ARN, Endpoints: ep, Role: kvs.RoleViewer, ClientID: clientID})
	if err != nil {
		_ = pc.Close()
		t.Fatalf("viewer dial: %v", err)
	}
	v := &testViewer{t: t, id: clientID, conn: conn, pc: pc, sink: newFrameSink()}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	t.Cleanup(v.close)

	local, err := capture.Open(capture.Options{Video: capture.SourceTest, Audio: capture.SourceTone,
		Width: viewerW, Height: viewerH, FPS: testFPS, PatternStyle: pattern.StyleViewer, StreamID: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	v.local = local
	for _, tr := range []*capture.SendTrack{local.VideoSend, local.AudioSend} {
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatalf("add track: %v", err)
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		sctx, cancel := context.WithTimeout(v.ctx, 5*time.Second)
		defer cancel()
		_ = conn.SendCandidate(sctx, c.ToJSON(), "", "")
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		// pion calls this on a goroutine of its own: the Add must not race
		// with close's Wait (the master's viewer.goFunc does the same).
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.closed {
			return
		}
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				ssrc := uint32(tr.SSRC())
				_ = receive.Video(v.ctx, tr, receive.VideoOptions{
					Sink: v.sink,
					SendPLI: func() error {
						return pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
					},
				})
				return
			}
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				v.audio.Add(1)
			}
		}()
	})
	v.wg.Add(1)
	go v.signaling()

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	v.offerSent = time.Now()
	if err := conn.SendOffer(ctx, offer, ""); err != nil {
		t.Fatalf("send offer: %v", err)
	}
	return v
}

// signaling applies the answer and the master's candidates.
func (v *testViewer) signaling() {
	defer v.wg.Done()
	for msg := range v.conn.Messages() {
		switch msg.Type {
		case kvs.TypeSDPAnswer:
			if err := v.pc.SetRemoteDescription(*msg.Answer); err != nil {
				v.t.Errorf("set answer: %v", err)
				continue
			}
			v.mu.Lock()
			v.remoteSet = true
			pending := v.pending
			v.pending = nil
			v.mu.Unlock()
			for _, c := range pending {
				_ = v.pc.AddICECandidate(c)
			}
		case kvs.TypeICECandidate:
			v.mu.Lock()
			if !v.remoteSet {
				v.pending = append(v.pending, *msg.Candidate)
				v.mu.Unlock()
				continue
			}
			v.mu.Unlock()
			_ = v.pc.AddICECandidate(*msg.Candidate)
		}
	}
}

// close tears the viewer down: signaling, peer connection, tracks, goroutines.
func (v *testViewer) close() {
	v.closeOnce.Do(func() {
		v.mu.Lock()
		v.closed = true
		v.mu.Unlock()
		v.cancel()
		_ = v.conn.Close()
		_ = v.pc.Close()
		_ = v.local.Close()
		v.wg.Wait()
	})
}

// videoCodec is the MIME type negotiated for the viewer's video.
func (v *testViewer) videoCodec() string {
	for _, tr := range v.pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.Sender() != nil {
			if ps := tr.Sender().GetParameters(); len(ps.Codecs) > 0 {
				return ps.Codecs[0].MimeType
			}
		}
	}
	return ""
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

// checkBars checks the colour bars of the master pattern in img.
func checkBars(t *testing.T, img *image.RGBA) {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	r := pattern.BarRegion(w, h)
	y := (r.Min.Y + r.Max.Y) / 2
	for i := range 8 {
		x := (2*i + 1) * w / 16
		want := pattern.BarColor(pattern.StyleMaster, x, w)
		got := img.RGBAAt(x, y)
		if !near(got, want, 32) {
			t.Errorf("bar %d at (%d,%d): got %v, want %v", i, x, y, got, want)
		}
	}
}

func TestCallBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: testW, Height: testH, FPS: testFPS})

	for _, tc := range []struct {
		id    string
		order []string
		want  string
	}{
		{"viewer-h264", []string{"H264", "VP8"}, webrtc.MimeTypeH264},
		{"viewer-vp8", []string{"VP8", "H264"}, webrtc.MimeTypeVP8},
	} {
		t.Run(tc.want, func(t *testing.T) {
			v := newTestViewer(t, ctx, env.e, tc.id, tc.order)
			if err := v.sink.wait(ctx, 60); err != nil {
				t.Fatalf("viewer decoded %d frames: %v", v.sink.frames(), err)
			}
			s := v.sink
			s.mu.Lock()
			t.Logf("%s: offer sent -> first decoded frame %v", tc.want, s.first.Sub(v.offerSent))
			if s.w != testW || s.h != testH {
				t.Errorf("viewer decoded %dx%d, want %dx%d", s.w, s.h, testW, testH)
			}
			if s.counters < 2 || s.lastCounter <= s.firstCounter {
				t.Errorf("master counter not advancing: %d readable, first %d, last %d", s.counters, s.firstCounter, s.lastCounter)
			}
			checkBars(t, s.img)
			s.mu.Unlock()
			if got := v.videoCodec(); !strings.EqualFold(got, tc.want) {
				t.Errorf("negotiated %q, want %q (the viewer's first codec)", got, tc.want)
			}

			if err := env.m.WaitViewerFrames(ctx, tc.id, 30); err != nil {
				t.Fatal(err)
			}
			st, ok := env.m.Viewer(tc.id)
			if !ok {
				t.Fatal("master does not know the viewer")
			}
			if !st.Connected || !st.CounterAdvancing || st.Width != viewerW || st.Height != viewerH || st.Offers != 1 {
				t.Errorf("master's stats of the viewer: %+v", st)
			}
			if !strings.EqualFold("video/"+st.Codec, tc.want) && !strings.EqualFold(st.Codec, tc.want) {
				t.Errorf("master decoded codec %q, want %q", st.Codec, tc.want)
			}
			if st.AudioPackets == 0 {
				t.Errorf("master decoded no audio packets of the viewer: %+v", st)
			}
			// The master hears the viewer's tone: its frequency, not silence.
			if st.AudioHz < capture.ToneHz-2 || st.AudioHz > capture.ToneHz+2 || st.AudioLevelDBFS < -30 {
				t.Errorf("master hears %.1f Hz at %.1f dBFS, want the viewer's %d Hz tone", st.AudioHz, st.AudioLevelDBFS, capture.ToneHz)
			}
			if v.audio.Load() == 0 {
				t.Error("viewer received no audio from the master")
			}
			v.close()
		})
	}
}

// liveViewer returns the master's current connection of clientID.
func (m *Master) liveViewer(clientID string) *viewer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewers[clientID]
}

func TestOfferFromSameClientReplacesConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: testW, Height: testH, FPS: testFPS, Codec: CodecVP8})
	const id = "viewer-same"

	first := newTestViewer(t, ctx, env.e, id, []string{"VP8"})
	if err := env.m.WaitViewerFrames(ctx, id, 10); err != nil {
		t.Fatal(err)
	}
	old := env.m.liveViewer(id)

	second := newTestViewer(t, ctx, env.e, id, []string{"VP8"})
	if err := second.sink.wait(ctx, 30); err != nil {
		t.Fatalf("second viewer decoded %d frames: %v", second.sink.frames(), err)
	}
	if err := env.m.WaitViewerFrames(ctx, id, 10); err != nil {
		t.Fatal(err)
	}
	cur := env.m.liveViewer(id)
	if cur == nil || cur == old {
		t.Fatalf("the second offer did not get a new peer connection (old %p, current %p)", old, cur)
	}
	// The replaced connection is torn down in the background; Close waits for it.
	if err := env.m.Close(); err != nil {
		t.Fatal(err)
	}
	if s := old.pc.ConnectionState(); s != webrtc.PeerConnectionStateClosed {
		t.Errorf("replaced peer connection is %s, want closed", s)
	}
	st, _ := env.m.Viewer(id)
	if st.Offers != 2 {
		t.Errorf("offers from %s = %d, want 2", id, st.Offers)
	}
	if n := len(env.m.Viewers()); n != 1 {
		t.Errorf("master knows %d viewers, want 1", n)
	}
	first.close()
}

// videoTrack returns the master's video send track for clientID.
func (m *Master) videoTrack(t *testing.T, clientID string) *capture.SendTrack {
	t.Helper()
	v := m.liveViewer(clientID)
	if v == nil {
		t.Fatalf("no connection for %s", clientID)
	}
	if v.local.VideoSend == nil {
		t.Fatal("no video track")
	}
	return v.local.VideoSend
}

func TestSetMediaPausedStopsFrames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: testW, Height: testH, FPS: testFPS, NoAudio: true})
	const id = "viewer-pause"
	v := newTestViewer(t, ctx, env.e, id, []string{"H264", "VP8"})
	if err := v.sink.wait(ctx, 15); err != nil {
		t.Fatal(err)
	}
	vt := env.m.videoTrack(t, id)

	env.m.SetMediaPaused(true)
	sent, atPause := vt.Stats().Sent, v.sink.frames()
	// Wait until at least a second of video packets was held back.
	dropped := vt.Stats().Dropped
	if err := waitFor(ctx, func() bool { return vt.Stats().Dropped >= dropped+30 }); err != nil {
		t.Fatalf("paused track dropped %d packets: %v", vt.Stats().Dropped-dropped, err)
	}
	if got := vt.Stats().Sent; got > sent+1 {
		t.Errorf("paused track sent %d packets", got-sent)
	}
	if got := v.sink.frames(); got > atPause+2 {
		t.Errorf("viewer decoded %d frames while the master was paused", got-atPause)
	}

	env.m.SetMediaPaused(false)
	if err := v.sink.wait(ctx, v.sink.frames()+30); err != nil {
		t.Fatalf("no frames after resuming: %v", err)
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func TestSignalingReconnectKeepsCalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(e *emulator.Emulator) error
	}{
		{"GO_AWAY", func(e *emulator.Emulator) error { return e.SendGoAway(testChannel, "") }},
		{"drop", func(e *emulator.Emulator) error { return e.DropConnection(testChannel, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			env := startEnv(t, ctx, Options{Width: 320, Height: 240, FPS: testFPS, NoAudio: true, Codec: CodecVP8})
			live := newTestViewer(t, ctx, env.e, "viewer-live", []string{"VP8"})
			if err := live.sink.wait(ctx, 10); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			if err := tc.fault(env.e); err != nil {
				t.Fatal(err)
			}
			if _, err := env.e.WaitEvent(ctx, func(ev emulator.Event) bool {
				return ev.Kind == emulator.EventConnect && ev.Role == emulator.RoleMaster && ev.Time.After(before)
			}); err != nil {
				t.Fatalf("master did not reconnect: %v", err)
			}
			// The live call keeps going, and a new viewer gets an answer through the new socket.
			if err := live.sink.wait(ctx, live.sink.frames()+30); err != nil {
				t.Fatalf("live call stopped: %v", err)
			}
			next := newTestViewer(t, ctx, env.e, "viewer-next", []string{"VP8"})
			if err := next.sink.wait(ctx, 10); err != nil {
				t.Fatalf("new viewer after reconnect: %v", err)
			}
			if st, _ := env.m.Viewer("viewer-live"); !st.Connected {
				t.Errorf("live viewer's stats after reconnect: %+v", st)
			}
		})
	}
}

func TestReconnectICEServerRefreshesConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: 320, Height: 240, NoAudio: true})
	// The emulator registers the socket just after the handshake the master saw.
	if _, err := env.e.WaitEvent(ctx, func(ev emulator.Event) bool {
		return ev.Kind == emulator.EventConnect && ev.Role == emulator.RoleMaster
	}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := env.e.SendReconnectICEServer(testChannel, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.WaitEvent(ctx, func(ev emulator.Event) bool {
		return ev.Kind == emulator.EventControlPlane && strings.Contains(strings.ToLower(ev.Action), "ice") && ev.Time.After(before)
	}); err != nil {
		t.Fatalf("master did not refetch the ICE configuration: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := emulator.Start(ctx, emulator.Config{Channels: []string{testChannel}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	for name, o := range map[string]Options{
		"codec":   {Channel: testChannel, Codec: "h265"},
		"channel": {Channel: ""},
		"missing": {Channel: "no-such-channel"},
	} {
		o.AWS, o.Loopback = awsOptions(e), true
		if m, err := Start(ctx, o); err == nil {
			_ = m.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

// TestCloseViewerThatNeverConnected closes the master while a viewer's
// connection never got past the answer: its encoder writes packets that pion
// drops before SRTP is up, and stopping such a sender is where mediadevices'
// Unbind can hang.
func TestCloseViewerThatNeverConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: 320, Height: 240, FPS: testFPS})
	cfg, err := kvs.LoadAWSConfig(ctx, awsOptions(env.e))
	if err != nil {
		t.Fatal(err)
	}
	cp := kvs.NewControlPlane(cfg)
	ch, err := cp.DescribeChannel(ctx, testChannel)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := cp.GetEndpoints(ctx, ch.ARN, kvs.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: ch.ARN, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "viewer-silent"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The offer is never applied locally and no candidate is sent: ICE cannot connect.
	if err := conn.SendOffer(ctx, offer, ""); err != nil {
		t.Fatal(err)
	}
	var vt *capture.SendTrack
	if err := waitFor(ctx, func() bool {
		v := env.m.liveViewer("viewer-silent")
		if v == nil {
			return false
		}
		vt = v.local.VideoSend
		return vt.Stats().Writes >= 5
	}); err != nil {
		t.Fatalf("master never started sending: %v", err)
	}
	if err := env.m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := vt.Stats().Sent; got != 0 {
		t.Errorf("%d packets went out on a connection that never connected", got)
	}
}
