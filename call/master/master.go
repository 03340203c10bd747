// Package master is a KVS WebRTC MASTER peer on pion: the partner the viewer
// calls in Demo mode, in tests and in QA.
//
// It connects to a signaling channel as master, answers each viewer's offer
// with a peer connection of its own (a new offer from the same ClientId
// replaces that viewer's connection, as the official JS master does), sends a
// moving test pattern with a frame counter and a clock plus a tone, and
// decodes what each viewer sends, counting frames and audio packets and
// reading the viewer pattern's frame counter, so tests can prove that a viewer
// really sends.
package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// Defaults of Options.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 30
	// MaxViewers is the number of concurrent viewers a master serves, the
	// channel's limit.
	MaxViewers = 10
	// ToneHz is the frequency of the tone the master sends.
	ToneHz = capture.ToneHz
)

// Codec choices of Options.Codec.
const (
	// CodecAuto answers with the viewer's first offered video codec the master can send.
	CodecAuto = "auto"
	// CodecH264 sends only H.264.
	CodecH264 = "h264"
	// CodecVP8 sends only VP8.
	CodecVP8 = "vp8"
)

const (
	// maxPendingCandidates bounds the candidates kept for a viewer whose offer has not arrived.
	maxPendingCandidates = 64
	// maxStats bounds the stats records kept for viewers that are gone.
	maxStats = 64
	// sendTimeout bounds one signaling write.
	sendTimeout = 5 * time.Second
	// teardownTimeout bounds Close's wait for the viewers' teardown.
	teardownTimeout = 10 * time.Second
	// iceRefreshMargin is how long before the TURN credentials expire they are refetched.
	iceRefreshMargin = 30 * time.Second
)

// Options configure Start.
type Options struct {
	// AWS selects account, region, endpoint and trust.
	AWS kvs.AWSOptions
	// Channel is the signaling channel's name or ARN.
	Channel string
	// Width, Height and FPS of the test pattern; zero means 1280x720 at 30 fps.
	Width, Height, FPS int
	// Codec is CodecAuto ("" means the same), CodecH264 or CodecVP8.
	Codec string
	// NoAudio turns the tone off.
	NoAudio bool
	// Loopback restricts ICE to 127.0.0.1 (rtc.Options.Loopback): demo and tests.
	Loopback bool
	// Logger receives the master's logs; nil discards them.
	Logger *slog.Logger
}

// ViewerStats describes one viewer (by ClientId) and its current peer connection.
type ViewerStats struct {
	// ClientID is the viewer's ClientId.
	ClientID string
	// Connected is true while the current peer connection is connected.
	Connected bool
	// FramesDecoded counts the video frames decoded on the current connection.
	FramesDecoded uint64
	// LastCounter is the frame counter last read from the viewer's test pattern.
	LastCounter uint32
	// CounterAdvancing is true once a counter greater than an earlier one was read.
	CounterAdvancing bool
	// Width and Height are the size of the last decoded frame.
	Width, Height int
	// Codec is the MIME type of the video the viewer sends.
	Codec string
	// AudioPackets counts the audio RTP packets received on the current connection.
	AudioPackets uint64
	// Offers counts the offers received from this ClientId.
	Offers int
	// SentPackets counts the RTP packets the master sent to this viewer on the current connection.
	SentPackets uint64
}

// Master is a running KVS master. Its methods are safe for concurrent use.
type Master struct {
	o      Options
	log    *slog.Logger
	cp     *kvs.ControlPlane
	kcfg   kvs.Config
	arn    string
	ep     kvs.Endpoints
	api    *webrtc.API
	paused bool // SetMediaPaused; guarded by mu

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // signaling loop, ICE refresh, teardowns

	mu       sync.Mutex
	conn     *kvs.Conn
	ice      kvs.ICEConfig
	viewers  map[string]*viewer
	stats    map[string]*ViewerStats // by ClientId: Offers and the stats of ended connections
	pending  map[string][]webrtc.ICECandidateInit
	changed  chan struct{} // closed and replaced whenever stats change
	closed   bool
	closeErr error
}

// Start resolves the channel, fetches the ICE configuration and opens the
// signaling connection as master; it returns once the socket is open. ctx
// bounds only the start-up; the master runs until Close.
func Start(ctx context.Context, o Options) (*Master, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "master")
	api, err := o.newAPI(log)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	kcfg, err := kvs.LoadAWSConfig(ctx, o.AWS)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	cp := kvs.NewControlPlane(kcfg)
	ch, err := cp.DescribeChannel(ctx, o.Channel)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	ep, err := cp.GetEndpoints(ctx, ch.ARN, kvs.RoleMaster)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	m := &Master{
		o: o, log: log, cp: cp, kcfg: kcfg, arn: ch.ARN, ep: ep, api: api,
		viewers: map[string]*viewer{},
		stats:   map[string]*ViewerStats{},
		pending: map[string][]webrtc.ICECandidateInit{},
		changed: make(chan struct{}),
	}
	ice, err := cp.GetICEServers(ctx, ep, ch.ARN, "")
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	m.ice = ice
	conn, err := m.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("start master: %w", err)
	}
	m.conn = conn
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.signalingLoop(conn)
	log.Info("master started", "channel", ch.Name, "codec", o.Codec, "size", fmt.Sprintf("%dx%d@%d", o.Width, o.Height, o.FPS))
	return m, nil
}

// withDefaults fills in the defaults of o and checks its codec and channel.
func (o Options) withDefaults() (Options, error) {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = DefaultWidth, DefaultHeight
	}
	if o.FPS <= 0 {
		o.FPS = DefaultFPS
	}
	switch strings.ToLower(o.Codec) {
	case "", CodecAuto:
		o.Codec = CodecAuto
	case CodecH264, CodecVP8:
		o.Codec = strings.ToLower(o.Codec)
	default:
		return o, fmt.Errorf("unknown codec %q (want auto, h264 or vp8)", o.Codec)
	}
	if o.Channel == "" {
		return o, errors.New("no channel")
	}
	return o, nil
}

// newAPI is the pion API of the master's peer connections, with the same
// encoders as every viewer's capture.Local: the codecs are registered with
// their payload types, in preference order, with NACK, PLI and FIR feedback
// for video.
func (o Options) newAPI(log *slog.Logger) (*webrtc.API, error) {
	sel, err := capture.NewCodecSelector(o.Codec, o.captureOptions(log))
	if err != nil {
		return nil, err
	}
	populate := func(me *webrtc.MediaEngine) error {
		sel.Populate(me)
		return nil
	}
	return rtc.NewAPI(rtc.Options{Loopback: o.Loopback, Populate: populate, Logger: log})
}

// dial opens a new signaling connection (a freshly presigned URL).
func (m *Master) dial(ctx context.Context) (*kvs.Conn, error) {
	return kvs.Dial(ctx, kvs.DialOptions{
		Config: m.kcfg, ChannelARN: m.arn, Endpoints: m.ep, Role: kvs.RoleMaster, Logger: m.log,
	})
}

// signalingLoop handles the messages of the current connection and replaces
// the connection on GO_AWAY or when it drops. Live peer connections are kept.
func (m *Master) signalingLoop(conn *kvs.Conn) {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case msg, ok := <-conn.Messages():
			if !ok {
				m.log.Warn("signaling connection dropped; reconnecting", "err", conn.Err())
				_ = conn.Close()
				if conn = m.reconnect(); conn == nil {
					return
				}
				continue
			}
			switch msg.Type {
			case kvs.TypeSDPOffer:
				m.handleOffer(msg.SenderClientID, *msg.Offer)
			case kvs.TypeICECandidate:
				m.handleCandidate(msg.SenderClientID, *msg.Candidate)
			case kvs.TypeGoAway:
				m.log.Info("GO_AWAY: reconnecting signaling")
				old := conn
				if conn = m.reconnect(); conn == nil {
					_ = old.Close()
					return
				}
				_ = old.Close()
			case kvs.TypeReconnectICEServer:
				m.log.Info("RECONNECT_ICE_SERVER: refreshing the ICE configuration")
				m.refreshICE()
			case kvs.TypeStatusResponse:
				m.log.Warn("signaling status response", "status", msg.Status.StatusCode,
					"error", msg.Status.ErrorType, "description", msg.Status.Description)
			}
		}
	}
}

// reconnect dials until a connection opens or the master closes; it returns
// nil in the latter case.
func (m *Master) reconnect() *kvs.Conn {
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		conn, err := m.dial(ctx)
		cancel()
		if err == nil {
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				_ = conn.Close()
				return nil
			}
			m.conn = conn
			m.mu.Unlock()
			m.log.Info("signaling reconnected")
			return conn
		}
		m.log.Warn("signaling reconnect failed", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// refreshICE refetches the ICE configuration for new peer connections. It
// runs in the background so that the signaling loop keeps going.
func (m *Master) refreshICE() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		ice, err := m.cp.GetICEServers(ctx, m.ep, m.arn, "")
		if err != nil {
			m.log.Warn("refresh ICE configuration failed", "err", err)
			return
		}
		m.mu.Lock()
		m.ice = ice
		m.mu.Unlock()
	}()
}

// iceServers returns the current ICE servers, refreshing them in the
// background when the TURN credentials are about to expire.
func (m *Master) iceServers() []webrtc.ICEServer {
	m.mu.Lock()
	ice := m.ice
	m.mu.Unlock()
	if !ice.Expires.IsZero() && time.Until(ice.Expires) < iceRefreshMargin {
		m.refreshICE()
	}
	return ice.Servers
}

// send runs one signaling write on the current connection.
func (m *Master) send(f func(ctx context.Context, c *kvs.Conn) error) error {
	m.mu.Lock()
	c := m.conn
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, sendTimeout)
	defer cancel()
	return f(ctx, c)
}

// handleOffer answers an offer with a new peer connection, replacing the
// viewer's previous one (as the official JS master does for every offer),
// unless the offer comes from the viewer's current peer connection: an ICE
// restart, which is answered on that connection (see restartICE).
func (m *Master) handleOffer(clientID string, offer webrtc.SessionDescription) {
	if err := kvs.ValidateClientID(clientID); err != nil {
		m.log.Warn("ignored offer from an invalid ClientId", "err", err)
		return
	}
	if m.restartICE(clientID, offer) {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	old := m.viewers[clientID]
	delete(m.viewers, clientID)
	if old == nil && len(m.viewers) >= MaxViewers {
		m.mu.Unlock()
		m.log.Warn("ignored offer: too many viewers", "client_id", clientID, "max", MaxViewers)
		return
	}
	st := m.statsLocked(clientID)
	st.Offers++
	pending := m.pending[clientID]
	delete(m.pending, clientID)
	m.mu.Unlock()
	if old != nil {
		m.log.Info("new offer replaces the viewer's connection", "client_id", clientID)
		m.teardownAsync(old)
	}

	v, err := m.newViewer(clientID, offer, pending)
	if err != nil {
		m.log.Warn("answer offer failed", "client_id", clientID, "err", err)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.teardownAsync(v)
		return
	}
	m.viewers[clientID] = v
	// Under mu, as SetMediaPaused: the viewer cannot miss a change.
	v.local.SetPaused(m.paused)
	m.resetStatsLocked(clientID)
	m.mu.Unlock()
	m.notify()
}

// restartICE answers offer on clientID's current peer connection when the
// offer comes from the peer connection that one talks to (the same DTLS
// certificate fingerprints): an ICE restart, or another renegotiation. Such
// an offer must not get a new peer connection: the viewer keeps its DTLS
// session on renegotiation (pion ignores a changed fingerprint there), so the
// new connection's DTLS handshake would never complete and the media would
// not come back. A viewer's new session has a new peer connection, hence a
// new certificate, and still replaces the old one. It reports whether the
// offer was answered.
func (m *Master) restartICE(clientID string, offer webrtc.SessionDescription) bool {
	m.mu.Lock()
	v := m.viewers[clientID]
	closed := m.closed
	m.mu.Unlock()
	if closed || v == nil || !v.sameRemote(offer) {
		return false
	}
	if err := v.renegotiate(offer); err != nil {
		m.log.Warn("renegotiation failed; answering with a new connection", "client_id", clientID, "err", err)
		return false
	}
	m.mu.Lock()
	m.statsLocked(clientID).Offers++
	m.mu.Unlock()
	m.log.Info("answered an ICE restart on the viewer's connection", "client_id", clientID)
	m.notify()
	return true
}

// handleCandidate adds a viewer's candidate to its peer connection, or keeps
// it until that viewer's offer arrives.
func (m *Master) handleCandidate(clientID string, cand webrtc.ICECandidateInit) {
	m.mu.Lock()
	v := m.viewers[clientID]
	if v == nil {
		if kvs.ValidateClientID(clientID) == nil && len(m.pending) < 4*MaxViewers &&
			len(m.pending[clientID]) < maxPendingCandidates {
			m.pending[clientID] = append(m.pending[clientID], cand)
		}
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	v.addCandidate(cand)
}

// teardownAsync tears v down in the background; Close waits for it.
func (m *Master) teardownAsync(v *viewer) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		v.teardown()
	}()
}

// viewerEnded drops v when its peer connection failed or closed.
func (m *Master) viewerEnded(v *viewer) {
	m.mu.Lock()
	cur := m.viewers[v.id] == v
	if cur {
		delete(m.viewers, v.id)
		// Keep the ended connection's figures.
		st := m.statsLocked(v.id)
		offers := st.Offers
		v.fill(st)
		st.Offers, st.Connected = offers, false
	}
	closed := m.closed
	m.mu.Unlock()
	if cur && !closed {
		m.teardownAsync(v)
	}
	m.notify()
}

// statsLocked returns the stats record of clientID, creating it (and pruning
// records of viewers that are gone) as needed. m.mu must be held.
func (m *Master) statsLocked(clientID string) *ViewerStats {
	if st, ok := m.stats[clientID]; ok {
		return st
	}
	if len(m.stats) >= maxStats {
		for _, id := range slices.Sorted(maps.Keys(m.stats)) {
			if _, live := m.viewers[id]; !live {
				delete(m.stats, id)
				break
			}
		}
	}
	st := &ViewerStats{ClientID: clientID}
	m.stats[clientID] = st
	return st
}

// resetStatsLocked starts the per-connection counters of clientID afresh,
// keeping Offers. m.mu must be held.
func (m *Master) resetStatsLocked(clientID string) {
	st := m.statsLocked(clientID)
	*st = ViewerStats{ClientID: clientID, Offers: st.Offers}
}

// snapshotLocked returns the stats of clientID, merged with its live connection. m.mu must be held.
func (m *Master) snapshotLocked(clientID string) (ViewerStats, bool) {
	st, ok := m.stats[clientID]
	if !ok {
		return ViewerStats{}, false
	}
	out := *st
	if v := m.viewers[clientID]; v != nil {
		v.fill(&out)
	}
	return out, true
}

// Viewers returns the stats of every viewer the master knows, sorted by ClientId.
func (m *Master) Viewers() []ViewerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ViewerStats, 0, len(m.stats))
	for _, id := range slices.Sorted(maps.Keys(m.stats)) {
		st, _ := m.snapshotLocked(id)
		out = append(out, st)
	}
	return out
}

// Viewer returns the stats of one viewer.
func (m *Master) Viewer(clientID string) (ViewerStats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked(clientID)
}

// notify wakes the waiters of WaitViewerFrames.
func (m *Master) notify() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// WaitViewerFrames blocks until the master has decoded at least n frames from
// clientID's current connection, ctx ends, or the master closes.
func (m *Master) WaitViewerFrames(ctx context.Context, clientID string, n uint64) error {
	for {
		m.mu.Lock()
		st, _ := m.snapshotLocked(clientID)
		ch, closed := m.changed, m.closed
		m.mu.Unlock()
		if st.FramesDecoded >= n {
			return nil
		}
		if closed {
			return fmt.Errorf("wait for frames of viewer %s: master closed", clientID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for frames of viewer %s: %d of %d decoded: %w", clientID, st.FramesDecoded, n, ctx.Err())
		case <-ch:
		}
	}
}

// SetMediaPaused stops (true) or resumes (false) the media the master sends to
// every viewer: while paused the tracks send no RTP; on resume the video
// starts again with a keyframe.
func (m *Master) SetMediaPaused(paused bool) {
	m.mu.Lock()
	changed := m.paused != paused
	m.paused = paused
	vs := slices.Collect(maps.Values(m.viewers))
	for _, v := range vs {
		v.local.SetPaused(paused)
	}
	m.mu.Unlock()
	if !changed || paused {
		return
	}
	for _, v := range vs {
		v.local.ForceKeyFrame()
	}
}

// captureOptions are the options of the capture.Local of every viewer: the
// master's test pattern and the tone, or no audio.
func (o Options) captureOptions(log *slog.Logger) capture.Options {
	audio := capture.SourceTone
	if o.NoAudio {
		audio = capture.SourceNone
	}
	return capture.Options{
		Video: capture.SourceTest, Audio: audio,
		Width: o.Width, Height: o.Height, FPS: o.FPS, Codec: o.Codec,
		PatternStyle: pattern.StyleMaster,
		StreamID:     "kvs-master",
		Logger:       log,
	}
}

// Close closes every viewer's peer connection and tracks and the signaling
// socket. When it returns no goroutine of the master remains (unless a
// teardown step hung, which it reports).
func (m *Master) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return m.closeErr
	}
	m.closed = true
	vs := slices.Collect(maps.Values(m.viewers))
	clear(m.viewers)
	m.mu.Unlock()
	m.notify()

	m.cancel()
	for _, v := range vs {
		m.teardownAsync(v)
	}
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-time.After(teardownTimeout):
		err = fmt.Errorf("close master: teardown did not finish within %s", teardownTimeout)
	}
	m.mu.Lock()
	conn := m.conn
	m.mu.Unlock()
	if cerr := conn.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close master: %w", cerr))
	}
	m.mu.Lock()
	m.closeErr = err
	m.mu.Unlock()
	return err
}

// rtcConfiguration is the peer connection configuration for servers.
func rtcConfiguration(servers []webrtc.ICEServer, loopback bool) webrtc.Configuration {
	return rtc.Configuration(servers, rtc.Options{Loopback: loopback})
}
