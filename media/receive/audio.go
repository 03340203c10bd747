package receive

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/decode"
)

// AudioOptions configures Audio.
type AudioOptions struct {
	// Out receives each decoded packet as interleaved PCM; it must not keep
	// pcm after returning. May be nil (decode for stats only).
	Out func(pcm []int16, sampleRate, channels int)
	// Logger gets debug details; nil discards them.
	Logger *slog.Logger
	// OnFirstRTP, when set, is called once with the first packet's arrival time.
	OnFirstRTP func(time.Time)
	// Stats, when set, is updated as packets come in (Frames counts decoded
	// packets; LevelDBFS gives the level).
	Stats *Stats
}

// AudioSampleRate is the rate Audio decodes Opus at.
const AudioSampleRate = 48000

// maxConcealed bounds how many lost packets in a row are concealed (PLC).
const maxConcealed = 3

// Audio receives and decodes an Opus track to 48 kHz PCM with the track's
// channel count (1 or 2). Lost packets (up to 3 in a row) are concealed.
// It blocks until the track ends or ctx is done, and returns nil then.
func Audio(ctx context.Context, track *webrtc.TrackRemote, o AudioOptions) error {
	if mime := track.Codec().MimeType; !strings.EqualFold(mime, webrtc.MimeTypeOpus) {
		return fmt.Errorf("receive: audio track %s: unsupported codec %q", track.ID(), mime)
	}
	channels := 1
	if track.Codec().Channels == 2 {
		channels = 2
	}
	dec, err := decode.NewOpusDecoder(AudioSampleRate, channels)
	if err != nil {
		return fmt.Errorf("receive: audio track %s: %w", track.ID(), err)
	}
	defer dec.Close()
	o.Stats = trackStats(o.Stats, dec.Serial())
	log := logger(o.Logger).With("track", track.ID(), "ssrc", uint32(track.SSRC()))
	pcm := make([]int16, AudioSampleRate*120/1000*channels) // the longest Opus packet
	var (
		next      uint16
		seen      bool
		lastFrame = AudioSampleRate / 50 * channels // 20 ms until we know better
	)
	emit := func(n int) {
		samples := pcm[:n*channels]
		o.Stats.level.Store(math.Float64bits(levelDBFS(samples)))
		if o.Out != nil {
			o.Out(samples, AudioSampleRate, channels)
		}
	}
	return readRTP(ctx, track, o.Stats, o.OnFirstRTP, func(pkt *rtp.Packet) error {
		if len(pkt.Payload) == 0 {
			return nil
		}
		if seen {
			gap := pkt.SequenceNumber - next
			if gap >= 0x8000 { // late packet: already concealed, drop it
				return nil
			}
			for range min(int(gap), maxConcealed) {
				if n, err := dec.Decode(nil, pcm[:lastFrame]); err == nil {
					emit(n)
				}
			}
		}
		next, seen = pkt.SequenceNumber+1, true
		n, err := dec.Decode(pkt.Payload, pcm)
		if err != nil {
			o.Stats.DecodeErrors.Add(1)
			log.Debug("opus decode failed", "err", err, "bytes", len(pkt.Payload))
			return nil
		}
		lastFrame = n * channels
		o.Stats.Frames.Add(1)
		emit(n)
		return nil
	})
}

// levelDBFS is the RMS level of pcm relative to full scale.
func levelDBFS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return silenceDBFS
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v)
		sum += f * f
	}
	rms := math.Sqrt(sum/float64(len(pcm))) / 32768
	if rms <= 1e-6 {
		return silenceDBFS
	}
	return 20 * math.Log10(rms)
}
