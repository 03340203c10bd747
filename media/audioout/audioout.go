// Package audioout plays decoded call audio on an audio output with malgo (miniaudio): the
// default one, or one picked from ListDevices. Without a usable output a Player discards the
// audio instead of failing the call, and when its output disappears mid-call it says so
// (OnDeviceLost) and goes on discarding.
package audioout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gen2brain/malgo"

	"github.com/kvsviewer/kvsviewer/media/internal/sounddev"
)

// Buffering and metering constants.
const (
	// BufferMillis is the capacity of the ring buffer between Write and the device. When it is
	// full, the oldest samples are dropped, so playback never lags by more than this.
	BufferMillis = 250
	// CushionMillis is how much audio the buffer gathers before playing starts, and again after
	// it ran dry: a writer that is a few milliseconds late (packets arrive in 20 ms bursts, with
	// jitter) then costs nothing, where playing every sample at once would make a gap each time.
	CushionMillis = 60
	// MinLevel is the level Level reports for silence, in dBFS.
	MinLevel = -100.0
	// levelTimeConstant is the time constant of Level's moving average, in seconds.
	levelTimeConstant = 0.3
	// DefaultSampleRate is used when Open is given a non-positive sample rate.
	DefaultSampleRate = 48000
)

// The device's buffer: 4 periods of 20 ms, which the sound server holds for the stream. A data
// callback that runs late (a loaded machine, a garbage collection) is then no drop-out;
// miniaudio's default, 3 periods of 10 ms, left the null sink 250 ms of silence once in a test
// run beside a build while the Player's own buffer was full.
const (
	devicePeriodMillis = 20
	devicePeriods      = 4
)

// How a Player watches its device: every watchInterval it checks the device is still there
// (PulseAudio) and that the device took audio within stallLimit.
const (
	watchInterval = 250 * time.Millisecond
	stallLimit    = 2 * time.Second
)

// loggedNoDevice makes the "no audio output" warning appear once per process; later Players
// log it at debug level, so that QA runs of many calls do not repeat it.
var loggedNoDevice atomic.Bool

// Stats counts audio frames (one sample per channel) through a Player.
type Stats struct {
	Written  uint64 // frames given to Write
	Played   uint64 // frames the device took from the buffer
	Dropped  uint64 // frames dropped: buffer overflow, or no device
	Underrun uint64 // frames of silence the device played because the buffer was empty
	// Starved counts the times the buffer ran dry while playing (each one a drop-out heard,
	// at least CushionMillis long).
	Starved uint64
}

// Options are OpenWith's choices.
type Options struct {
	// Device is the ID (or Name) of the output from ListDevices; "" means the default one.
	// When it is not there the Player plays on the default output and says so in Notes.
	Device string
	// Logger gets the Player's messages; nil means slog.Default().
	Logger *slog.Logger
}

// Player plays 16-bit interleaved PCM. Its methods are safe for concurrent use.
type Player struct {
	rate, channels int
	logger         *slog.Logger
	notes          []string // set by Open

	mu      sync.Mutex
	ring    []int16 // capacity BufferMillis of samples
	head    int     // index of the oldest sample
	count   int     // samples buffered
	closed  bool
	written uint64
	played  uint64
	dropped uint64
	under   uint64
	starved uint64
	playing bool // the cushion was reached; false at start and after the buffer ran dry
	onLost  func(error)
	lostErr error

	meanSquare atomic.Uint64 // float64 bits: moving mean square of what is played, full scale 1

	live   atomic.Bool // audio reaches the device
	device string      // the device's name, when there is one
	sctx   *sounddev.Context
	stream *sounddev.Stream
	watch  *sounddev.Watch

	closeOnce sync.Once
}

// Open starts playback on the default output at sampleRate Hz with channels channels (1 or 2;
// other values are clamped, a non-positive rate means DefaultSampleRate). When there is no
// usable output it returns a Player that discards what is written, and logs "no audio output:
// ..." once; it never fails the call, so the error is always nil. A nil logger means
// slog.Default().
func Open(sampleRate, channels int, logger *slog.Logger) (*Player, error) {
	return OpenWith(sampleRate, channels, Options{Logger: logger})
}

// OpenWith is Open on the output o.Device picks. Like Open it never fails: without the
// output it plays on the default one, without any output it discards; Notes says which.
func OpenWith(sampleRate, channels int, o Options) (*Player, error) {
	backends, err := sounddev.Backends()
	if err != nil {
		return discarding(sampleRate, channels, o.Logger, err), nil
	}
	return open(backends, sampleRate, channels, o), nil
}

// OpenNull starts playback on miniaudio's null device, which consumes audio in real time without
// hardware: the real device path (callbacks pulling from the buffer) for tests and QA on
// machines without a sound card.
func OpenNull(sampleRate, channels int, logger *slog.Logger) (*Player, error) {
	p := open([]malgo.Backend{sounddev.BackendNull}, sampleRate, channels, Options{Logger: logger})
	if !p.Available() {
		p.Close()
		return nil, errors.New("audioout: miniaudio's null device did not start")
	}
	return p, nil
}

func open(backends []malgo.Backend, sampleRate, channels int, o Options) *Player {
	p := newPlayer(sampleRate, channels, o.Logger)
	if err := p.start(backends, o.Device); err != nil {
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
	p.notes = append(p.notes, "no audio output: the call's audio is not played ("+err.Error()+")")
	p.logger.Log(context.Background(), level, "no audio output: discarding the call's audio", "err", err)
}

// start opens the output want ("" = the default) on the first of backends that works, and
// watches it.
func (p *Player) start(backends []malgo.Backend, want string) error {
	sctx, err := sounddev.Open(backends)
	if err != nil {
		return err
	}
	dev := p.pick(sctx, want)
	stream, err := sctx.Start(sounddev.Config{Kind: malgo.Playback, Device: dev, Channels: p.channels, Rate: p.rate, Data: p.pull,
		PeriodMillis: devicePeriodMillis, Periods: devicePeriods, Name: "call audio"})
	if err != nil {
		sctx.Close()
		return err
	}
	p.sctx, p.stream = sctx, stream
	id := ""
	if dev != nil {
		id, p.device = dev.ID, dev.Name
	}
	p.live.Store(true)
	p.watch = sctx.Watch(stream, malgo.Playback, id, watchInterval, stallLimit, p.lost)
	return nil
}

// pick finds the output want names, else the default; nil means the backend's default
// (a backend that lists nothing, like the null one).
func (p *Player) pick(sctx *sounddev.Context, want string) *sounddev.Device {
	d, err := sctx.Find(malgo.Playback, want, false)
	if err == nil {
		return &d
	}
	if want == "" {
		return nil
	}
	d, derr := sctx.Find(malgo.Playback, "", false)
	if derr != nil {
		p.notes = append(p.notes, fmt.Sprintf("audio output %q not found: playing on the default output", want))
		return nil
	}
	p.notes = append(p.notes, fmt.Sprintf("audio output %q not found: playing on %q", want, d.Name))
	p.logger.Info("audio output not found: playing on the default", "want", want, "device", d.Name, "err", err)
	return &d
}

// Notes are remarks for the user about the output chosen at Open, e.g. "audio output "X" not
// found: playing on "Y"", or that there is none and the audio is not played.
func (p *Player) Notes() []string { return append([]string(nil), p.notes...) }

// Device is the name of the output the Player plays on ("" when it discards, or when the
// backend does not name its default).
func (p *Player) Device() string {
	if !p.live.Load() {
		return ""
	}
	return p.device
}

// Delay is how long audio written now waits in the buffer before the device takes it (the
// device's own latency not included): for a playout time, add it to the time of a Write.
func (p *Player) Delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(p.count/p.channels) * time.Second / time.Duration(p.rate)
}

// Available reports whether audio reaches an output device (false: it is discarded, because
// there is none or it went away).
func (p *Player) Available() bool { return p.live.Load() }

// SampleRate returns the sample rate the Player expects.
func (p *Player) SampleRate() int { return p.rate }

// Channels returns the number of interleaved channels the Player expects.
func (p *Player) Channels() int { return p.channels }

// Close stops playback and releases the device and the audio context. It is idempotent.
func (p *Player) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		if p.stream != nil {
			p.watch.Stop() // after it, lostErr no longer changes
			p.live.Store(false)
			if p.Lost() != nil {
				return // abandoned: see lost
			}
			// Stream.Close stops the device and waits for its callback; pull must not be
			// waiting for p.mu here, so the lock is not held.
			p.stream.Close()
			p.sctx.Close()
		}
	})
	return nil
}
