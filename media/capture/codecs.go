package capture

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/opus"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/capture/x264"
)

// Codec preferences accepted by NewCodecSelector and Options.Codec.
const (
	CodecAuto = "auto" // H.264, then VP8
	CodecH264 = "h264" // H.264 only
	CodecVP8  = "vp8"  // VP8 only
)

// Encoder settings.
const (
	// KeyFrameInterval is the maximum distance between keyframes, in frames. Receivers also get
	// a keyframe on every PLI/FIR.
	KeyFrameInterval = 60
	// OpusBitrate is the Opus target bitrate in bit/s.
	OpusBitrate = 48000
	// minVideoBitrate bounds the computed default bitrate for small frames.
	minVideoBitrate = 300_000
	// maxDefaultVideoBitrate bounds the computed default bitrate for large frames.
	maxDefaultVideoBitrate = 4_000_000
)

// DefaultVideoBitrate returns the video bitrate used when Options.VideoBitrate is 0: 2 Mbit/s for
// 1280x720 at 30 fps, scaled with the pixel rate and kept within [300 kbit/s, 4 Mbit/s].
func DefaultVideoBitrate(width, height, fps int) int {
	if width <= 0 || height <= 0 || fps <= 0 {
		return 2_000_000
	}
	b := int(int64(2_000_000) * int64(width) * int64(height) * int64(fps) / (1280 * 720 * 30))
	return min(max(b, minVideoBitrate), maxDefaultVideoBitrate)
}

// videoFeedback is the RTCP feedback offered for video: PLI and FIR, so the remote can ask for a
// keyframe (the encoders answer both), and NACK for retransmission. mediadevices' own codec
// descriptions offer none, and a remote that may not send PLI waits up to KeyFrameInterval
// frames for a picture after a loss. pion's interceptor set-up (RegisterDefaultInterceptors,
// ConfigureTWCCSender) adds its own feedback types to the codecs registered before it runs,
// without duplicates.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
}

// videoBuilder is a mediadevices video encoder builder whose RTP codec description carries the
// RTCP feedback above.
type videoBuilder struct {
	inner codec.VideoEncoderBuilder
	rtp   *codec.RTPCodec
	warm  *warmEncoder // set by Open before any binding; nil: none
}

func newVideoBuilder(inner codec.VideoEncoderBuilder) *videoBuilder {
	c := *inner.RTPCodec()
	c.RTCPFeedback = append([]webrtc.RTCPFeedback(nil), videoFeedback...)
	return &videoBuilder{inner: inner, rtp: &c}
}

// RTPCodec describes the codec for SDP and packetization.
func (b *videoBuilder) RTPCodec() *codec.RTPCodec { return b.rtp }

// BuildVideoEncoder hands over the encoder built ahead (warm.go) when it
// suits r's format p, and else builds the wrapped encoder.
func (b *videoBuilder) BuildVideoEncoder(r video.Reader, p prop.Media) (codec.ReadCloser, error) {
	if enc := b.warm.take(r, p); enc != nil {
		return enc, nil
	}
	return b.inner.BuildVideoEncoder(r, p)
}

// NewCodecSelector returns the encoders for a codec preference (CodecAuto, CodecH264 or CodecVP8;
// "" means CodecAuto), set up for real-time calls from o's size, frame rate and bitrate:
//
//   - H.264: libx264 (media/capture/x264: mediadevices' set-up, with x264's log in o.Logger
//     instead of on stderr), preset ultrafast with tune zerolatency (no B-frames, no
//     lookahead; the stream is Constrained Baseline, matching the profile-level-id 42e01f that
//     is offered), SPS/PPS repeated on every IDR, an IDR at least every KeyFrameInterval frames;
//   - VP8: libvpx in real-time mode, CBR, no lag frames, a keyframe every KeyFrameInterval;
//   - Opus: 20 ms frames at OpusBitrate.
//
// Call Populate on the result with the peer connection's MediaEngine (before creating the peer
// connection, and before registering interceptors) so the offer lists exactly these codecs in
// preference order, with NACK, PLI and FIR feedback for video. Register no other codecs with the
// same payload types (H.264 125, VP8 96, Opus 111): the encoders packetize with these.
func NewCodecSelector(codecPref string, o Options) (*mediadevices.CodecSelector, error) {
	sel, _, err := newCodecSelector(codecPref, o)
	return sel, err
}

// newCodecSelector is NewCodecSelector that also returns the video builders,
// in preference order.
func newCodecSelector(codecPref string, o Options) (*mediadevices.CodecSelector, []*videoBuilder, error) {
	o = o.withDefaults()
	var names []string
	switch strings.ToLower(codecPref) {
	case "", CodecAuto:
		names = []string{CodecH264, CodecVP8}
	case CodecH264:
		names = []string{CodecH264}
	case CodecVP8:
		names = []string{CodecVP8}
	default:
		return nil, nil, fmt.Errorf("capture: unknown codec %q (want auto, h264 or vp8)", codecPref)
	}
	builders, err := videoEncoders(names, o)
	if err != nil {
		return nil, nil, err
	}
	encoders := make([]codec.VideoEncoderBuilder, len(builders))
	for i, b := range builders {
		encoders[i] = b
	}
	op, err := opus.NewParams()
	if err != nil {
		return nil, nil, fmt.Errorf("capture: opus params: %w", err)
	}
	op.BitRate = OpusBitrate
	op.Latency = opus.Latency20ms
	return mediadevices.NewCodecSelector(
		mediadevices.WithVideoEncoders(encoders...),
		mediadevices.WithAudioEncoders(&op),
	), builders, nil
}

// videoEncoders returns the encoder builders for codec names (CodecH264, CodecVP8) in order.
func videoEncoders(names []string, o Options) ([]*videoBuilder, error) {
	var out []*videoBuilder
	for _, name := range names {
		switch name {
		case CodecH264:
			p, err := x264.NewParams()
			if err != nil {
				return nil, fmt.Errorf("capture: x264 params: %w", err)
			}
			p.Preset = x264.PresetUltrafast
			p.KeyFrameInterval = KeyFrameInterval
			p.BitRate = o.VideoBitrate
			// x264's warnings and errors must not vanish with a nil Logger.
			p.Logger = o.Logger
			if p.Logger == nil {
				p.Logger = slog.Default()
			}
			out = append(out, newVideoBuilder(&p))
		case CodecVP8:
			p, err := vpx.NewVP8Params()
			if err != nil {
				return nil, fmt.Errorf("capture: vp8 params: %w", err)
			}
			p.KeyFrameInterval = KeyFrameInterval
			p.BitRate = o.VideoBitrate
			p.RateControlEndUsage = vpx.RateControlCBR
			p.LagInFrames = 0
			// libwebrtc's real-time VP8 settings.
			p.RateControlUndershootPercent = 100
			p.RateControlOvershootPercent = 15
			p.RateControlMinQuantizer = 2
			p.RateControlMaxQuantizer = 56
			out = append(out, newVideoBuilder(&p))
		}
	}
	return out, nil
}
