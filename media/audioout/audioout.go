// Package audioout plays decoded call audio on the default audio output with malgo
// (miniaudio). Without a usable output device a Player discards the audio instead of failing
// the call.
package audioout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// Buffering and metering constants.
const (
	// BufferMillis is the capacity of the ring buffer between Write and the device. When it is
	// full, the oldest samples are dropped, so playback never lags by more than this.
	BufferMillis = 250
	// MinLevel is the level Level reports for silence, in dBFS.
	MinLevel = -100.0
	// levelTimeConstant is the time constant of Level's moving average, in seconds.
	levelTimeConstant = 0.3
	// DefaultSampleRate is used when Open is given a non-positive sample rate.
	DefaultSampleRate = 48000
)

// backendNull is miniaudio's null backend (a device that consumes audio in real time without
// hardware). malgo v0.11.24's BackendNull constant is off by one (it is ma_backend_custom).
const backendNull = malgo.Backend(14)

// realBackends are miniaudio's backends that reach real hardware: all but custom and null, so
// a machine without sound card is told apart from one with.
var realBackends = []malgo.Backend{
	malgo.BackendWasapi, malgo.BackendDsound, malgo.BackendWinmm, malgo.BackendCoreaudio,
	malgo.BackendSndio, malgo.BackendAudio4, malgo.BackendOss, malgo.BackendPulseaudio,
	malgo.BackendAlsa, malgo.BackendJack, malgo.BackendAaudio, malgo.BackendOpensl,
	malgo.BackendWebaudio,
}

// loggedNoDevice makes the "no audio output" warning appear once per process; later Players
// log it at debug level, so that QA runs of many calls do not repeat it.
var loggedNoDevice atomic.Bool

// Stats counts audio frames (one sample per channel) through a Player.
type Stats struct {
	Written  uint64 // frames given to Write
	Played   uint64 // frames the device took from the buffer
	Dropped  uint64 // frames dropped: buffer overflow, or no device
	Underrun uint64 // frames of silence the device played because the buffer was empty
}

// Player plays 16-bit interleaved PCM. Its methods are safe for concurrent use.
type Player struct {
	rate, channels int
	logger         *slog.Logger

	mu      sync.Mutex
	ring    []int16 // capacity BufferMillis of samples
	head    int     // index of the oldest sample
	count   int     // samples buffered
	closed  bool
	written uint64
	played  uint64
	dropped uint64
	under   uint64

	meanSquare atomic.Uint64 // float64 bits: moving mean square of what is played, full scale 1

	ctx *malgo.AllocatedContext
	dev *malgo.Device

	closeOnce sync.Once
}

// Open starts playback on the default output device at sampleRate Hz with channels channels
// (1 or 2; other values are clamped, a non-positive rate means DefaultSampleRate). When there is
// no usable device it returns a Player that discards what is written, and logs "no audio
// output: ..." once; it never fails the call, so the error is always nil. A nil logger means
// slog.Default().
func Open(sampleRate, channels int, logger *slog.Logger) (*Player, error) {
	backends, err := linuxBackends()
	if err != nil {
		return discarding(sampleRate, channels, logger, err), nil
	}
	return open(backends, sampleRate, channels, logger), nil
}

// OpenNull starts playback on miniaudio's null device, which consumes audio in real time without
// hardware: the real device path (callbacks pulling from the buffer) for tests and QA on
// machines without a sound card.
func OpenNull(sampleRate, channels int, logger *slog.Logger) (*Player, error) {
	p := open([]malgo.Backend{backendNull}, sampleRate, channels, logger)
	if !p.Available() {
		p.Close()
		return nil, errors.New("audioout: miniaudio's null device did not start")
	}
	return p, nil
}

func open(backends []malgo.Backend, sampleRate, channels int, logger *slog.Logger) *Player {
	p := newPlayer(sampleRate, channels, logger)
	if err := p.start(backends); err != nil {
		p.logNoDevice(err)
	}
	return p
}

// discarding returns a Player without device, after logging why.
func discarding(sampleRate, channels int, logger *slog.Logger, why error) *Player {
	p := newPlayer(sampleRate, channels, logger)
	p.logNoDevice(why)
	return p
}

func newPlayer(sampleRate, channels int, logger *slog.Logger) *Player {
	if logger == nil {
		logger = slog.Default()
	}
	if sampleRate <= 0 {
		sampleRate = DefaultSampleRate
	}
	channels = min(max(channels, 1), 2)
	return &Player{
		rate:     sampleRate,
		channels: channels,
		logger:   logger,
		ring:     make([]int16, sampleRate*BufferMillis/1000*channels),
	}
}

// logNoDevice logs that audio is discarded: a warning the first time in the process, then at
// debug level.
func (p *Player) logNoDevice(err error) {
	level := slog.LevelWarn
	if loggedNoDevice.Swap(true) {
		level = slog.LevelDebug
	}
	p.logger.Log(context.Background(), level, "no audio output: discarding the call's audio", "err", err)
}

func (p *Player) start(backends []malgo.Backend) error {
	ctx, err := malgo.InitContext(backends, malgo.ContextConfig{}, nil)
	if err != nil {
		return fmt.Errorf("audio context: %w", err)
	}
	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatS16
	cfg.Playback.Channels = uint32(p.channels)
	cfg.SampleRate = uint32(p.rate)
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: p.pull})
	if err != nil {
		freeContext(ctx)
		return fmt.Errorf("open output device: %w", err)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		freeContext(ctx)
		return fmt.Errorf("start output device: %w", err)
	}
	p.ctx, p.dev = ctx, dev
	return nil
}

func freeContext(ctx *malgo.AllocatedContext) {
	_ = ctx.Uninit() // only fails for a nil context
	ctx.Free()
}

// Available reports whether audio reaches an output device (false: it is discarded).
func (p *Player) Available() bool { return p.dev != nil }

// SampleRate returns the sample rate the Player expects.
func (p *Player) SampleRate() int { return p.rate }

// Channels returns the number of interleaved channels the Player expects.
func (p *Player) Channels() int { return p.channels }

// Write queues interleaved samples for playback without blocking. A trailing partial frame is
// ignored. When the buffer is full the oldest samples are dropped. After Close, or without a
// device, the samples are discarded (and still metered when there is no device).
func (p *Player) Write(pcm []int16) {
	pcm = pcm[:len(pcm)-len(pcm)%p.channels]
	if len(pcm) == 0 {
		return
	}
	frames := uint64(len(pcm) / p.channels)
	if p.dev == nil {
		p.meter(pcm)
		p.mu.Lock()
		p.written += frames
		p.dropped += frames
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written += frames
	if p.closed {
		p.dropped += frames
		return
	}
	p.push(pcm)
}

// push appends whole frames to the ring buffer, dropping the oldest on overflow. p.mu is held.
func (p *Player) push(pcm []int16) {
	size := len(p.ring)
	if len(pcm) > size {
		p.dropped += uint64((len(pcm) - size) / p.channels)
		pcm = pcm[len(pcm)-size:]
	}
	if over := p.count + len(pcm) - size; over > 0 {
		p.head = (p.head + over) % size
		p.count -= over
		p.dropped += uint64(over / p.channels)
	}
	tail := (p.head + p.count) % size
	n := copy(p.ring[tail:], pcm)
	copy(p.ring, pcm[n:])
	p.count += len(pcm)
}

// take moves up to len(dst) buffered samples into dst and returns how many. p.mu is held.
func (p *Player) take(dst []int16) int {
	n := min(len(dst), p.count)
	size := len(p.ring)
	first := copy(dst[:n], p.ring[p.head:min(p.head+n, size)])
	copy(dst[first:n], p.ring[:n-first])
	p.head = (p.head + n) % size
	p.count -= n
	return n
}

// pull is the device's data callback: it fills out (interleaved native-endian int16) from the
// buffer, and with silence where the buffer runs dry. The frame count is len(out) in frames.
func (p *Player) pull(out, _ []byte, _ uint32) {
	if len(out) < 2 {
		return
	}
	dst := unsafe.Slice((*int16)(unsafe.Pointer(&out[0])), len(out)/2)
	p.mu.Lock()
	n := p.take(dst)
	p.played += uint64(n / p.channels)
	p.under += uint64((len(dst) - n) / p.channels)
	p.mu.Unlock()
	clear(dst[n:])
	p.meter(dst)
}

// meter folds a block of samples into the moving mean square.
func (p *Player) meter(pcm []int16) {
	var sum float64
	for _, s := range pcm {
		v := float64(s) / 32768
		sum += v * v
	}
	block := sum / float64(len(pcm))
	alpha := 1 - math.Exp(-float64(len(pcm)/p.channels)/(levelTimeConstant*float64(p.rate)))
	for {
		old := p.meanSquare.Load()
		ms := math.Float64frombits(old)
		ms += alpha * (block - ms)
		if p.meanSquare.CompareAndSwap(old, math.Float64bits(ms)) {
			return
		}
	}
}

// Level returns the RMS level of the recent audio (a moving average over about 0.3 s), in dBFS
// where a full-scale square wave is 0 dBFS and a full-scale sine -3 dBFS; silence is MinLevel.
// With a device it measures what the device played, without one what was written.
func (p *Player) Level() float64 {
	ms := math.Float64frombits(p.meanSquare.Load())
	if ms <= 0 {
		return MinLevel
	}
	return max(10*math.Log10(ms), MinLevel)
}

// Stats returns the frame counters.
func (p *Player) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Written: p.written, Played: p.played, Dropped: p.dropped, Underrun: p.under}
}

// Close stops playback and releases the device and the audio context. It is idempotent.
func (p *Player) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		if p.dev != nil {
			// Uninit stops the device and waits for its callback; pull must not be waiting
			// for p.mu here, so the lock is not held.
			p.dev.Uninit()
			freeContext(p.ctx)
		}
	})
	return nil
}
