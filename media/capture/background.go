package capture

import (
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Binding a video track in the background. pion binds a send track inside
// SetRemoteDescription (the viewer, on the answer) or SetLocalDescription
// (the master's answer), and starts ICE and DTLS only after that.
// mediadevices' Bind builds the encoder there: it waits for the source's next
// frame to learn its format, then builds x264 or libvpx at that size, 10-30 ms
// on a busy 2-core machine and much more for a camera that is still starting.
// None of it is needed before SRTP is up, so a video SendTrack answers pion
// at once with the codec mediadevices will pick, and the encoder is built
// beside the ICE and DTLS handshakes. Its first picture is a keyframe, as
// every new encoder's is.

// bindInBackground registers b, returns the codec the inner Bind will use,
// and runs that Bind on a goroutine of its own, offering it only that codec.
// A failed build leaves the binding without video and says so in the log.
// The caller holds bindMu.
func (t *SendTrack) bindInBackground(b *binding, w *sendWriter) (webrtc.RTPCodecParameters, error) {
	params, ok := t.pick(b.ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s track: no encoder for the negotiated codecs", t.id)
	}
	t.mu.Lock()
	t.bindings[b.ctx.ID()] = b
	t.mu.Unlock()
	w.pt, w.mime = uint8(params.PayloadType), params.MimeType
	close(w.ready)
	bc := &bindContext{TrackLocalContext: b.ctx, w: w, codecs: []webrtc.RTPCodecParameters{params}}
	go func() {
		t.mu.Lock()
		closed := t.closed
		t.mu.Unlock()
		if closed { // Close came first and waits on b.bound: build nothing
			close(b.bound)
			return
		}
		if _, err := t.bindInner(b, bc); err != nil {
			t.log.Warn("the video encoder could not be started: this call sends no video", "track", t.id, "err", err)
		}
	}()
	return params, nil
}

// pick returns the codec mediadevices' Bind would pick from codecs: the first
// one an encoder of the track produces, matched as mediadevices matches it
// (the encoder's MIME type ends with the codec's, in any case).
func (t *SendTrack) pick(codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, c := range codecs {
		if t.encodes(strings.ToLower(c.MimeType)) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// producedBy returns the encodes function of a video SendTrack whose encoders
// are builders: whether one of them produces a codec MIME type (lower case).
func producedBy(builders []*videoBuilder) func(mime string) bool {
	return func(mime string) bool {
		for _, b := range builders {
			if strings.HasSuffix(strings.ToLower(b.RTPCodec().MimeType), mime) {
				return true
			}
		}
		return false
	}
}
