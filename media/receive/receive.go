// Package receive turns a remote WebRTC track into decoded media: RTP ->
// frames (the assembler, a jitter buffer) -> decode -> a sink.FrameSink for
// video, RTP -> Opus -> PCM for audio.
package receive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// Stats are a track's receive counters, updated atomically by Video or Audio
// and readable concurrently.
type Stats struct {
	// Packets and Bytes count RTP packets and their payload bytes.
	Packets, Bytes atomic.Uint64
	// Lost counts packets missing from the sequence (reordered packets that
	// show up later are taken back off).
	Lost atomic.Uint64
	// PLIs counts picture loss indications sent (video).
	PLIs atomic.Uint64
	// DecodeErrors counts frames or packets the decoder rejected.
	DecodeErrors atomic.Uint64
	// Frames counts decoded video frames or audio packets.
	Frames atomic.Uint64
	// Skipped counts video frames dropped while waiting for a keyframe.
	Skipped atomic.Uint64
	// Decoder is the Serial of the track's decoder once it is open: a new
	// call's tracks are decoded by new decoders, and this tells them apart.
	Decoder atomic.Uint64

	level atomic.Uint64 // math.Float64bits of the last audio level
}

// LevelDBFS is the RMS level of the last decoded audio packet in dBFS
// (-120 for silence or before any audio).
func (s *Stats) LevelDBFS() float64 {
	v := s.level.Load()
	if v == 0 {
		return silenceDBFS
	}
	return math.Float64frombits(v)
}

const silenceDBFS = -120

// trackStats is st (a new Stats when nil) with the serial of the track's
// decoder.
func trackStats(st *Stats, decoder uint64) *Stats {
	if st == nil {
		st = &Stats{}
	}
	st.Decoder.Store(decoder)
	return st
}

// VideoOptions configures Video.
type VideoOptions struct {
	// Sink receives decoded frames; required.
	Sink sink.FrameSink
	// SendPLI writes an RTCP PictureLossIndication for the track's SSRC. Optional.
	SendPLI func() error
	// Logger gets debug details; nil discards them.
	Logger *slog.Logger
	// OnFirstRTP and OnFirstFrame, when set, are called once with the time the
	// first RTP packet arrived and the first frame was decoded; OnFirstFrame
	// runs after that frame was put into the sink.
	OnFirstRTP, OnFirstFrame func(time.Time)
	// Stats, when set, is updated as packets and frames come in.
	Stats *Stats
	// PLIInterval is the least time between two PLIs (default 500 ms).
	PLIInterval time.Duration
	// MaxWidth and MaxHeight cap the picture size the decoder accepts
	// (default, when 0: decode.DefaultMaxWidth x decode.DefaultMaxHeight).
	MaxWidth, MaxHeight int
}

const readBufferSize = 1 << 16

// sample is a frame handed from readVideo to the decoder loop.
type sample struct {
	data      []byte
	timestamp uint32    // RTP timestamp
	received  time.Time // when its last packet arrived
	gap       bool      // frames were lost before this one
}

// Video receives, decodes and sinks a video track. It asks for a keyframe
// (PLI) when the track starts, when frames were lost and when decoding fails,
// at most once per PLIInterval, and drops frames until a keyframe arrives.
// It blocks until the track ends or ctx is done, and returns nil then.
//
// A stream whose pictures are larger than the cap (MaxWidth x MaxHeight) is
// not decoded further: Video stops reading the track and returns an error
// wrapping the decoder's *decode.SizeError (decode.ErrPictureTooLarge),
// which holds the stream's size and the cap for telling the user.
func Video(ctx context.Context, track *webrtc.TrackRemote, o VideoOptions) error {
	if o.Sink == nil {
		return errors.New("receive: video: no sink")
	}
	mime := track.Codec().MimeType
	c, err := decode.CodecFromMime(mime)
	if err != nil {
		return fmt.Errorf("receive: video track %s: %w", track.ID(), err)
	}
	maxW, maxH := o.MaxWidth, o.MaxHeight
	if maxW <= 0 {
		maxW = decode.DefaultMaxWidth
	}
	if maxH <= 0 {
		maxH = decode.DefaultMaxHeight
	}
	dec, err := decode.NewVideoDecoderMax(c, maxW, maxH)
	if err != nil {
		return fmt.Errorf("receive: video track %s: %w", track.ID(), err)
	}
	defer dec.Close()
	o.Stats = trackStats(o.Stats, dec.Serial())
	log := logger(o.Logger).With("track", track.ID(), "ssrc", uint32(track.SSRC()), "codec", string(c))
	interval := o.PLIInterval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	p := &pli{send: o.SendPLI, interval: interval, stats: o.Stats, log: log}
	p.request("track started")
	drops, _ := o.Sink.(sink.DropCounter)
	v := &videoDecoder{dec: dec, codec: c, o: o, pli: p, log: log, drops: drops}

	samples := make(chan sample, 4)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(samples)
		readErr <- readVideo(rctx, track, c, o, samples)
	}()
	for it := range samples {
		if err := v.decode(it); err != nil {
			cancel() // stops readVideo, which then closes samples
			for range samples {
			}
			if rerr := <-readErr; rerr != nil {
				log.Debug("reading the track after stopping", "err", rerr)
			}
			return fmt.Errorf("receive: video track %s: %w", track.ID(), err)
		}
	}
	return <-readErr
}

// videoDecoder is Video's decoding side: it decodes the samples readVideo
// hands over, puts the pictures into the sink and asks for keyframes.
type videoDecoder struct {
	dec   *decode.VideoDecoder
	codec decode.Codec
	o     VideoOptions
	pli   *pli
	log   *slog.Logger
	drops sink.DropCounter // the sink's, when it counts drops; else nil
	seq   uint64           // frames put into the sink
}

// decode decodes one sample into the sink, or counts why it could not. It
// returns an error only when the stream cannot be decoded at all (its
// pictures are too large).
func (v *videoDecoder) decode(it sample) error {
	if it.gap {
		v.dec.Reset()
		v.dropped()
		v.pli.request("frames lost")
	}
	img, err := v.dec.DecodePicture(it.data)
	switch {
	case errors.Is(err, decode.ErrNeedKeyframe):
		v.o.Stats.Skipped.Add(1)
		v.dropped()
		v.pli.request("waiting for keyframe")
	case errors.Is(err, decode.ErrPictureTooLarge):
		// Every keyframe will be as large: asking for another is pointless.
		v.o.Stats.DecodeErrors.Add(1)
		v.dropped()
		v.log.Debug("video too large to decode; not decoding this track", "err", err)
		return err
	case err != nil:
		v.o.Stats.DecodeErrors.Add(1)
		v.dropped()
		v.log.Debug("video decode failed", "err", err, "bytes", len(it.data))
		v.pli.request("decode error")
	case img != nil:
		now := time.Now()
		v.seq++
		v.o.Stats.Frames.Add(1)
		v.o.Sink.PutFrame(sink.Frame{
			Image: img, Width: img.Rect.Dx(), Height: img.Rect.Dy(), Codec: string(v.codec),
			RTPTimestamp: it.timestamp, Received: it.received, Decoded: now, Seq: v.seq,
		})
		if v.seq == 1 {
			// After PutFrame: when the hook runs, the sink already holds the frame.
			v.log.Debug("first video frame", "width", img.Rect.Dx(), "height", img.Rect.Dy())
			if v.o.OnFirstFrame != nil {
				v.o.OnFirstFrame(now)
			}
		}
	}
	return nil
}

// dropped counts a frame that did not reach the sink, when the sink counts them.
func (v *videoDecoder) dropped() {
	if v.drops != nil {
		v.drops.CountDropped(1)
	}
}

// readVideo reads RTP, puts the packets together into frames and hands each
// to the decoder loop as soon as it is complete.
func readVideo(ctx context.Context, track *webrtc.TrackRemote, c decode.Codec, o VideoOptions, out chan<- sample) error {
	asm := newAssembler(c)
	return readRTP(ctx, track, o.Stats, o.OnFirstRTP, func(pkt *rtp.Packet) error {
		now := time.Now()
		for _, f := range asm.Push(pkt, now) {
			select {
			case out <- sample{data: f.data, timestamp: f.timestamp, received: now, gap: f.gap}:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
}

// readRTP calls handle for every RTP packet of track until the track ends or
// ctx is done (both return nil). Malformed packets are skipped.
func readRTP(ctx context.Context, track *webrtc.TrackRemote, st *Stats, onFirst func(time.Time), handle func(*rtp.Packet) error) error {
	stop := context.AfterFunc(ctx, func() { _ = track.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, readBufferSize)
	var (
		expect uint16
		seen   bool
	)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("receive: read track %s: %w", track.ID(), err)
		}
		pkt := &rtp.Packet{}
		if err := pkt.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			continue
		}
		if !seen && onFirst != nil {
			onFirst(time.Now())
		}
		st.Packets.Add(1)
		st.Bytes.Add(uint64(len(pkt.Payload)))
		if seen {
			switch d := pkt.SequenceNumber - expect; {
			case d == 0:
			case d < 0x8000: // ahead: d packets missing
				st.Lost.Add(uint64(d))
			default: // behind: a late packet we had counted as lost
				if lost := st.Lost.Load(); lost > 0 {
					st.Lost.CompareAndSwap(lost, lost-1)
				}
			}
		}
		if !seen || pkt.SequenceNumber-expect < 0x8000 {
			expect = pkt.SequenceNumber + 1
		}
		seen = true
		if err := handle(pkt); err != nil {
			return err
		}
	}
}

// pli rate-limits keyframe requests. It is used by one goroutine.
type pli struct {
	send     func() error
	interval time.Duration
	last     time.Time
	stats    *Stats
	log      *slog.Logger
}

func (p *pli) request(reason string) {
	if p.send == nil {
		return
	}
	now := time.Now()
	if !p.last.IsZero() && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	if err := p.send(); err != nil {
		p.log.Debug("send PLI failed", "reason", reason, "err", err)
		return
	}
	p.stats.PLIs.Add(1)
	p.log.Debug("sent PLI", "reason", reason)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
