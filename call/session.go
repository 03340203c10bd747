package call

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/internal/memtune"
	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

type evKind int

const (
	evPhase evKind = iota
	evFail
	evICE
	evTimer
	evGoAway
	evReconnectICE
	evSignalingClosed
	evStats
	evNotice
	evStall
	evTeardownDone
)

type timerKind int

const (
	timerAnswer timerKind = iota
	timerICE
	timerFirstFrame
	timerDisconnected
	timerRestart
	numTimers
)

// sessionEvent is what a session's goroutines and timers tell the controller's
// loop. It always carries the session id, so the loop can drop events of a
// session that is no longer current.
type sessionEvent struct {
	id    uint64
	kind  evKind
	phase Phase
	at    time.Time
	frame *FrameInfo
	class Class
	err   error
	ice   webrtc.ICEConnectionState
	timer timerKind
	stats *Stats
	msg   string
	dur   time.Duration
}

// session owns every resource of one connection attempt. Nothing of it is
// ever reused: a new attempt builds a new session.
type session struct {
	c        *Controller
	id       uint64
	attempt  int
	clientID string
	click    time.Time
	log      *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the session started
	cmds   chan func()    // run on the session's run goroutine

	mu       sync.Mutex // guards the resources below and torn
	torn     bool
	conn     *kvs.Conn
	pc       *webrtc.PeerConnection
	local    *capture.Local
	player   *audioout.Player
	timers   [numTimers]*time.Timer
	remoteOK bool                      // remote description set (run goroutine only)
	pending  []webrtc.ICECandidateInit // remote candidates before the answer (run goroutine only)
	answered bool                      // run goroutine only

	offerAt time.Time // when the first offer started going out (run goroutine only)

	candMu    sync.Mutex
	offerSent bool
	outCands  []webrtc.ICECandidateInit

	iceUp   atomic.Bool // ICE has connected at least once
	statsMu sync.Mutex  // held around pc.GetStats; teardown takes it before pc.Close

	after    []<-chan struct{} // older sessions' devFree: wait for them before opening the camera and mic
	devFree  chan struct{}     // closed once this session holds no camera or microphone
	freeOnce sync.Once

	frameMu   sync.RWMutex // held while a frame goes into the controller's sinks
	framesOff bool         // set by stopFrames: frames of this session are dropped

	cpRes *controlPlaneResult
	kcfg  kvs.Config
}

func newSession(c *Controller, id uint64, attempt int, clientID string, click time.Time, after []<-chan struct{}) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		c: c, id: id, attempt: attempt, clientID: clientID, click: click, after: after,
		devFree: make(chan struct{}),
		log:     c.log.With("session", id, "client_id", clientID),
		ctx:     ctx,
		cancel:  cancel,
		cmds:    make(chan func(), 8),
	}
}

func (s *session) post(ev sessionEvent) {
	ev.id = s.id
	s.c.send(ev)
}

func (s *session) phase(p Phase, at time.Time, f *FrameInfo) {
	s.post(sessionEvent{kind: evPhase, phase: p, at: at, frame: f})
}

func (s *session) failed(class Class, err error) {
	if s.ctx.Err() != nil {
		return // torn down: the failure is a consequence, not a cause
	}
	s.post(sessionEvent{kind: evFail, class: class, err: err})
}

// goFunc starts a goroutine owned by the session, unless it is torn down.
func (s *session) goFunc(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *session) start() { s.goFunc(s.run) }

// do runs f on the session's run goroutine (which owns negotiation).
func (s *session) do(f func()) {
	select {
	case s.cmds <- f:
	case <-s.ctx.Done():
	default:
		s.log.Warn("session command queue full; command dropped")
	}
}

func (s *session) arm(t timerKind, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return
	}
	if old := s.timers[t]; old != nil {
		old.Stop()
	}
	s.timers[t] = time.AfterFunc(d, func() { s.post(sessionEvent{kind: evTimer, timer: t}) })
}

func (s *session) disarm(t timerKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.timers[t]; old != nil {
		old.Stop()
		s.timers[t] = nil
	}
}

// adopt stores a resource in the session, or reports false when the session
// was torn down meanwhile (the caller then closes the resource itself).
func (s *session) adopt(set func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return false
	}
	set()
	return true
}

type controlPlaneResult struct {
	channel   kvs.Channel
	endpoints kvs.Endpoints
	ice       kvs.ICEConfig
	loopback  bool
}

// controlPlane resolves the channel, its endpoints and ICE servers, reusing
// the controller's cache where the answers are still valid.
func (s *session) controlPlane(ctx context.Context) (kvs.Config, *controlPlaneResult, error) {
	cfg, err := kvs.LoadAWSConfig(ctx, s.c.cfg.AWS)
	if err != nil {
		return kvs.Config{}, nil, err
	}
	cache := s.c.cp
	cache.mu.Lock()
	var res controlPlaneResult
	hit := cache.res != nil && cache.key == s.c.cfg.Channel
	if hit {
		res = *cache.res
	}
	cache.mu.Unlock()
	cp := kvs.NewControlPlane(cfg)
	if !hit {
		if res.channel, err = cp.DescribeChannel(ctx, s.c.cfg.Channel); err != nil {
			return cfg, nil, err
		}
		if res.endpoints, err = cp.GetEndpoints(ctx, res.channel.ARN, kvs.RoleViewer); err != nil {
			return cfg, nil, err
		}
	}
	if time.Until(res.ice.Expires) < time.Minute {
		// TURN credentials expire (Ttl ~300 s): fetch new ones well before.
		if res.ice, err = cp.GetICEServers(ctx, res.endpoints, res.channel.ARN, s.clientID); err != nil {
			return cfg, nil, err
		}
		if res.ice.Expires.IsZero() {
			res.ice.Expires = time.Now().Add(5 * time.Minute)
		}
	}
	res.loopback = isLoopbackURL(res.endpoints.WSS)
	cache.mu.Lock()
	cache.key, cache.res = s.c.cfg.Channel, &res
	cache.mu.Unlock()
	return cfg, &res, nil
}

func (s *session) rtcOptions(sel *mediadevices.CodecSelector) rtc.Options {
	o := rtc.Options{Loopback: s.cpRes.loopback, NAT: s.c.cfg.NAT, Logger: s.log}
	if sel != nil {
		o.Populate = func(me *webrtc.MediaEngine) error {
			sel.Populate(me)
			return nil
		}
	}
	return o
}

// run sets the call up and then serves signaling until the session ends.
func (s *session) run() {
	ctx := s.ctx
	// Local media opens while the control plane and signaling are under way.
	type localResult struct {
		l   *capture.Local
		err error
	}
	localCh := make(chan localResult, 1)
	s.goFunc(func() {
		// The camera and microphone are free once older sessions are torn down.
		for _, d := range s.after {
			select {
			case <-d:
			case <-ctx.Done():
				localCh <- localResult{nil, ctx.Err()}
				return
			}
		}
		l, err := capture.Open(s.c.cfg.Media)
		if err == nil && !s.adopt(func() { s.local = l }) {
			_ = l.Close()
			l, err = nil, context.Canceled
		}
		if l == nil || !l.HasDevice() {
			s.releaseDevices() // test pattern and tone are no devices: the next session need not wait
		}
		localCh <- localResult{l, err}
	})

	cfg, res, err := s.controlPlane(ctx)
	if err != nil {
		s.failed(classify(err, ClassControlPlane), err)
		return
	}
	s.kcfg, s.cpRes = cfg, res
	s.phase(PhaseControlPlane, time.Now(), nil)

	// Signaling opens while the peer connection and the offer are prepared.
	type dialResult struct {
		conn *kvs.Conn
		at   time.Time
		err  error
	}
	dialCh := make(chan dialResult, 1)
	s.goFunc(func() {
		// The service allows 3 ConnectAsViewer per second per channel: a
		// burst of reconnects waits here rather than being refused.
		if err := s.c.connects.Wait(ctx); err != nil {
			dialCh <- dialResult{err: err}
			return
		}
		conn, err := s.dial(ctx)
		dialCh <- dialResult{conn, time.Now(), err}
	})

	var lr localResult
	select {
	case lr = <-localCh:
	case <-ctx.Done():
		return
	}
	if lr.err != nil {
		s.failed(ClassLocalMedia, lr.err)
		return
	}
	for _, n := range lr.l.Notes {
		s.post(sessionEvent{kind: evNotice, msg: n})
	}
	lr.l.SetAudioEnabled(!s.c.micMuted.Load())
	lr.l.SetVideoEnabled(!s.c.cameraOff.Load())
	pc, err := s.prepare(lr.l)
	if err != nil {
		s.failed(classify(err, ClassInternal), err)
		return
	}

	var dr dialResult
	select {
	case dr = <-dialCh:
	case <-ctx.Done():
		return
	}
	if dr.err != nil {
		s.failed(classify(dr.err, ClassSignalingClosed), dr.err)
		return
	}
	s.phase(PhaseSignalingOpen, dr.at, nil)
	if err := s.sendOffer(ctx, dr.conn, pc); err != nil {
		// The offer could not go out on the socket (which may not have noticed
		// yet that it is gone): a signaling failure.
		s.failed(classify(err, ClassSignalingClosed), err)
		return
	}
	s.serve(ctx)
}

func (s *session) dial(ctx context.Context) (*kvs.Conn, error) {
	conn, err := kvs.Dial(ctx, kvs.DialOptions{
		Config: s.kcfg, ChannelARN: s.cpRes.channel.ARN, Endpoints: s.cpRes.endpoints,
		Role: kvs.RoleViewer, ClientID: s.clientID, Logger: s.log,
	})
	if err != nil {
		return nil, err
	}
	if !s.adopt(func() { s.conn = conn }) {
		_ = conn.Close()
		return nil, context.Canceled
	}
	return conn, nil
}

// prepare builds the peer connection, adds the local tracks and sets the
// local offer (gathering starts; candidates wait for the offer to go out).
func (s *session) prepare(local *capture.Local) (*webrtc.PeerConnection, error) {
	api, err := rtc.NewAPI(s.rtcOptions(local.Selector))
	if err != nil {
		return nil, fmt.Errorf("build WebRTC API: %w", err)
	}
	pc, err := api.NewPeerConnection(rtc.Configuration(s.cpRes.ice.Servers, s.rtcOptions(nil)))
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	if !s.adopt(func() { s.pc = pc }) {
		_ = pc.Close()
		return nil, context.Canceled
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		s.sendCandidate(c.ToJSON())
	})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		if st == webrtc.ICEConnectionStateConnected {
			s.iceUp.Store(true)
			s.phase(PhaseICEConnected, time.Now(), nil)
		}
		s.post(sessionEvent{kind: evICE, ice: st})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		s.goFunc(func() { s.receive(pc, tr) })
	})

	// The send-track wrappers, never the raw mediadevices tracks: those can
	// make the teardown of a call that never connected hang (see capture.SendTrack).
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		tr := local.AudioSend
		if kind == webrtc.RTPCodecTypeVideo {
			tr = local.VideoSend
		}
		if tr == nil {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return nil, fmt.Errorf("add %s transceiver: %w", kind, err)
			}
			continue
		}
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			return nil, fmt.Errorf("add local %s track: %w", kind, err)
		}
	}
	if local.Video != nil {
		s.preview(local)
	}

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("set local description: %w", err)
	}
	return pc, nil
}

// sendOffer sends the local offer, then the candidates gathered so far.
func (s *session) sendOffer(ctx context.Context, conn *kvs.Conn, pc *webrtc.PeerConnection) error {
	// Anything received before the offer started going out is stale.
	s.offerAt = time.Now()
	if err := conn.SendOffer(ctx, *pc.LocalDescription(), s.correlationID("offer")); err != nil {
		return fmt.Errorf("send offer: %w", err)
	}
	s.phase(PhaseOfferSent, time.Now(), nil)
	s.flushCandidates(conn)
	s.goFunc(func() { s.statsLoop(pc) })
	return nil
}

func (s *session) correlationID(what string) string {
	return what + "-" + strconv.FormatUint(s.id, 10)
}

// sendCandidate trickles a local candidate, after the offer: a candidate that
// reached the master before the offer would be dropped by it.
func (s *session) sendCandidate(c webrtc.ICECandidateInit) {
	s.candMu.Lock()
	if !s.offerSent {
		s.outCands = append(s.outCands, c)
		s.candMu.Unlock()
		return
	}
	s.candMu.Unlock()
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return
	}
	if err := conn.SendCandidate(s.ctx, c, "", ""); err != nil && s.ctx.Err() == nil {
		s.log.Debug("candidate not sent", "error", err)
	}
}

func (s *session) flushCandidates(conn *kvs.Conn) {
	s.candMu.Lock()
	s.offerSent = true
	pending := s.outCands
	s.outCands = nil
	s.candMu.Unlock()
	for _, c := range pending {
		if err := conn.SendCandidate(s.ctx, c, "", ""); err != nil {
			s.log.Debug("candidate not sent", "error", err)
		}
	}
}

// serve handles signaling messages and commands until the session ends.
func (s *session) serve(ctx context.Context) {
	for {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case f := <-s.cmds:
			f()
		case <-conn.Done():
			if ctx.Err() != nil {
				return
			}
			err := conn.Err()
			if err == nil {
				err = kvs.ErrSignalingClosed
			}
			s.post(sessionEvent{kind: evSignalingClosed, err: err})
			// Wait for the controller's decision (reopen or teardown).
			select {
			case <-ctx.Done():
				return
			case f := <-s.cmds:
				f()
			}
		case m, ok := <-conn.Messages():
			if ok {
				s.handle(m)
			}
		}
	}
}

func (s *session) handle(m kvs.Message) {
	if (m.Type == kvs.TypeSDPAnswer || m.Type == kvs.TypeICECandidate) && m.Received.Before(s.offerAt) {
		// Queued by the service for this ClientId before this session's offer
		// existed: it belongs to an earlier session and must not touch this one.
		s.log.Debug("stale message dropped", "type", m.Type)
		return
	}
	switch m.Type {
	case kvs.TypeSDPAnswer:
		s.onAnswer(m)
	case kvs.TypeICECandidate:
		if m.Candidate == nil {
			return
		}
		if !s.remoteOK {
			s.pending = append(s.pending, *m.Candidate)
			return
		}
		if err := s.pc.AddICECandidate(*m.Candidate); err != nil {
			s.log.Debug("remote candidate rejected", "error", err)
		}
	case kvs.TypeGoAway:
		s.post(sessionEvent{kind: evGoAway})
	case kvs.TypeReconnectICEServer:
		s.post(sessionEvent{kind: evReconnectICE})
	case kvs.TypeStatusResponse:
		st := m.Status
		if st == nil {
			return
		}
		err := fmt.Errorf("service refused a message (%s %s): %s", st.StatusCode, st.ErrorType, st.Description)
		if st.CorrelationID == s.correlationID("offer") && !s.answered {
			s.failed(ClassStatusResponse, err)
			return
		}
		s.post(sessionEvent{kind: evNotice, msg: err.Error()})
	}
}

func (s *session) onAnswer(m kvs.Message) {
	if m.Answer != nil && s.answered && !s.iceUp.Load() && s.pc.SignalingState() == webrtc.SignalingStateStable {
		// A second answer before ICE came up: the first one answered an
		// earlier offer of this ClientId, and the master has moved on to ours.
		// This peer connection cannot be saved; start over at once rather
		// than wait for the ICE timeout.
		s.failed(ClassICEFailed, errors.New("a second SDP answer arrived before ICE connected: the first answered an earlier offer"))
		return
	}
	if m.Answer == nil || s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		// Not an answer to an offer of ours that is still open: a late or
		// duplicate answer (e.g. to an earlier offer of the same ClientId).
		s.log.Debug("answer ignored", "signaling_state", s.pc.SignalingState().String())
		return
	}
	if err := s.pc.SetRemoteDescription(*m.Answer); err != nil {
		s.log.Warn("answer rejected", "error", err)
		return
	}
	restart := s.answered
	s.answered, s.remoteOK = true, true
	if !restart {
		s.phase(PhaseAnswerReceived, time.Now(), nil)
	}
	for _, c := range s.pending {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.log.Debug("queued remote candidate rejected", "error", err)
		}
	}
	s.pending = nil
}

// iceRestart sends a new offer with fresh ICE credentials on the same
// peer connection (runs on the run goroutine).
func (s *session) iceRestart() {
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err == nil {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		err = conn.SendOffer(s.ctx, *s.pc.LocalDescription(), s.correlationID("restart"))
	}
	if err != nil {
		s.failed(ClassICEDisconnected, fmt.Errorf("ICE restart: %w", err))
	}
}

// reopenSignaling replaces the signaling connection, keeping the media.
func (s *session) reopenSignaling() {
	s.mu.Lock()
	old := s.conn
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if _, err := s.dial(s.ctx); err != nil {
		s.failed(ClassSignalingClosed, fmt.Errorf("reopen signaling: %w", err))
		return
	}
	s.post(sessionEvent{kind: evNotice, msg: "signaling reopened"})
}

// refreshICEServers fetches new ICE servers and applies them to the peer connection.
func (s *session) refreshICEServers() {
	cfg, res, err := s.controlPlane(s.ctx)
	if err != nil {
		s.failed(classify(err, ClassReconnectICEServer), fmt.Errorf("refresh ICE servers: %w", err))
		return
	}
	s.kcfg, s.cpRes = cfg, res
	if err := s.pc.SetConfiguration(rtc.Configuration(res.ice.Servers, s.rtcOptions(nil))); err != nil {
		s.log.Warn("new ICE servers not applied", "error", err)
	}
}

// applyMedia applies mute and camera-off to the local tracks.
func (s *session) applyMedia(audio, video bool) {
	s.mu.Lock()
	l := s.local
	s.mu.Unlock()
	if l != nil {
		l.SetAudioEnabled(audio)
		l.SetVideoEnabled(video)
	}
}

// receive decodes one remote track until it ends.
func (s *session) receive(pc *webrtc.PeerConnection, tr *webrtc.TrackRemote) {
	ctx := s.ctx
	var err error
	switch tr.Kind() {
	case webrtc.RTPCodecTypeVideo:
		first := true
		err = receive.Video(ctx, tr, receive.VideoOptions{
			Sink: gatedSink{s, s.c.remote},
			SendPLI: func() error {
				return pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			},
			Logger:     s.log,
			OnFirstRTP: func(t time.Time) { s.phase(PhaseFirstRTP, t, nil) },
			OnFirstFrame: func(t time.Time) {
				if !first {
					return
				}
				first = false
				st := s.c.remote.Stats()
				s.phase(PhaseFirstFrame, t, &FrameInfo{Width: st.Width, Height: st.Height, Codec: st.Codec})
			},
		})
	case webrtc.RTPCodecTypeAudio:
		codec := tr.Codec()
		player, perr := audioout.Open(int(codec.ClockRate), max(int(codec.Channels), 1), s.log)
		if perr != nil {
			s.log.Info("no audio output", "error", perr)
		} else if !s.adopt(func() { s.player = player }) {
			_ = player.Close()
			return
		}
		err = receive.Audio(ctx, tr, receive.AudioOptions{
			Out: func(pcm []int16, _, _ int) {
				if player != nil {
					player.Write(pcm)
				}
			},
			Logger: s.log,
		})
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("remote track ended", "kind", tr.Kind().String(), "error", err)
	}
}

// previewInterval spaces the preview's frames: an inset needs no more than
// about ten a second, and each costs a thumbnail and a display conversion.
const previewInterval = 90 * time.Millisecond

// preview feeds the local camera preview sink with small copies of the
// frames being sent, at most one per previewInterval.
func (s *session) preview(local *capture.Local) {
	var dst *decode.Picture
	var seq uint64
	var last time.Time
	local.SetPreview(func(img image.Image) {
		if s.ctx.Err() != nil {
			return
		}
		if now := time.Now(); now.Sub(last) >= previewInterval {
			last = now
		} else {
			return
		}
		seq++
		dst = thumbnail(img, dst, 320)
		gatedSink{s, s.c.local}.PutFrame(sink.Frame{Image: dst, Width: dst.Rect.Dx(), Height: dst.Rect.Dy(), Codec: "raw", Decoded: time.Now(), Seq: seq})
	})
}

// releaseDevices tells sessions waiting to open the camera and microphone
// that this one holds neither any more.
func (s *session) releaseDevices() { s.freeOnce.Do(func() { close(s.devFree) }) }

// gatedSink passes a session's frames to one of the controller's sinks until
// the session is torn down.
type gatedSink struct {
	s     *session
	inner *sink.Latest
}

// PutFrame implements sink.FrameSink.
func (g gatedSink) PutFrame(f sink.Frame) {
	g.s.frameMu.RLock()
	defer g.s.frameMu.RUnlock()
	if !g.s.framesOff {
		g.inner.PutFrame(f)
	}
}

// CountDropped implements sink.DropCounter.
func (g gatedSink) CountDropped(n int) {
	g.s.frameMu.RLock()
	defer g.s.frameMu.RUnlock()
	if !g.s.framesOff {
		g.inner.CountDropped(n)
	}
}

// stopFrames makes the session's frames stop reaching the controller's sinks;
// when it returns, no frame of the session is on its way into them.
func (s *session) stopFrames() {
	s.frameMu.Lock()
	s.framesOff = true
	s.frameMu.Unlock()
}

// teardown releases everything of the session in the proven order, each step
// bounded, and returns how long it took.
func (s *session) teardown() time.Duration {
	start := time.Now()
	s.mu.Lock()
	s.torn = true
	for i, t := range s.timers {
		if t != nil {
			t.Stop()
			s.timers[i] = nil
		}
	}
	conn, pc, local, player := s.conn, s.pc, s.local, s.player
	s.mu.Unlock()
	s.cancel()

	limit := s.c.cfg.TeardownStepLimit
	step := func(name string, f func() error) {
		if err := boundedStep(limit, f); err != nil {
			s.log.Warn("teardown step", "step", name, "error", err)
		}
	}
	// 1. Signaling first: no late answer or candidate can arrive any more.
	if conn != nil {
		step("close signaling", conn.Close)
	}
	// 2. Stop transceivers and remove senders: this unbinds the local tracks
	// from the peer connection while their RTP pumps still run (closing a
	// mediadevices track before it is unbound can make the unbind, and so
	// pc.Close, block forever).
	if pc != nil {
		step("remove senders", func() error {
			var errs []error
			for _, tr := range pc.GetTransceivers() {
				if snd := tr.Sender(); snd != nil {
					if err := pc.RemoveTrack(snd); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
						errs = append(errs, err)
					}
				}
			}
			return errors.Join(errs...)
		})
	}
	// 3. Local tracks: camera light off, microphone released.
	if local != nil {
		step("close local media", local.Close)
	}
	s.releaseDevices()
	// 4. The peer connection (stops the receivers, so the decoders end).
	if pc != nil {
		s.statsMu.Lock() // the context is cancelled: no GetStats starts after this
		s.statsMu.Unlock()
		step("close peer connection", pc.Close)
	}
	// 5. Audio out.
	if player != nil {
		step("close audio output", player.Close)
	}
	// 6. Every goroutine of the session.
	step("wait for session goroutines", func() error { s.wg.Wait(); return nil })
	d := time.Since(start)
	s.releaseDevices()
	// The codecs freed large buffers: give them back to the OS (not timed:
	// the call is already gone).
	memtune.Trim()
	return d
}

// errStepTimeout reports a teardown step that overran its limit.
var errStepTimeout = errors.New("overran its time limit; left behind")

func boundedStep(limit time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w after %s", errStepTimeout, limit)
	}
}
