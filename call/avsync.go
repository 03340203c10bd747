package call

import (
	"slices"
	"sync"
	"time"

	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// The A/V sync meter measures how much later the master's audio is
// presented than its video. A pattern master (the demo master, `kvsviewer
// master`) flashes its picture and beeps on the same instant once a second
// (media/pattern's sync marks); the meter notes when each flash reaches the
// video sink (a decoded frame handed on for display) and when each beep
// leaves the decoder for the audio output, and pairs each flash with the
// beep within avSyncPair of it. A positive offset means the audio is late.
//
// Presented means: a frame when it is decoded and handed to the sink (the
// window shows the latest one at its next repaint); a beep's sample when the
// output will take it from its buffer (the time the decoder hands it over
// plus the audio already buffered ahead of it), the output device's own
// latency not included. Without a sound device (tests, CI) the output
// discards the audio and buffers none, so the figure is that of the
// decoders, which is what a player with a device adds its buffer to.
//
// The flash frame's stamp strip (its capture time) says how long after the
// instant the frame was captured, so the frame interval does not blur the
// figure. Cost: a few dozen pixels per frame, the stamp strip once a second,
// one comparison per audio sample and a 5 ms Goertzel filter per beep.
const (
	avSyncWindow = 10 * time.Second // the median covers the pairs of the last 10 s
	avSyncPair   = 500 * time.Millisecond
	avSyncKeep   = 2 * time.Second // marks unpaired for this long are dropped
)

// avSyncMeter pairs a session's flashes and beeps.
type avSyncMeter struct {
	mu      sync.Mutex
	inFlash bool        // the current flash was measured already
	flashes []time.Time // when the instants of unpaired flashes were presented
	beeps   []time.Time // when unpaired beeps began to be presented
	det     *pattern.BeepDetector
	detRate int
	onsets  []time.Time // scratch for the detector
	samples []latencySample
}

// frame looks for the flash in one decoded frame of the master's video,
// presented at f.Decoded.
func (m *avSyncMeter) frame(f sink.Frame) {
	if f.Image == nil {
		return
	}
	if !pattern.ReadFlash(f.Image) {
		m.mu.Lock()
		m.inFlash = false
		m.mu.Unlock()
		return
	}
	m.mu.Lock()
	done := m.inFlash
	m.mu.Unlock()
	if done {
		return
	}
	stamp, ok := pattern.ReadStamp(f.Image)
	if !ok {
		return // the next frame of the flash may read
	}
	at := f.Decoded
	if at.IsZero() {
		at = time.Now()
	}
	phase := pattern.SyncPhase(stamp, at)
	if phase >= avSyncPair {
		return // not a flash's frame after all
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlash = true
	m.flashes = append(m.flashes, at.Add(-phase))
	m.pair(at)
}

// audio looks for beeps in a chunk of decoded audio whose first sample is
// presented at start.
func (m *avSyncMeter) audio(pcm []int16, rate, channels int, start time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.det == nil || m.detRate != rate {
		m.det, m.detRate = pattern.NewBeepDetector(rate), rate
	}
	m.onsets = m.det.Write(pcm, channels, start, m.onsets[:0])
	if len(m.onsets) == 0 {
		return
	}
	m.beeps = append(m.beeps, m.onsets...)
	m.pair(start)
}

// pair turns each flash with a beep within avSyncPair into a sample, and
// drops marks left unpaired for avSyncKeep. m.mu is held.
func (m *avSyncMeter) pair(now time.Time) {
	for i := 0; i < len(m.flashes); i++ {
		f := m.flashes[i]
		best := -1
		for j, b := range m.beeps {
			if d := absDuration(b.Sub(f)); d <= avSyncPair && (best < 0 || d < absDuration(m.beeps[best].Sub(f))) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		m.samples = append(m.samples, latencySample{at: now, d: m.beeps[best].Sub(f)})
		m.beeps = slices.Delete(m.beeps, best, best+1)
		m.flashes = slices.Delete(m.flashes, i, i+1)
		i--
	}
	old := func(t time.Time) bool { return now.Sub(t) > avSyncKeep }
	m.flashes = slices.DeleteFunc(m.flashes, old)
	m.beeps = slices.DeleteFunc(m.beeps, old)
	m.samples = slices.DeleteFunc(m.samples, func(s latencySample) bool { return now.Sub(s.at) > avSyncWindow })
}

// median returns the median offset of the pairs of the last avSyncWindow
// before now (positive: audio late), and how many there were.
func (m *avSyncMeter) median(now time.Time) (time.Duration, int) {
	m.mu.Lock()
	ds := recentSorted(m.samples, avSyncWindow, now)
	m.mu.Unlock()
	if len(ds) == 0 {
		return 0, 0
	}
	return ds[len(ds)/2], len(ds)
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
