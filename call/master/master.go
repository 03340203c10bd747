// The master's lifecycle: Options and their defaults, Start, the pion API
// and capture options of its peer connections, SetMediaPaused and Close.
// The signaling connection is in signaling.go, offers and the viewer table in
// offers.go, one viewer's peer connection in viewer.go.

// Package master is a KVS WebRTC MASTER peer on pion: the partner the viewer
// calls in Demo mode, in tests and in QA.
//
// It connects to a signaling channel as master, answers each viewer's offer
// with a peer connection of its own (a new offer from the same ClientId
// replaces that viewer's connection, as the official JS master does), sends a
// moving test pattern with a frame counter and a clock plus a tone (which
// flashes and beeps together once a second, for A/V sync meters), and
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
	MaxViewers = kvs.MaxViewersPerChannel
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
	// AVOffset makes the audio late (negative: early) by this much on purpose: the beep each
	// second comes that long after the picture's flash (see media/pattern's sync marks), to
	// check a viewer's A/V sync meter. Within ±pattern.MaxBeepOffset.
	AVOffset time.Duration
	// OnEvent, when set, is called (from the master's goroutines, one event
	// at a time per viewer) with what happens to each viewer.
	OnEvent func(Event)
	// NoDataChannel makes the master ignore the data channels viewers open:
	// no echo of their pings, no messages of its own.
	NoDataChannel bool
	// Loopback restricts ICE to 127.0.0.1 (rtc.Options.Loopback): demo and tests.
	Loopback bool
	// Logger receives the master's logs; nil discards them.
	Logger *slog.Logger
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

	mu      sync.Mutex
	conn    *kvs.Conn
	ice     kvs.ICEConfig
	viewers map[string]*viewer
	stats   map[string]*ViewerStats // by ClientId: Offers and the stats of ended connections
	pending map[string][]webrtc.ICECandidateInit
	changed chan struct{}  // closed and replaced whenever stats change
	spare   *capture.Local // the next viewer's media, opened ahead (spare.go)
	// spareTimer opens the next spare a moment after a viewer connects.
	spareTimer *time.Timer
	// spareOpening is true while the next spare opens.
	spareOpening bool
	closed       bool
	closeErr     error
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
	m.refillSpare()
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
	if o.AVOffset < -pattern.MaxBeepOffset || o.AVOffset > pattern.MaxBeepOffset {
		return o, fmt.Errorf("A/V offset %s outside ±%s", o.AVOffset, pattern.MaxBeepOffset)
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
// master's test pattern and the tone, or no audio, with the A/V sync marks
// (a flash and a beep each second).
func (o Options) captureOptions(log *slog.Logger) capture.Options {
	audio := capture.SourceTone
	if o.NoAudio {
		audio = capture.SourceNone
	}
	return capture.Options{
		Video: capture.SourceTest, Audio: audio,
		Width: o.Width, Height: o.Height, FPS: o.FPS, Codec: o.Codec,
		PatternStyle: pattern.StyleMaster,
		SyncMarks:    true, AVOffset: o.AVOffset,
		StreamID: "kvs-master",
		// Held for the master's life, not a call's: QA's count of media a
		// call left open leaves them out.
		Background: true,
		Logger:     log,
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
	m.closeSpare()
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
