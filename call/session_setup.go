package call

import (
	"context"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// controlPlane resolves the channel, its endpoints and its ICE servers one
// after the other (channelEndpoints, iceServers).
func (s *session) controlPlane(ctx context.Context) (kvs.Config, *controlPlaneResult, error) {
	cfg, res, cp, err := s.channelEndpoints(ctx)
	if err == nil {
		err = s.iceServers(ctx, cfg, cp, &res)
	}
	if err != nil {
		return cfg, nil, err
	}
	return cfg, &res, nil
}

// channelEndpoints resolves the channel and its endpoints, reusing the
// controller's AWS configuration and its cache where the answers are still
// valid: then it makes no request at all. cp is nil on a cache hit.
func (s *session) channelEndpoints(ctx context.Context) (cfg kvs.Config, res controlPlaneResult, cp *kvs.ControlPlane, err error) {
	channel := s.deps.cfg.Channel
	cfg, err = s.deps.cp.awsConfig(ctx, s.deps.cfg.AWS)
	if err != nil {
		return cfg, res, nil, err
	}
	res, hit := s.deps.cp.lookup(channel)
	if !hit {
		cp = kvs.NewControlPlane(cfg)
		if res.channel, err = cp.DescribeChannel(ctx, channel); err != nil {
			return cfg, res, nil, err
		}
		if res.endpoints, err = cp.GetEndpoints(ctx, res.channel.ARN, kvs.RoleViewer); err != nil {
			return cfg, res, nil, err
		}
	}
	res.loopback = isLoopbackURL(res.endpoints.WSS)
	return cfg, res, cp, nil
}

// iceServers fills res.ice from the cache, or fetches the channel's ICE
// servers when the cached ones are about to expire (TURN credentials last
// ~300 s: never use ones about to expire), and keeps the answers.
func (s *session) iceServers(ctx context.Context, cfg kvs.Config, cp *kvs.ControlPlane, res *controlPlaneResult) error {
	if time.Until(res.ice.Expires) < iceMinValid {
		if cp == nil {
			cp = kvs.NewControlPlane(cfg)
		}
		ice, err := fetchICE(ctx, cp, *res, s.clientID)
		if err != nil {
			return err
		}
		res.ice = ice
	}
	channel := s.deps.cfg.Channel
	s.deps.cp.store(channel, *res)
	s.deps.cp.scheduleICERefresh(cfg, channel, s.clientID, s.log)
	return nil
}

func (s *session) rtcOptions(sel *mediadevices.CodecSelector) rtc.Options {
	send, nat := s.deps.cfg.SendCandidates, s.deps.cfg.NAT
	if send.Has(CandidateRelay) && !send.Has(CandidateHost) && !send.Has(CandidateSrflx) {
		// Relay candidates only: this end must not use its others either,
		// or a host pair would win and the relay be bypassed.
		nat = NATRelay
	}
	o := rtc.Options{Loopback: s.cpRes.loopback, NAT: nat, Logger: s.log,
		KeepTURN: !send.All() && send.Has(CandidateRelay)}
	if sel != nil {
		o.Populate = func(me *webrtc.MediaEngine) error {
			sel.Populate(me)
			return nil
		}
	}
	return o
}

type localResult struct {
	l   *capture.Local
	err error
}

type dialResult struct {
	conn *kvs.Conn
	at   time.Time
	err  error
}

// run sets the call up and then serves signaling until the session ends:
// local media, the control plane and signaling run side by side (the socket
// opens once the endpoint is known, beside the ICE servers' request); the
// offer goes out once the peer connection and the socket are both ready.
func (s *session) run() {
	ctx := s.ctx
	localCh := s.openLocal(ctx)
	cfg, res, cp, err := s.channelEndpoints(ctx)
	if err != nil {
		s.failed(classify(err, ClassControlPlane), err)
		return
	}
	// The socket opens as soon as the endpoint is known, while the ICE
	// servers are fetched (when they are not cached): the dial reads only
	// the channel and the endpoints of s.cpRes, iceServers only writes its
	// ice.
	s.kcfg, s.cpRes = cfg, &res
	dialCh := s.openSignaling(ctx)
	if err := s.iceServers(ctx, cfg, cp, s.cpRes); err != nil {
		s.failed(classify(err, ClassControlPlane), err)
		return
	}
	s.phase(PhaseControlPlane, time.Now(), nil)

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
	s.tellLocal(lr.l)
	lr.l.SetAudioEnabled(!s.deps.micMuted())
	s.showInput(lr.l)
	lr.l.SetVideoEnabled(!s.deps.cameraOff())
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

// openLocal opens the camera and microphone (or the test sources) in the
// background, once older sessions have released theirs.
func (s *session) openLocal(ctx context.Context) <-chan localResult {
	ch := make(chan localResult, 1)
	s.goFunc(func() {
		if err := s.awaitDevices(ctx); err != nil {
			ch <- localResult{nil, err}
			return
		}
		l, err := s.openDevices()
		ch <- localResult{l, err}
	})
	return ch
}

// devicesWait bounds the wait for older sessions to free the camera and
// microphone: a device stuck in a driver must not stop the call (auto mode
// then falls back to the test sources).
const devicesWait = 5 * time.Second

// awaitDevices waits until every older session has released its devices.
func (s *session) awaitDevices(ctx context.Context) error {
	limit := time.NewTimer(devicesWait)
	defer limit.Stop()
	for _, d := range s.after {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			s.log.Warn("an older call still holds the camera or microphone; opening anyway")
			return nil
		}
	}
	return nil
}

// openDevices opens the local media. The session counts as holding the
// devices from the start of the open: a teardown meanwhile leaves their
// release to this function, which closes what the open returns first.
func (s *session) openDevices() (*capture.Local, error) {
	s.mu.Lock()
	if s.torn {
		s.mu.Unlock()
		s.releaseDevices()
		return nil, context.Canceled
	}
	s.opening = true
	s.mu.Unlock()

	l, err := capture.Open(s.deps.cfg.Media)

	s.mu.Lock()
	s.opening = false
	torn := s.torn
	if !torn && err == nil {
		s.local = l
	}
	s.mu.Unlock()
	if torn {
		if l != nil {
			_ = l.Close()
		}
		l, err = nil, context.Canceled
	}
	if l == nil || !l.HasDevice() {
		s.releaseDevices() // test pattern and tone are no devices: the next session need not wait
	}
	return l, err
}

// openSignaling dials the signaling channel in the background.
func (s *session) openSignaling(ctx context.Context) <-chan dialResult {
	ch := make(chan dialResult, 1)
	s.goFunc(func() {
		// The service allows 3 ConnectAsViewer per second per channel: a
		// burst of reconnects waits here rather than being refused.
		if err := s.deps.connects.Wait(ctx); err != nil {
			ch <- dialResult{err: err}
			return
		}
		conn, err := s.dial(ctx)
		ch <- dialResult{conn, time.Now(), err}
	})
	return ch
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

// showInput makes l the local media whose level the controller's InputLevel reads.
func (s *session) showInput(l *capture.Local) {
	if s.deps.input != nil {
		s.deps.input.Store(l)
	}
}

// hideInput takes l back from InputLevel at teardown, unless a newer session showed its own.
func (s *session) hideInput(l *capture.Local) {
	if s.deps.input != nil {
		s.deps.input.CompareAndSwap(l, nil)
	}
}

// tellLocal shows the local media's notes (fallbacks, such as no camera) as
// notices, and later the loss of its microphone: the call goes on, sending
// silence.
func (s *session) tellLocal(l *capture.Local) {
	for _, n := range l.Notes {
		s.notice(n)
	}
	l.OnMicLost(func(err error) { s.notice(err.Error()) })
}
