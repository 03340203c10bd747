package capture

// A microphone that stops delivering mid-call (unplugged, its PulseAudio source unloaded):
// the track sends silence instead of blocking, and the Local says so.

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/wave"
)

// MicStallLimit is how long the microphone may deliver nothing before it counts as lost: the
// track then sends silence, and OnMicLost's function hears of it. Much longer than a chunk
// (10-20 ms), so that a loaded machine's hiccup is no loss.
const MicStallLimit = time.Second

// micSilenceChunk is the length of the silent chunks sent for a lost microphone.
const micSilenceChunk = 20 * time.Millisecond

// micReleaseWait bounds the wait, at close, for the guard's read of the driver to return: a
// working microphone delivers a chunk every 10-20 ms.
const micReleaseWait = 250 * time.Millisecond

// micGuard stands between the microphone's driver and the encoder. mediadevices' malgo driver
// blocks its reader for ever when the device stops calling back, and with it the track's
// writer, so that unbinding the track (and the whole teardown) would hang. The guard reads the
// driver on a goroutine of its own (pump) and hands its chunks on; when none came for
// MicStallLimit it hands on silence, paced in real time, until the microphone delivers again.
//
// A microphone lost for good cannot be closed: the driver's Close waits in miniaudio's
// ma_device_uninit for more than 20 s (measured with an unloaded PulseAudio source), and it
// races with the read still waiting in the driver. Such a microphone is abandoned instead (see
// release): its driver, and the guard's goroutine blocked in it, stay until the process ends.
type micGuard struct {
	label string
	log   *slog.Logger

	startMu  sync.Mutex
	started  bool          // pump runs
	stopped  bool          // stop was called
	pumpDone chan struct{} // closed when pump returns
	chunks   chan micChunk
	done     chan struct{} // closed by stop

	// Used by Read's goroutine only.
	info    wave.ChunkInfo // the shape of the microphone's chunks: silence copies it
	silence *wave.Int16Interleaved
	tick    *time.Ticker
	timer   *time.Timer
	lost    bool

	mu     sync.Mutex
	onLost func(error)
	lostAt error // the loss being reported, nil while the microphone delivers
}

type micChunk struct {
	chunk wave.Audio
	err   error
}

func newMicGuard(label string, log *slog.Logger) *micGuard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &micGuard{
		label: label, log: log,
		chunks:   make(chan micChunk),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
		info:     wave.ChunkInfo{Len: toneRate * int(micSilenceChunk/time.Millisecond) / 1000, Channels: toneChannels, SamplingRate: toneRate},
	}
}

// MicLostError is what OnMicLost's function gets: the microphone stopped delivering.
type MicLostError struct{ Label string }

func (e *MicLostError) Error() string {
	return fmt.Sprintf("microphone %q stopped: the call continues, sending silence", e.Label)
}

// transform is the audio.TransformFunc that puts the guard in front of the driver's reader r.
func (g *micGuard) transform(r audio.Reader) audio.Reader {
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		g.startMu.Lock()
		if g.stopped {
			g.startMu.Unlock()
			return nil, func() {}, io.EOF
		}
		if !g.started {
			g.started = true
			g.timer = time.NewTimer(MicStallLimit)
			go g.pump(r)
		}
		g.startMu.Unlock()
		return g.read()
	})
}

// pump reads the driver until it fails or the guard stops, copying each chunk (the driver's
// buffers are its own).
func (g *micGuard) pump(r audio.Reader) {
	defer close(g.pumpDone)
	for {
		chunk, release, err := r.Read()
		var c micChunk
		if err != nil {
			c.err = err
		} else {
			c.chunk = copyChunk(chunk)
			release()
		}
		select {
		case g.chunks <- c:
		case <-g.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// read returns the microphone's next chunk, or silence while it delivers nothing.
func (g *micGuard) read() (wave.Audio, func(), error) {
	if !g.lost {
		g.timer.Reset(MicStallLimit)
		select {
		case c := <-g.chunks:
			return g.took(c)
		case <-g.timer.C:
			g.lose()
		case <-g.done:
			return nil, func() {}, io.EOF
		}
	}
	select {
	case c := <-g.chunks:
		g.back()
		return g.took(c)
	case <-g.tick.C:
		return g.silentChunk(), func() {}, nil
	case <-g.done:
		return nil, func() {}, io.EOF
	}
}

// took hands on a chunk of the microphone, noting its shape.
func (g *micGuard) took(c micChunk) (wave.Audio, func(), error) {
	if c.err != nil {
		return nil, func() {}, c.err
	}
	g.info = c.chunk.ChunkInfo()
	return c.chunk, func() {}, nil
}

// lose starts the silence and tells of the loss.
func (g *micGuard) lose() {
	g.lost = true
	d := time.Duration(g.info.Len) * time.Second / time.Duration(max(g.info.SamplingRate, 1))
	g.tick = time.NewTicker(max(d, time.Millisecond))
	err := &MicLostError{Label: g.label}
	g.log.Warn("microphone lost: sending silence", "device", g.label, "stalled", MicStallLimit)
	g.mu.Lock()
	g.lostAt = err
	fn := g.onLost
	g.mu.Unlock()
	if fn != nil {
		fn(err)
	}
}

// back ends the silence: the microphone delivers again.
func (g *micGuard) back() {
	g.lost = false
	g.tick.Stop()
	g.log.Info("microphone delivers again", "device", g.label)
	g.mu.Lock()
	g.lostAt = nil
	g.mu.Unlock()
}

// silentChunk is a chunk of silence shaped like the microphone's.
func (g *micGuard) silentChunk() wave.Audio {
	if g.silence == nil || g.silence.ChunkInfo() != g.info {
		g.silence = wave.NewInt16Interleaved(g.info)
	}
	return g.silence
}

// setOnLost sets the function told of a loss (at once when the microphone is lost already).
func (g *micGuard) setOnLost(fn func(error)) {
	g.mu.Lock()
	g.onLost = fn
	err := g.lostAt
	g.mu.Unlock()
	if err != nil && fn != nil {
		fn(err)
	}
}

// release stops the guard and reports whether the driver may be closed: whether the guard's
// read of it returned (within micReleaseWait), or never began. false: the microphone is lost
// for good, and closing it would hang; it is abandoned.
func (g *micGuard) release() bool {
	g.startMu.Lock()
	if !g.stopped {
		g.stopped = true
		close(g.done)
	}
	started := g.started
	g.startMu.Unlock()
	if !started {
		return true
	}
	select {
	case <-g.pumpDone:
		return true
	case <-time.After(micReleaseWait):
		g.log.Warn("microphone does not answer: left open rather than hang the call's end", "device", g.label)
		return false
	}
}

// copyChunk copies an audio chunk of the formats the drivers give.
func copyChunk(a wave.Audio) wave.Audio {
	switch c := a.(type) {
	case *wave.Int16Interleaved:
		out := wave.NewInt16Interleaved(c.ChunkInfo())
		copy(out.Data, c.Data)
		return out
	case *wave.Float32Interleaved:
		out := wave.NewFloat32Interleaved(c.ChunkInfo())
		copy(out.Data, c.Data)
		return out
	}
	return a
}

// OnMicLost sets fn to be called (from the encoder's goroutine) when the microphone stops
// delivering for MicStallLimit mid-call: the track sends silence from then on, until the
// microphone delivers again. Without a microphone fn is never called.
func (l *Local) OnMicLost(fn func(error)) {
	if l.mic != nil {
		l.mic.setOnLost(fn)
	}
}
