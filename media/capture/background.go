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

// bindLater runs the inner Bind of b, offered only the codec Bind returned
// to pion, on its own goroutine. A failed build leaves the binding without
// video and says so in the log.
func (t *SendTrack) bindLater(b *binding, bc *bindContext) {
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
}

// pick returns the codec mediadevices' Bind would pick from codecs: the first
// one an encoder of the track produces, matched as mediadevices matches it
// (the encoder's MIME type ends with the codec's, in any case).
func (t *SendTrack) pick(codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, error) {
	for _, c := range codecs {
		if t.encodes(strings.ToLower(c.MimeType)) {
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s track: no encoder for the negotiated codecs", t.id)
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
