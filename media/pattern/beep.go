package pattern

import (
	"math"
	"time"
)

// The beep a tone with SetBeeps sends on each sync instant (see SyncPeriod), in place of the
// tone: a burst at another frequency and twice the tone's amplitude, so a receiver finds its
// onset to within a fraction of a millisecond with a threshold, and tells it from other loud
// sounds by its frequency.
const (
	// BeepHz is the beep's frequency.
	BeepHz = 1000
	// BeepAmplitude is the beep's peak amplitude as a fraction of full scale (-6 dBFS).
	BeepAmplitude = 0.5
	// BeepDuration is how long each beep lasts.
	BeepDuration = 50 * time.Millisecond
	// MaxBeepOffset bounds SetBeeps' offset: beyond half a period a beep is nearer the
	// neighbouring flash than its own.
	MaxBeepOffset = SyncPeriod/2 - BeepDuration
)

// SetBeeps makes the tone beep on each sync instant, the instants on which a pattern with
// SetSyncMarks flashes, shifted by offset: a positive offset makes the audio late, a negative
// one early (clamped to ±MaxBeepOffset). Call it before the first Read.
func (t *Tone) SetBeeps(offset time.Duration) {
	t.beeps, t.beepOffset = true, min(max(offset, -MaxBeepOffset), MaxBeepOffset)
}

// beepSample returns the beep's sample at atNs (Unix nanoseconds) for a beep shifted by
// offset, and false outside the beeps.
func beepSample(atNs int64, offset time.Duration) (int16, bool) {
	p := (atNs - int64(offset)) % int64(SyncPeriod)
	if p < 0 {
		p += int64(SyncPeriod)
	}
	if p >= int64(BeepDuration) {
		return 0, false
	}
	const peak = BeepAmplitude * math.MaxInt16
	return int16(math.Round(peak * math.Sin(2*math.Pi*BeepHz*float64(p)/float64(time.Second)))), true
}

// The detector's settings: a sample above beepThreshold (between the tone's peak and the
// beep's) starts a candidate; the beepConfirm samples from it must be mostly BeepHz
// (beepPurity of their energy) and loud, or it is dropped. After a beep the detector rests
// for half a period, past the beep's end.
const (
	beepThreshold = (ToneAmplitude + BeepAmplitude) / 2
	beepConfirm   = 5 * time.Millisecond
	beepPurity    = 0.5
	beepRest      = SyncPeriod / 2
)

// BeepDetector finds the onsets of the beeps (SetBeeps) in a stream of decoded audio, fed
// chunk by chunk. It looks at every sample of the first channel once (a comparison), and
// computes one Goertzel filter over 5 ms per candidate. Not safe for concurrent use.
type BeepDetector struct {
	rate    int
	confirm []float64 // the candidate's samples, full scale 1, up to beepConfirm of them
	at      time.Time // the candidate's onset
	pending bool
	rest    time.Time // no candidate before this
}

// NewBeepDetector returns a detector for audio at rate samples per second (<= 0: 48000).
func NewBeepDetector(rate int) *BeepDetector {
	if rate <= 0 {
		rate = 48000
	}
	n := max(rate*int(beepConfirm/time.Microsecond)/1e6, 1)
	return &BeepDetector{rate: rate, confirm: make([]float64, 0, n)}
}

// Write looks at a chunk of interleaved samples whose first sample is presented at start,
// and returns the presentation times of the beep onsets confirmed in it (an onset found
// near a chunk's end is confirmed, and returned, with the next chunk).
func (d *BeepDetector) Write(pcm []int16, channels int, start time.Time, onsets []time.Time) []time.Time {
	channels = max(channels, 1)
	thr := int16(math.Round(beepThreshold * math.MaxInt16))
	frames := len(pcm) / channels
	for i := 0; i < frames; i++ {
		v := pcm[i*channels]
		if d.pending {
			d.confirm = append(d.confirm, float64(v)/math.MaxInt16)
			if len(d.confirm) < cap(d.confirm) {
				continue
			}
			d.pending = false
			if d.isBeep() {
				onsets = append(onsets, d.at)
				d.rest = d.at.Add(beepRest)
			}
			continue
		}
		if v < thr && v > -thr {
			continue
		}
		at := start.Add(time.Duration(i) * time.Second / time.Duration(d.rate))
		if at.Before(d.rest) {
			continue
		}
		d.pending, d.at = true, at
		d.confirm = append(d.confirm[:0], float64(v)/math.MaxInt16)
	}
	return onsets
}

// isBeep reports whether the candidate's samples are a beep: loud, and mostly BeepHz
// (Goertzel's power at BeepHz against the samples' energy; 1 for a pure sine).
func (d *BeepDetector) isBeep() bool {
	x := d.confirm
	coeff := 2 * math.Cos(2*math.Pi*BeepHz/float64(d.rate))
	var s1, s2, energy float64
	for _, v := range x {
		s1, s2 = v+coeff*s1-s2, s1
		energy += v * v
	}
	n := float64(len(x))
	const minMeanSquare = (ToneAmplitude*ToneAmplitude + BeepAmplitude*BeepAmplitude) / 4 // between the two sines'
	if energy == 0 || energy/n < minMeanSquare {
		return false
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2*power/(n*energy) >= beepPurity
}
