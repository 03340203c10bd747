package pattern

import (
	"io"
	"math"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/wave"
)

// ToneAmplitude is the tone's peak amplitude as a fraction of full scale: peaks at -12 dBFS,
// an RMS level of about -15 dBFS.
const ToneAmplitude = 0.25

// ToneChunk is the duration of one chunk returned by Tone.Read.
const ToneChunk = 20 * time.Millisecond

// Tone is a real-time sine tone source of 16-bit interleaved samples, paced at one ToneChunk
// per Read. It is a mediadevices.AudioSource. Read is meant to be called from one goroutine at a
// time; Close may be called from any goroutine.
type Tone struct {
	freq     float64
	rate     int
	channels int
	phase    float64 // radians, in [0, 2*pi)
	step     float64 // radians per sample
	chunks   [numBuffers]*wave.Int16Interleaved
	next     int
	started  bool
	release  func()
	// beeps and beepOffset: SetBeeps.
	beeps      bool
	beepOffset time.Duration

	ticker *time.Ticker
	kicker
	done      chan struct{}
	closeOnce sync.Once
}

// NewTone returns a sine tone of freqHz at sampleRate samples per second on channels channels
// (the same signal on each). Out-of-range arguments are replaced: sampleRate <= 0 by 48000,
// channels by 1 (if < 1) or 2 (if > 2), and a frequency outside (0, sampleRate/2) by 440 Hz.
func NewTone(freqHz float64, sampleRate, channels int) *Tone {
	if sampleRate <= 0 {
		sampleRate = 48000
	}
	channels = min(max(channels, 1), 2)
	if !(freqHz > 0 && freqHz < float64(sampleRate)/2) {
		freqHz = 440
	}
	t := &Tone{
		freq:     freqHz,
		rate:     sampleRate,
		channels: channels,
		step:     2 * math.Pi * freqHz / float64(sampleRate),
		release:  func() {},
		ticker:   time.NewTicker(ToneChunk),
		kicker:   newKicker(),
		done:     make(chan struct{}),
	}
	n := sampleRate * int(ToneChunk/time.Millisecond) / 1000
	for i := range t.chunks {
		t.chunks[i] = wave.NewInt16Interleaved(wave.ChunkInfo{Len: n, Channels: channels, SamplingRate: sampleRate})
	}
	return t
}

// ID identifies the source to mediadevices.
func (t *Tone) ID() string { return "tone" }

// Read waits for the next chunk time and returns the next ToneChunk of the tone as a
// *wave.Int16Interleaved. The first chunk is returned at once. A chunk stays valid for
// numBuffers-1 further reads; the release function does nothing. After Close, Read returns
// io.EOF.
func (t *Tone) Read() (wave.Audio, func(), error) {
	select {
	case <-t.done:
		return nil, nil, io.EOF
	default:
	}
	now := time.Now()
	if !t.started {
		t.started = true
	} else {
		select {
		case <-t.done:
			return nil, nil, io.EOF
		case now = <-t.ticker.C:
		case <-t.kicker:
			t.ticker.Reset(ToneChunk)
		}
	}
	c := t.chunks[t.next]
	t.next = (t.next + 1) % numBuffers
	t.fill(c.Data, now)
	return c, t.release, nil
}

// fill writes the next samples of the tone into the interleaved buffer data, a chunk read at
// end: like a microphone's, it holds the ToneChunk before end.
func (t *Tone) fill(data []int16, end time.Time) {
	const peak = ToneAmplitude * math.MaxInt16
	frames := len(data) / t.channels
	start := end.UnixNano() - int64(frames)*int64(time.Second)/int64(t.rate)
	for i := 0; i < len(data); i += t.channels {
		s := int16(math.Round(peak * math.Sin(t.phase)))
		if t.beeps {
			at := start + int64(i/t.channels)*int64(time.Second)/int64(t.rate)
			if b, ok := beepSample(at, t.beepOffset); ok {
				s = b
			}
		}
		for ch := range t.channels {
			data[i+ch] = s
		}
		t.phase += t.step
		if t.phase >= 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}

// Close stops the pacing; Read returns io.EOF afterwards, also a Read blocked waiting for the
// next chunk. Close is idempotent and never fails.
func (t *Tone) Close() error {
	t.closeOnce.Do(func() {
		close(t.done)
		t.ticker.Stop()
	})
	return nil
}
