// Package spectrum finds the dominant frequency and the level of audio, as the tests and the
// demo master check a tone: a Hann-windowed FFT whose peak is interpolated to a fraction of a
// bin, cheap enough to run on a live stream a few times a second.
package spectrum

import (
	"math"
	"math/bits"
	"math/cmplx"
	"sync"
	"time"
)

// MinLevel is the level of silence, in dBFS.
const MinLevel = -100.0

// maxWindow bounds the FFT size Analyze uses.
const maxWindow = 1 << 16

// silenceRMS is the RMS (full scale 1) below which audio counts as silence: -100 dBFS.
const silenceRMS = 1e-5

// Result is what Analyze finds.
type Result struct {
	// Hz is the frequency of the strongest component; 0 for silence.
	Hz float64
	// LevelDBFS is the RMS level: 0 dBFS is a full-scale square wave, -3 dBFS a full-scale
	// sine; MinLevel for silence.
	LevelDBFS float64
}

// Analyze returns the dominant frequency and the level of mono samples (full scale 1) taken at
// rate Hz. The frequency comes from the last power-of-two number of samples (at most 65536):
// to within about a tenth of a bin (rate / window) for a clean tone. The level is over every
// sample.
func Analyze(samples []float64, rate int) Result {
	var sum float64
	for _, v := range samples {
		sum += v * v
	}
	if len(samples) == 0 || rate <= 0 {
		return Result{LevelDBFS: MinLevel}
	}
	rms := math.Sqrt(sum / float64(len(samples)))
	if rms < silenceRMS {
		return Result{LevelDBFS: MinLevel}
	}
	n := min(1<<(bits.Len(uint(len(samples)))-1), maxWindow)
	return Result{Hz: peakHz(samples[len(samples)-n:], rate), LevelDBFS: max(20*math.Log10(rms), MinLevel)}
}

// AnalyzeInt16 is Analyze of interleaved 16-bit samples, the channels mixed to mono.
func AnalyzeInt16(pcm []int16, channels, rate int) Result {
	return Analyze(Mono(pcm, channels), rate)
}

// Mono mixes interleaved 16-bit samples to mono samples of full scale 1.
func Mono(pcm []int16, channels int) []float64 {
	channels = max(channels, 1)
	out := make([]float64, len(pcm)/channels)
	for i := range out {
		var s float64
		for c := range channels {
			s += float64(pcm[i*channels+c])
		}
		out[i] = s / float64(channels) / 32768
	}
	return out
}

// peakHz returns the frequency of the largest bin of the Hann-windowed spectrum of x (a power
// of two long), refined by a parabola through the log magnitudes of the bin and its neighbours.
func peakHz(x []float64, rate int) float64 {
	n := len(x)
	buf := make([]complex128, n)
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		buf[i] = complex(v*w, 0)
	}
	fft(buf)
	best, bestMag := 1, 0.0
	for k := 1; k < n/2; k++ {
		if m := cmplx.Abs(buf[k]); m > bestMag {
			best, bestMag = k, m
		}
	}
	delta := 0.0
	if best > 1 && best < n/2-1 {
		a := math.Log(cmplx.Abs(buf[best-1]) + 1e-300)
		b := math.Log(bestMag + 1e-300)
		c := math.Log(cmplx.Abs(buf[best+1]) + 1e-300)
		if d := a - 2*b + c; d < 0 {
			delta = 0.5 * (a - c) / d
		}
	}
	return (float64(best) + delta) * float64(rate) / float64(n)
}

// fft is an in-place iterative radix-2 FFT; len(x) is a power of two.
func fft(x []complex128) {
	n := len(x)
	shift := 64 - bits.Len(uint(n-1))
	for i := range n {
		if j := int(bits.Reverse64(uint64(i)) >> shift); j > i {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := range size / 2 {
				a, b := x[start+k], w*x[start+k+size/2]
				x[start+k], x[start+k+size/2] = a+b, a-b
				w *= step
			}
		}
	}
}

// Meter keeps the latest window of an audio stream and analyses it on demand. It is safe for
// concurrent use: one goroutine writes, others read.
type Meter struct {
	rate int

	mu     sync.Mutex
	ring   []float64
	pos    int  // next write index
	full   bool // the ring has wrapped
	result Result
	stale  bool
}

// NewMeter returns a Meter of the latest window samples (mono) of a stream at rate Hz.
func NewMeter(rate, window int) *Meter {
	return &Meter{rate: rate, ring: make([]float64, max(window, 2)), result: Result{LevelDBFS: MinLevel}}
}

// Write adds interleaved 16-bit samples, mixed to mono.
func (m *Meter) Write(pcm []int16, channels int) {
	mono := Mono(pcm, channels)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range mono {
		m.ring[m.pos] = v
		m.pos++
		if m.pos == len(m.ring) {
			m.pos, m.full = 0, true
		}
	}
	m.stale = m.stale || len(mono) > 0
}

// Result analyses the latest window (only once per new audio written).
func (m *Meter) Result() Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stale {
		return m.result
	}
	var window []float64
	if m.full {
		window = append(append(window, m.ring[m.pos:]...), m.ring[:m.pos]...)
	} else {
		window = append(window, m.ring[:m.pos]...)
	}
	m.result, m.stale = Analyze(window, m.rate), false
	return m.result
}

// Gap is a stretch of silence inside a signal.
type Gap struct {
	// Start is where it begins, from the first sample; Length how long it lasts.
	Start, Length time.Duration
}

// Gaps returns the stretches of at least minLen where mono samples (full scale 1) stay below
// threshold in magnitude, between the first and the last sample above it: the drop-outs of a
// tone (silence before the tone starts and after it ends is not a gap).
func Gaps(samples []float64, rate int, threshold float64, minLen time.Duration) []Gap {
	var out []Gap
	at := func(i int) time.Duration { return time.Duration(i) * time.Second / time.Duration(rate) }
	last := -1 // the latest sample above threshold
	for i, v := range samples {
		if math.Abs(v) < threshold {
			continue
		}
		if last >= 0 && at(i-last-1) >= minLen {
			out = append(out, Gap{Start: at(last + 1), Length: at(i - last - 1)})
		}
		last = i
	}
	return out
}
