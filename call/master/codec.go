package master

import (
	"fmt"
	"strings"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/opus"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/codec/x264"
	"github.com/pion/webrtc/v4"
)

// selector is the encoder choice of a master: the mediadevices codec selector
// that builds the encoders, and the codecs registered with pion.
type selector struct {
	md *mediadevices.CodecSelector
	// encoders are the RTP codecs of the encoders, with mediadevices' payload types.
	encoders []webrtc.RTPCodecParameters
	// register are the codecs registered with pion, in preference order.
	register []webrtc.RTPCodecParameters
	kinds    []webrtc.RTPCodecType
}

// videoBitRate is the target bitrate of the test pattern for a frame size,
// about 0.1 bit per pixel at 30 fps.
func videoBitRate(w, h, fps int) int {
	return max(300_000, w*h*fps/10)
}

// feedback is the RTCP feedback offered for video: NACK, PLI and FIR.
var feedback = []webrtc.RTCPFeedback{
	{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
}

// newSelector builds the encoders of o.Codec. mediadevices registers its codecs
// without RTCP feedback, so the codecs registered with pion are built here
// with NACK and PLI; the payload types of the encoders' packets are rewritten
// to the negotiated ones by the sendTrack writer.
func newSelector(o Options) (*selector, error) {
	rate := videoBitRate(o.Width, o.Height, o.FPS)
	h264, err := x264.NewParams()
	if err != nil {
		return nil, fmt.Errorf("x264 parameters: %w", err)
	}
	h264.BitRate = rate
	h264.KeyFrameInterval = 2 * o.FPS
	h264.Preset = x264.PresetUltrafast
	vp8, err := vpx.NewVP8Params()
	if err != nil {
		return nil, fmt.Errorf("VP8 parameters: %w", err)
	}
	vp8.BitRate = rate
	vp8.KeyFrameInterval = 2 * o.FPS
	op, err := opus.NewParams()
	if err != nil {
		return nil, fmt.Errorf("opus parameters: %w", err)
	}

	var video []codec.VideoEncoderBuilder
	switch o.Codec {
	case CodecH264:
		video = []codec.VideoEncoderBuilder{&h264}
	case CodecVP8:
		video = []codec.VideoEncoderBuilder{&vp8}
	default:
		video = []codec.VideoEncoderBuilder{&h264, &vp8}
	}
	s := &selector{md: mediadevices.NewCodecSelector(
		mediadevices.WithVideoEncoders(video...),
		mediadevices.WithAudioEncoders(&op),
	)}
	for _, v := range video {
		p := v.RTPCodec().RTPCodecParameters
		s.encoders = append(s.encoders, p)
		p.RTCPFeedback = feedback
		s.register = append(s.register, p)
		s.kinds = append(s.kinds, webrtc.RTPCodecTypeVideo)
	}
	a := op.RTPCodec().RTPCodecParameters
	s.encoders = append(s.encoders, a)
	a.SDPFmtpLine = "minptime=10;useinbandfec=1"
	s.register = append(s.register, a)
	s.kinds = append(s.kinds, webrtc.RTPCodecTypeAudio)
	return s, nil
}

// populate registers the codecs with a pion media engine (rtc.Options.Populate).
func (s *selector) populate(me *webrtc.MediaEngine) error {
	for i, c := range s.register {
		if err := me.RegisterCodec(c, s.kinds[i]); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	return nil
}

// payloadTypeMap maps the payload type of each encoder to the negotiated
// payload type of the first negotiated codec of the same MIME type, which is
// the one mediadevices' Bind picks for that encoder.
func (s *selector) payloadTypeMap(negotiated []webrtc.RTPCodecParameters) map[uint8]uint8 {
	out := map[uint8]uint8{}
	for _, e := range s.encoders {
		for _, n := range negotiated {
			if strings.EqualFold(e.MimeType, n.MimeType) {
				out[uint8(e.PayloadType)] = uint8(n.PayloadType)
				break
			}
		}
	}
	return out
}
