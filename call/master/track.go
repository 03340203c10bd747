package master

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sendTrack is one local mediadevices track as bound to one peer connection.
//
// It exists because of how mediadevices v0.9.4 binds a track (track.go): Bind
// starts a goroutine that encodes and writes RTP, and Unbind hands that
// goroutine a channel and waits for it to pick it up between two frames. If
// the goroutine ends on its own after Unbind has taken its entry (a failed
// write or read), nobody answers and Unbind, and with it RTPSender.Stop,
// RemoveTrack and PeerConnection.Close, blocks forever. pion makes exactly that
// happen: once a sender is stopped, a write on a sender whose SRTP never
// started returns io.ErrClosedPipe. So the writer handed to mediadevices never
// fails (errors are counted and dropped), and the sources are closed only after
// Unbind has returned.
//
// The writer also rewrites the payload type of the encoder's packets (the
// mediadevices default) to the negotiated one, implements the media pause (packets are dropped and the
// sequence numbers of the packets that follow are shifted, as a sender that
// stops and resumes would number them), and notices the first packet that
// SRTP really sent: pion drops packets silently until the DTLS/SRTP transport
// is up, and the encoder's first keyframe goes out during SetLocalDescription,
// long before that. A keyframe is forced at that moment.
type sendTrack struct {
	inner  mediadevices.Track
	id     string
	stream string
	paused *atomic.Bool
	sel    *selector
	log    *slog.Logger

	mu        sync.Mutex
	keyframer codec.KeyFrameController

	writes    atomic.Uint64 // packets the encoder wrote
	sent      atomic.Uint64 // packets SRTP sent
	dropped   atomic.Uint64 // packets dropped by the pause
	writeErrs atomic.Uint64 // writes that failed (transport gone)
}

var _ webrtc.TrackLocal = (*sendTrack)(nil)

func newSendTrack(inner mediadevices.Track, id, stream string, paused *atomic.Bool, sel *selector, log *slog.Logger) *sendTrack {
	return &sendTrack{inner: inner, id: id, stream: stream, paused: paused, sel: sel, log: log}
}

// Bind binds the inner track with a writer that never fails.
func (t *sendTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	w := &sendWriter{t: t, next: ctx.WriteStream(), pt: t.sel.payloadTypeMap(ctx.CodecParameters())}
	params, err := t.inner.Bind(&bindContext{TrackLocalContext: ctx, w: w})
	if err != nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s track: %w", t.id, err)
	}
	// The encoder controller is set by Bind, on this goroutine.
	if kc, ok := t.inner.EncoderController().(codec.KeyFrameController); ok {
		t.mu.Lock()
		t.keyframer = kc
		t.mu.Unlock()
	}
	return params, nil
}

// Unbind stops the inner track's writer for ctx.
func (t *sendTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	if err := t.inner.Unbind(ctx); err != nil {
		return fmt.Errorf("unbind %s track: %w", t.id, err)
	}
	return nil
}

// ID is the track id in the SDP.
func (t *sendTrack) ID() string { return t.id }

// RID is empty: no simulcast.
func (t *sendTrack) RID() string { return "" }

// StreamID groups the master's audio and video in one stream (mediadevices
// would return a new random id on every call).
func (t *sendTrack) StreamID() string { return t.stream }

// Kind is the inner track's kind.
func (t *sendTrack) Kind() webrtc.RTPCodecType { return t.inner.Kind() }

// forceKeyFrame asks the encoder for a keyframe; it reports whether the track
// has an encoder that can (audio has none).
func (t *sendTrack) forceKeyFrame() bool {
	t.mu.Lock()
	kc := t.keyframer
	t.mu.Unlock()
	if kc == nil {
		return false
	}
	if err := kc.ForceKeyFrame(); err != nil {
		t.log.Debug("force keyframe failed", "track", t.id, "err", err)
		return false
	}
	return true
}

// close closes the inner track (and its source). Call it only after Unbind.
func (t *sendTrack) close() error {
	if err := t.inner.Close(); err != nil {
		return fmt.Errorf("close %s track: %w", t.id, err)
	}
	return nil
}

// bindContext hands mediadevices the wrapping writer.
type bindContext struct {
	webrtc.TrackLocalContext
	w webrtc.TrackLocalWriter
}

// WriteStream returns the wrapping writer.
func (c *bindContext) WriteStream() webrtc.TrackLocalWriter { return c.w }

// sendWriter is the writer of one binding; mediadevices calls it from one goroutine.
type sendWriter struct {
	t        *sendTrack
	next     webrtc.TrackLocalWriter
	pt       map[uint8]uint8 // encoder payload type -> negotiated payload type
	seqShift uint16          // packets dropped by the pause so far
	srtpUp   bool            // a packet has gone out through SRTP
	wasDrop  bool            // pion dropped a packet before SRTP was up
	errLog   bool            // the first write error was logged
}

// WriteRTP writes one packet, or drops it while paused. It never returns an error.
func (w *sendWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.t.writes.Add(1)
	if w.t.paused.Load() {
		w.seqShift++
		w.t.dropped.Add(1)
		return len(payload), nil
	}
	hdr := *h
	hdr.SequenceNumber -= w.seqShift
	if pt, ok := w.pt[hdr.PayloadType]; ok {
		hdr.PayloadType = pt
	}
	n, err := w.next.WriteRTP(&hdr, payload)
	switch {
	case err != nil:
		w.t.writeErrs.Add(1)
		if !w.errLog {
			w.errLog = true
			w.t.log.Debug("RTP write failed; dropping until unbound", "track", w.t.id, "err", err)
		}
	case n == 0 && !w.srtpUp:
		// pion drops packets until SRTP is ready and reports 0 bytes written.
		w.wasDrop = true
	case n > 0:
		w.t.sent.Add(1)
		if !w.srtpUp {
			w.srtpUp = true
			if w.wasDrop && w.t.forceKeyFrame() {
				w.t.log.Debug("SRTP up: forced a keyframe", "track", w.t.id)
			}
		}
	}
	return len(payload), nil
}

// Write writes one marshalled RTP packet through WriteRTP.
func (w *sendWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		w.t.writeErrs.Add(1)
		return len(b), nil
	}
	if _, err := w.WriteRTP(&p.Header, p.Payload); err != nil {
		return 0, err
	}
	return len(b), nil
}
