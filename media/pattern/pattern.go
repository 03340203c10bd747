// Package pattern generates the synthetic media a call sends when there is no camera or
// microphone, and that the demo master sends: a moving video test pattern with a frame counter
// (as digits and as a machine-readable block code), a wall clock, and a sine tone.
//
// Both Generator and Tone are paced in real time and satisfy mediadevices.VideoSource and
// mediadevices.AudioSource, so they plug into mediadevices.NewVideoTrack / NewAudioTrack.
package pattern

import (
	"image"
	"image/color"
	"io"
	"sync"
	"time"
)

// Style selects the look of the pattern, so the two ends of a call can be told apart.
type Style int

const (
	// StyleMaster is the master's look: 75% colour bars, a white box on dark grey.
	StyleMaster Style = iota
	// StyleViewer is the viewer's look: other bar colours, a black box on light grey.
	StyleViewer
)

// String returns the label drawn on the pattern.
func (s Style) String() string {
	if s == StyleViewer {
		return "VIEWER"
	}
	return "MASTER"
}

// Size limits; New clamps to them.
const (
	MinWidth  = 64
	MinHeight = 48
	MaxWidth  = 3840
	MaxHeight = 2160
	// DefaultFPS is used when New is given a non-positive frame rate.
	DefaultFPS = 30
	// maxFPS bounds the ticker period.
	maxFPS = 120
)

// numBars is the number of vertical colour bars.
const numBars = 8

var barColors = [2][numBars]color.RGBA{
	StyleMaster: {
		{191, 191, 191, 255}, {191, 191, 0, 255}, {0, 191, 191, 255}, {0, 191, 0, 255},
		{191, 0, 191, 255}, {191, 0, 0, 255}, {0, 0, 191, 255}, {0, 0, 0, 255},
	},
	StyleViewer: {
		{230, 120, 20, 255}, {120, 40, 160, 255}, {0, 128, 128, 255}, {240, 120, 180, 255},
		{150, 220, 40, 255}, {20, 30, 110, 255}, {128, 128, 128, 255}, {120, 70, 30, 255},
	},
}

func (s Style) index() int {
	if s == StyleViewer {
		return int(StyleViewer)
	}
	return int(StyleMaster)
}

// BarColor returns the colour of the bar drawn at column x of a frame width pixels wide (or of a
// decoded copy scaled to that width). The bars fill BarRegion; x outside [0, width) is clamped.
func BarColor(style Style, x, width int) color.RGBA {
	if width <= 0 {
		width = 1
	}
	x = min(max(x, 0), width-1)
	return barColors[style.index()][x*numBars/width]
}

// BarRegion returns the part of a width x height frame (or of a decoded copy of that size)
// that holds nothing but the colour bars.
func BarRegion(width, height int) image.Rectangle {
	l := newLayout(width, height)
	return image.Rect(0, l.barsTop, width, l.barsBottom)
}

// layout holds the vertical bands of the frame, top to bottom:
// the code strip, the text band, the colour bars, the band with the moving box, and the
// stamp strip (the capture time, coded like the counter).
type layout struct {
	w, h       int
	codeBottom int // code strip: [0, codeBottom)
	barsTop    int // text band: [codeBottom, barsTop)
	barsBottom int // bars: [barsTop, barsBottom); box band: [barsBottom, stampTop)
	stampTop   int // stamp strip: [stampTop, h)
	textScale  int
	textX      int
	textY      int
	boxSize    int
}

// textLen is the number of characters on the text line: "MASTER #1234567 12:34:56.789".
const textLen = 28

func newLayout(w, h int) layout {
	l := layout{w: w, h: h}
	l.codeBottom = h * codeStripNum / codeStripDen
	l.barsTop = l.codeBottom + h/8
	l.barsBottom = h * 3 / 4
	textCols := textLen*(glyphW+1) - 1
	l.textScale = max(1, min(w*9/10/textCols, (l.barsTop-l.codeBottom)*3/4/glyphH))
	l.textX = max(0, (w-textCols*l.textScale)/2)
	l.textY = l.codeBottom + max(0, (l.barsTop-l.codeBottom-glyphH*l.textScale)/2)
	l.stampTop = h - l.codeBottom
	l.boxSize = max(2, (l.stampTop-l.barsBottom)*3/4) &^ 1
	return l
}

// numBuffers is how many frames the generator cycles through. mediadevices' broadcaster hands
// the same frame to every reader of a track and ignores the release function, so a frame must
// stay intact while a slower reader still uses it: a frame is redrawn numBuffers-1 frame
// periods after it was returned.
const numBuffers = 4

// Generator is a real-time test pattern source. It is a mediadevices.VideoSource.
// Read is meant to be called from one goroutine at a time (mediadevices does so); Close may be
// called from any goroutine.
type Generator struct {
	style    Style
	fps      int
	lay      layout
	frames   [numBuffers]*image.YCbCr // made by frame on first use, or by Prepare
	framesMu sync.Mutex               // guards the frames slots (not their pixels: Read's alone)
	readMu   sync.Mutex               // held by Read while it draws, and by Close
	static   *image.YCbCr             // the static drawing the frames start from (shared, read only)
	next     int
	counter  uint32
	started  bool
	start    time.Time
	release  func()
	text     [textLen]byte

	ticker *time.Ticker
	kicker
	done      chan struct{}
	closeOnce sync.Once

	// ink and background of the box band, per style.
	boxBG, boxInk byte
	// flash: draw the A/V sync flash (SetSyncMarks).
	flash bool
}

// New returns a generator of width x height frames at fps frames per second. The width and
// height are clamped to [MinWidth, MaxWidth] x [MinHeight, MaxHeight] and rounded down to even
// numbers (I420 needs even sizes); a non-positive fps means DefaultFPS.
func New(width, height, fps int, style Style) *Generator {
	width = min(max(width, MinWidth), MaxWidth) &^ 1
	height = min(max(height, MinHeight), MaxHeight) &^ 1
	if fps <= 0 {
		fps = DefaultFPS
	}
	fps = min(fps, maxFPS)
	if style != StyleViewer {
		style = StyleMaster
	}
	g := &Generator{
		style:   style,
		fps:     fps,
		lay:     newLayout(width, height),
		release: func() {},
		ticker:  time.NewTicker(time.Second / time.Duration(fps)),
		kicker:  newKicker(),
		done:    make(chan struct{}),
		boxBG:   40,
		boxInk:  235,
	}
	if style == StyleViewer {
		g.boxBG, g.boxInk = 200, 16
	}
	g.static = staticFrame(g)
	return g
}

// frame returns buffer i, taken from the shared ones (buffers.go) when it is
// first used (or by Prepare): New, which is on a call's set-up path, takes none.
func (g *Generator) frame(i int) *image.YCbCr {
	g.framesMu.Lock()
	defer g.framesMu.Unlock()
	if g.frames[i] == nil {
		g.frames[i] = takeFrame(g.key(), g.static)
	}
	return g.frames[i]
}

// Prepare makes every buffer not made yet, so that no Read has to (a
// buffer is 1.4 MB at 720p: making one in a busy process takes ms). It is
// meant for a goroutine of its own, and is safe beside Read.
func (g *Generator) Prepare() {
	for i := range g.frames {
		select {
		case <-g.done: // closed: its buffers went back already
			return
		default:
		}
		g.frame(i)
	}
}

// ID identifies the source to mediadevices.
func (g *Generator) ID() string { return "pattern-" + g.style.String() }

// Size returns the frame size actually produced.
func (g *Generator) Size() (width, height int) { return g.lay.w, g.lay.h }

// FPS returns the frame rate the generator is paced at.
func (g *Generator) FPS() int { return g.fps }

// Read waits for the next frame time and returns the next frame, an I420 *image.YCbCr in limited
// range BT.601. The first frame is returned at once. The frame stays valid for numBuffers-1
// further reads; the release function does nothing. After Close, Read returns io.EOF.
func (g *Generator) Read() (image.Image, func(), error) {
	select {
	case <-g.done:
		return nil, nil, io.EOF
	default:
	}
	now := time.Now()
	if !g.started {
		g.started = true
		g.start = now
	} else {
		select {
		case <-g.done:
			return nil, nil, io.EOF
		case now = <-g.ticker.C:
		case <-g.kicker:
			// The next frame now, and the pacing restarts from it.
			g.ticker.Reset(time.Second / time.Duration(g.fps))
		}
	}
	// readMu: Close hands the buffers on to other generators, never while
	// one is being drawn.
	g.readMu.Lock()
	defer g.readMu.Unlock()
	select {
	case <-g.done:
		return nil, nil, io.EOF
	default:
	}
	img := g.frame(g.next)
	g.next = (g.next + 1) % numBuffers
	g.drawDynamic(img, g.counter, now)
	g.counter++
	return img, g.release, nil
}

// Close stops the pacing; Read returns io.EOF afterwards, also a Read blocked waiting for the
// next frame. The frame buffers go back to be reused by the next generator of the same size and
// style: the frames Read returned must not be used after Close (mediadevices' readers of the
// track are gone by the time it closes its source). Close is idempotent and never fails.
func (g *Generator) Close() error {
	g.closeOnce.Do(func() {
		close(g.done)
		g.ticker.Stop()
		g.readMu.Lock()
		defer g.readMu.Unlock()
		g.framesMu.Lock()
		defer g.framesMu.Unlock()
		giveFrames(g.key(), g.frames[:])
		g.frames = [numBuffers]*image.YCbCr{}
	})
	return nil
}

// Frame draws frame number counter at wall-clock time t into a new image, without pacing. It is
// meant for tests and previews.
func (g *Generator) Frame(counter uint32, t time.Time) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, g.lay.w, g.lay.h), image.YCbCrSubsampleRatio420)
	g.drawStatic(img)
	g.drawDynamic(img, counter, t)
	return img
}

// drawStatic draws what never changes: the colour bars, and the chroma of the other bands.
func (g *Generator) drawStatic(img *image.YCbCr) {
	l := g.lay
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	bars := barColors[g.style.index()]
	var ys, cbs, crs [numBars]uint8
	for i, c := range bars {
		ys[i], cbs[i], crs[i] = rgbToYCbCr601(c)
	}
	// Every bar row is the same: the first one is drawn, the others copied.
	for y := l.barsTop; y < l.barsBottom; y++ {
		row := img.Y[y*img.YStride : y*img.YStride+l.w]
		if y > l.barsTop {
			copy(row, img.Y[l.barsTop*img.YStride:])
			continue
		}
		for x := range row {
			row[x] = ys[x*numBars/l.w]
		}
	}
	// Chroma rows covering bar rows only; a chroma row shared with another band stays neutral.
	first := (l.barsTop + 1) / 2
	for cy := first; cy < l.barsBottom/2; cy++ {
		cb, cr := img.Cb[cy*img.CStride:cy*img.CStride+l.w/2], img.Cr[cy*img.CStride:cy*img.CStride+l.w/2]
		if cy > first {
			copy(cb, img.Cb[first*img.CStride:])
			copy(cr, img.Cr[first*img.CStride:])
			continue
		}
		for cx := range cb {
			bar := (2 * cx) * numBars / l.w
			cb[cx], cr[cx] = cbs[bar], crs[bar]
		}
	}
}

// drawDynamic draws what changes per frame: code strip, text line, moving box and the sync
// flash.
func (g *Generator) drawDynamic(img *image.YCbCr, counter uint32, t time.Time) {
	l := g.lay
	drawCode(img.Y, img.YStride, l.w, l.h, 0, l.codeBottom, counter)
	drawCode(img.Y, img.YStride, l.w, l.h, l.stampTop, l.h-l.stampTop, Stamp(t))

	fillLuma(img.Y, img.YStride, l.w, l.h, 0, l.codeBottom, l.w, l.barsTop-l.codeBottom, lumaBlack)
	text := g.formatText(counter, t)
	drawText(img.Y, img.YStride, l.w, l.barsTop, l.textX, l.textY, l.textScale, text, lumaWhite)

	fillLuma(img.Y, img.YStride, l.w, l.h, 0, l.barsBottom, l.w, l.stampTop-l.barsBottom, g.boxBG)
	span := l.w - l.boxSize
	elapsed := t.Sub(g.start)
	if g.start.IsZero() || elapsed < 0 {
		elapsed = 0
	}
	// Triangle wave: left to right in sweep, back in sweep.
	const sweep = 2 * time.Second
	phase := elapsed % (2 * sweep)
	if phase > sweep {
		phase = 2*sweep - phase
	}
	x := (int(int64(span)*int64(phase)/int64(sweep)) &^ 1)
	y := l.barsBottom + (l.stampTop-l.barsBottom-l.boxSize)/2
	fillLuma(img.Y, img.YStride, l.w, l.h, x, y, l.boxSize, l.boxSize, g.boxInk)
	if g.flashing(t) {
		g.drawFlash(img)
	}
}

// formatText writes "MASTER #1234567 12:34:56.789" into g.text without allocating and returns it.
func (g *Generator) formatText(counter uint32, t time.Time) []byte {
	b := g.text[:0]
	b = append(b, g.style.String()...)
	b = append(b, ' ', '#')
	b = appendDigits(b, int(counter%10_000_000), 7)
	b = append(b, ' ')
	hh, mm, ss := t.Clock()
	b = appendDigits(b, hh, 2)
	b = append(b, ':')
	b = appendDigits(b, mm, 2)
	b = append(b, ':')
	b = appendDigits(b, ss, 2)
	b = append(b, '.')
	return appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
}

// appendDigits appends v as exactly n decimal digits (the low n digits, zero padded).
func appendDigits(b []byte, v, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		d := v
		for range i {
			d /= 10
		}
		b = append(b, byte('0'+d%10))
	}
	return b
}
