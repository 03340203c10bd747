// Package rtpkey tells whether an RTP packet begins a video keyframe, from its
// payload alone: a sender can tell that the first packet it gets through is a
// picture the receiver can start from, and a receiver that it need not ask
// for one.
package rtpkey

import (
	"strings"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// H.264 NAL unit types (RFC 6184).
const (
	nalSPS   = 7
	nalSTAPA = 24
	nalFUA   = 28
)

// Starts reports whether payload, an RTP payload of codec mime (e.g.
// webrtc.MimeTypeH264), is the first packet of a keyframe: for H.264 a packet
// that carries the SPS sent before an IDR; for VP8 the start of a key frame's
// first partition. Other codecs, and malformed
// payloads, report false.
func Starts(mime string, payload []byte) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return startsH264(payload)
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		return startsVP8(payload)
	}
	return false
}

// startsH264 reports whether p carries an SPS, alone or aggregated: what an
// encoder sends first in a keyframe, and what a decoder must have before the
// IDR slices that follow. An IDR slice without it is not counted: the
// receiver could not start from it.
func startsH264(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case nalSTAPA:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 || i+2+size > len(p) {
				return false
			}
			if p[i+2]&0x1f == nalSPS {
				return true
			}
			i += 2 + size
		}
		return false
	case nalFUA:
		return p[1]&0x80 != 0 && p[1]&0x1f == nalSPS // the start fragment
	default:
		return t == nalSPS
	}
}

func startsVP8(p []byte) bool {
	var pkt codecs.VP8Packet
	body, err := pkt.Unmarshal(p)
	// RFC 7741: S with partition 0 starts a frame; frame tag bit 0 is 0 for a key frame.
	return err == nil && pkt.S == 1 && pkt.PID == 0 && len(body) > 0 && body[0]&1 == 0
}
