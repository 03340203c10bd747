package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/webrtc/v4"
)

// ErrTrackClosed is returned by SendTrack.Bind once the track is closed.
var ErrTrackClosed = errors.New("capture: send track closed")

// SendTrack is a mediadevices track as it is added to pion peer connections
// (pc.AddTrack or pc.AddTransceiverFromTrack). Add it instead of the raw
// mediadevices track.
//
// It exists because of how mediadevices v0.9.4 binds a track (track.go): Bind
// starts a goroutine that encodes and writes RTP, and Unbind hands that
// goroutine a channel and waits for it to pick it up between two packets. If
// the goroutine ends on its own after Unbind has taken its entry (a failed
// write or read), nobody answers and Unbind, and with it RTPSender.Stop,
// RemoveTrack and PeerConnection.Close, blocks forever. pion makes exactly that
// happen: once a sender is stopped, a write on a sender whose SRTP never
// started returns io.ErrClosedPipe, so the teardown of a call whose offer got
// no answer, or whose ICE never connected, hangs. SendTrack therefore hands
// mediadevices a writer that never fails (errors are counted and dropped), and
// Close unbinds every binding before it closes the source, so no read fails
// while an Unbind waits.
//
// The writer also
//   - rewrites the payload type of the encoder's packets (the one of the
//     encoder's codec description, e.g. H.264 125) to the payload type
//     negotiated for the codec mediadevices picked for the binding;
//   - implements SetPaused: packets are dropped and the sequence numbers of the
//     packets that follow are shifted, as a sender that stops and resumes would
//     number them;
//   - notices the first packet SRTP really sends: pion drops packets silently
//     until the DTLS/SRTP transport is up, and the encoder's first keyframe goes
//     out long before that. A keyframe is forced at that moment, unless that
//     packet starts one, so the remote gets a picture at once instead of after
//     the keyframe interval, and only one.
//
// A SendTrack may be bound to several peer connections; its methods are safe
// for concurrent use.
type SendTrack struct {
	inner  mediadevices.Track
	id     string
	stream string
	log    *slog.Logger
	paused atomic.Bool
	kick   func() // when set, ForceKeyFrame and unbinding ask the source for a frame (or chunk) at once
	// release, when set, runs at Close once the bindings are gone, before the inner track is
	// closed; false leaves the inner track open (abandoned: a microphone lost for good, whose
	// close would hang).
	release func() bool

	// bindMu serializes Bind and Close, so Close never closes the source while a
	// binding is being set up.
	bindMu sync.Mutex
	// innerMu serializes the inner Binds (a background one among them).
	innerMu sync.Mutex
	// encodes, when set (video), tells whether the track has an encoder for
	// a codec MIME type as mediadevices matches it: Bind then returns at once.
	encodes func(mime string) bool

	mu       sync.Mutex
	closed   bool
	bindings map[string]*binding // by TrackLocalContext.ID

	writes    atomic.Uint64
	sent      atomic.Uint64
	sentBytes atomic.Uint64
	dropped   atomic.Uint64
	writeErrs atomic.Uint64
}

// binding is one peer connection's use of the track.
type binding struct {
	ctx webrtc.TrackLocalContext
	// keyframer is the binding's encoder, nil for audio or once unbinding has
	// begun (the encoder is freed then; guarded by SendTrack.mu).
	keyframer  codec.KeyFrameController
	innerBound bool          // the inner Bind succeeded (guarded by SendTrack.mu)
	bound      chan struct{} // closed when the inner Bind has ended
	once       sync.Once
	done       chan struct{} // closed when the inner Unbind has returned
	err        error
}

// SendStats are the packet counters of a SendTrack, over all its bindings.
type SendStats struct {
	// Writes counts the packets the encoder wrote.
	Writes uint64
	// Sent counts the packets SRTP sent (pion drops packets until SRTP is up).
	Sent uint64
	// SentBytes counts the RTP bytes (headers and payload) of the packets sent.
	SentBytes uint64
	// Dropped counts the packets dropped while paused.
	Dropped uint64
	// WriteErrors counts the writes that failed (the transport is gone) and
	// were dropped.
	WriteErrors uint64
}

var _ webrtc.TrackLocal = (*SendTrack)(nil)

// NewSendTrack wraps inner. id is the track id and streamID the stream id in
// the SDP (mediadevices would return a new random stream id on every call);
// log (nil means discard) gets debug messages.
func NewSendTrack(inner mediadevices.Track, id, streamID string, log *slog.Logger) *SendTrack {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SendTrack{inner: inner, id: id, stream: streamID, log: log, bindings: map[string]*binding{}}
}

// Bind binds the inner track to one peer connection with a writer that never
// fails. It fails with ErrTrackClosed once the track is closed.
//
// A video track whose encoders are known (see background.go) returns at once
// and builds its encoder in the background; any other track builds it here.
func (t *SendTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.bindMu.Lock()
	defer t.bindMu.Unlock()
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s track: %w", t.id, ErrTrackClosed)
	}
	w := &sendWriter{t: t, next: ctx.WriteStream(), ready: make(chan struct{})}
	b := &binding{ctx: ctx, done: make(chan struct{}), bound: make(chan struct{})}
	bc := &bindContext{TrackLocalContext: ctx, w: w}
	var params webrtc.RTPCodecParameters
	var err error
	if t.encodes != nil {
		params, err = t.pick(ctx.CodecParameters())
		bc.codecs = []webrtc.RTPCodecParameters{params}
	} else {
		params, err = t.bindInner(b, bc)
	}
	if err != nil {
		return webrtc.RTPCodecParameters{}, err
	}
	t.mu.Lock()
	t.bindings[ctx.ID()] = b
	t.mu.Unlock()
	// The writer goroutine waits for the payload type of the codec
	// mediadevices picks, which only the binding's codec tells.
	w.pt, w.mime = uint8(params.PayloadType), params.MimeType
	close(w.ready)
	if t.encodes != nil {
		go t.bindLater(b, bc)
	}
	return params, nil
}

// bindInner runs the inner track's Bind for b and keeps its encoder for
// ForceKeyFrame; it closes b.bound when done.
func (t *SendTrack) bindInner(b *binding, bc *bindContext) (webrtc.RTPCodecParameters, error) {
	defer close(b.bound)
	// innerMu: the encoder controller is set by Bind, and no other Bind may
	// replace it in between.
	t.innerMu.Lock()
	defer t.innerMu.Unlock()
	if t.kick != nil {
		// mediadevices' Bind reads a new frame from the source to learn its
		// format (a new broadcaster reader never gets the last one): without
		// the kick it waits up to a frame interval for the pattern's next frame.
		t.kick()
	}
	params, err := t.inner.Bind(bc)
	if err != nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s track: %w", t.id, err)
	}
	kc, _ := t.inner.EncoderController().(codec.KeyFrameController)
	t.mu.Lock()
	b.keyframer, b.innerBound = kc, true
	t.mu.Unlock()
	return params, nil
}

// Unbind stops the inner track's writer for ctx. It returns once the writer
// has stopped, also when Close is unbinding ctx at the same time.
func (t *SendTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	b := t.bindings[ctx.ID()]
	t.mu.Unlock()
	if b == nil {
		return nil
	}
	return t.unbind(b)
}

// unbind runs the inner Unbind of b once and waits for it.
func (t *SendTrack) unbind(b *binding) error {
	b.once.Do(func() {
		<-b.bound // a background Bind ends within its encoder's build
		t.mu.Lock()
		b.keyframer = nil
		bound := b.innerBound
		t.mu.Unlock()
		if bound { // a failed inner Bind left no writer to stop
			stopKicking := t.kickUntilDone()
			err := t.inner.Unbind(b.ctx)
			stopKicking()
			if err != nil {
				b.err = fmt.Errorf("unbind %s track: %w", t.id, err)
			}
		}
		t.mu.Lock()
		delete(t.bindings, b.ctx.ID())
		t.mu.Unlock()
		close(b.done)
	})
	<-b.done
	return b.err
}

// kickPeriod spaces the kicks of kickUntilDone.
const kickPeriod = 5 * time.Millisecond

// kickUntilDone kicks the source (when it can be) every kickPeriod until the
// returned function is called, and returns once the kicking has stopped.
// mediadevices' Unbind hands its writer goroutine a signal that the writer
// only takes between two reads, and the writer may be waiting in the source's
// Read for the next frame (33 ms at 30 fps) or audio chunk (20 ms): kicked,
// the source answers at once. One kick is not enough: the writer may take it
// just before it picks up the signal, and then wait in Read again.
func (t *SendTrack) kickUntilDone() (stop func()) {
	if t.kick == nil {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(kickPeriod)
		defer tick.Stop()
		for {
			t.kick()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// unbindAll stops the inner track's writer of every binding.
func (t *SendTrack) unbindAll() error {
	t.mu.Lock()
	bs := make([]*binding, 0, len(t.bindings))
	for _, b := range t.bindings {
		bs = append(bs, b)
	}
	t.mu.Unlock()
	var errs []error
	for _, b := range bs {
		if err := t.unbind(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ID is the track id in the SDP.
func (t *SendTrack) ID() string { return t.id }

// RID is empty: no simulcast.
func (t *SendTrack) RID() string { return "" }

// StreamID is the stream id in the SDP.
func (t *SendTrack) StreamID() string { return t.stream }

// Kind is the inner track's kind.
func (t *SendTrack) Kind() webrtc.RTPCodecType { return t.inner.Kind() }

// Track returns the wrapped mediadevices track.
func (t *SendTrack) Track() mediadevices.Track { return t.inner }

// SetPaused stops (true) or resumes (false) sending: while paused the encoder
// keeps running but its packets are dropped. Resuming does not force a
// keyframe; call ForceKeyFrame for that.
func (t *SendTrack) SetPaused(paused bool) { t.paused.Store(paused) }

// Paused reports whether the track is paused.
func (t *SendTrack) Paused() bool { return t.paused.Load() }

// ForceKeyFrame asks the encoder of every binding for a keyframe; it reports
// whether any could (audio encoders cannot, and an unbound track has none).
func (t *SendTrack) ForceKeyFrame() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The call happens under mu: unbind clears keyframer under mu before the
	// encoder is closed, so no keyframe is asked of a freed encoder.
	ok := false
	for _, b := range t.bindings {
		if b.keyframer == nil {
			continue
		}
		if err := b.keyframer.ForceKeyFrame(); err != nil {
			t.log.Debug("force keyframe failed", "track", t.id, "err", err)
			continue
		}
		ok = true
	}
	if ok && t.kick != nil {
		t.kick()
	}
	return ok
}

// Stats returns the packet counters.
func (t *SendTrack) Stats() SendStats {
	return SendStats{
		Writes:      t.writes.Load(),
		Sent:        t.sent.Load(),
		SentBytes:   t.sentBytes.Load(),
		Dropped:     t.dropped.Load(),
		WriteErrors: t.writeErrs.Load(),
	}
}

// Close unbinds the track from every peer connection still bound (each Unbind
// returns, as the writer never fails), then closes the inner track and its
// source. Later Binds fail; later Unbinds by pion return at once. It is
// idempotent. It must not be called from the track's own writer.
func (t *SendTrack) Close() error {
	t.bindMu.Lock()
	defer t.bindMu.Unlock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	errs := []error{t.unbindAll()}
	if t.release != nil && !t.release() {
		return errors.Join(errs...) // abandoned: see release
	}
	if err := t.inner.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close %s track: %w", t.id, err))
	}
	return errors.Join(errs...)
}

// bindContext hands mediadevices the wrapping writer and, when codecs is
// set, only those codecs to choose from.
type bindContext struct {
	webrtc.TrackLocalContext
	w      webrtc.TrackLocalWriter
	codecs []webrtc.RTPCodecParameters
}

// CodecParameters returns the codecs mediadevices may choose from.
func (c *bindContext) CodecParameters() []webrtc.RTPCodecParameters {
	if c.codecs != nil {
		return c.codecs
	}
	return c.TrackLocalContext.CodecParameters()
}

// WriteStream returns the wrapping writer.
func (c *bindContext) WriteStream() webrtc.TrackLocalWriter { return c.w }
