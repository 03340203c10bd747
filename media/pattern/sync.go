package pattern

import (
	"image"
	"time"
)

// A/V sync marks: once every SyncPeriod of the capture clock (on each whole second of the
// wall clock, Unix time), a pattern with SetSyncMarks draws a flash and a tone with
// SetBeeps sends a beep. Both derive from the same instant, so a receiver that measures
// when it presents the flash and when it presents the beep reads the A/V offset of the whole
// pipeline (capture, coding, network, buffering, decoding). The flash lasts at least one
// frame, so that every flash reaches the receiver; a receiver takes the flash frame's capture
// time from its stamp strip (ReadStamp, SyncPhase) to know how long after the instant that
// frame was captured.
const (
	// SyncPeriod is the interval of the sync marks: one flash and one beep each.
	SyncPeriod = time.Second
	// FlashDuration is how long the flash lasts (at least one frame interval).
	FlashDuration = 100 * time.Millisecond
)

// SetSyncMarks makes the pattern flash on the frames captured in the first FlashDuration
// (or frame interval, if longer) of each SyncPeriod: the band of the moving box turns white
// in its upper half and black in its lower half. Call it before the first Read.
func (g *Generator) SetSyncMarks(on bool) { g.flash = on }

// flashing reports whether a frame captured at t carries the flash.
func (g *Generator) flashing(t time.Time) bool {
	if !g.flash {
		return false
	}
	d := max(FlashDuration, time.Second/time.Duration(g.fps))
	return syncPhase(t) < d
}

// drawFlash draws the flash over the band of the moving box.
func (g *Generator) drawFlash(img *image.YCbCr) {
	l := g.lay
	band := l.stampTop - l.barsBottom
	fillLuma(img.Y, img.YStride, l.w, l.h, 0, l.barsBottom, l.w, band/2, lumaWhite)
	fillLuma(img.Y, img.YStride, l.w, l.h, 0, l.barsBottom+band/2, l.w, band-band/2, lumaBlack)
}

// syncPhase is how long after the latest sync instant t is.
func syncPhase(t time.Time) time.Duration {
	p := time.Duration(t.UnixNano() % int64(SyncPeriod))
	if p < 0 {
		p += SyncPeriod
	}
	return p
}

// flashColumns is how many columns ReadFlash samples, in each of flashRows rows per half of
// the band: a few dozen pixels, cheap enough to look at every frame.
const (
	flashColumns = 16
	flashRows    = 2
	// flashContrast is the least difference of mean luma between the band's upper and lower
	// halves that reads as a flash (the flash has 219, a frame without one about 0: the
	// moving box covers both halves alike).
	flashContrast = 110
)

// ReadFlash reports whether a pattern frame (the original, or a decoded copy of any size,
// after lossy coding) carries the sync flash (see SetSyncMarks). It looks at a few dozen
// pixels.
func ReadFlash(img image.Image) bool {
	if p, ok := img.(interface{ YCbCrImage() *image.YCbCr }); ok {
		img = p.YCbCrImage()
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < flashColumns || h < MinHeight/2 {
		return false
	}
	l := newLayout(w, h)
	band := l.stampTop - l.barsBottom
	if band < 4*flashRows {
		return false
	}
	upper, lower := 0, 0
	for r := range flashRows {
		// Rows inside each half and inside the moving box's extent (the middle 3/4 of the
		// band), so the box adds the same to both halves.
		off := band * (3 + 2*r) / 16
		yu, yl := b.Min.Y+l.barsBottom+off, b.Min.Y+l.barsBottom+band/2+off
		for c := range flashColumns {
			x := b.Min.X + (2*c+1)*w/(2*flashColumns)
			upper += meanLuma(img, x, yu, x+1, yu+1)
			lower += meanLuma(img, x, yl, x+1, yl+1)
		}
	}
	n := flashRows * flashColumns
	return (upper-lower)/n >= flashContrast
}

// SyncPhase is how long after its latest sync instant (a whole second of the master's
// clock) a frame stamped stamp (ReadStamp) was captured. now is the reader's clock, which
// only needs to agree with the master's to within 2.3 hours: the stamp carries the low bits.
func SyncPhase(stamp uint32, now time.Time) time.Duration {
	const mask = 1<<CounterBits - 1
	behind := int64((Stamp(now) - stamp) & mask)
	if behind >= 1<<(CounterBits-1) {
		behind -= 1 << CounterBits // ahead of now: the clocks differ
	}
	ms := now.UnixMilli() - behind
	return syncPhase(time.UnixMilli(ms))
}
