package audioout

// The Player's buffer between Write and the device's data callback, and its meters.

import (
	"math"
	"unsafe"
)

// Write queues interleaved samples for playback without blocking. A trailing partial frame is
// ignored. When the buffer is full the oldest samples are dropped. After Close, or without a
// device (none, or lost), the samples are discarded (and still metered without a device).
func (p *Player) Write(pcm []int16) {
	pcm = pcm[:len(pcm)-len(pcm)%p.channels]
	if len(pcm) == 0 {
		return
	}
	frames := uint64(len(pcm) / p.channels)
	if !p.live.Load() {
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

// takePaced is take with the cushion: nothing until CushionMillis are buffered, and when the
// buffer runs dry the cushion is gathered again. p.mu is held.
func (p *Player) takePaced(dst []int16) int {
	if !p.playing {
		if p.count < p.rate*CushionMillis/1000*p.channels {
			return 0
		}
		p.playing = true
	}
	n := p.take(dst)
	if n < len(dst) {
		p.playing = false
		p.starved++
	}
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
	n := 0
	if p.lostErr == nil {
		n = p.takePaced(dst)
	}
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
	return Stats{Written: p.written, Played: p.played, Dropped: p.dropped, Underrun: p.under, Starved: p.starved}
}
