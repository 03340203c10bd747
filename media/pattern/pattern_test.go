package pattern

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/image/draw"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var sizes = [][2]int{{1280, 720}, {640, 480}, {320, 240}, {176, 144}}

var counters = []uint32{0, 1, 2, 0x5A5A5A, 0xA5A5A5, 1<<24 - 1, 12345678}

// lossy imitates what the network path does to a frame: decode to RGBA (limited range BT.601,
// as sws_scale does), scale to another size, add noise, and compress with JPEG at quality q.
func lossy(t testing.TB, src *image.YCbCr, w, h, q int, seed uint64) image.Image {
	t.Helper()
	rgba := ToRGBA(nil, src)
	scaled := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(scaled, scaled.Rect, rgba, rgba.Rect, draw.Src, nil)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range scaled.Pix {
		if i%4 == 3 {
			continue
		}
		v := int(scaled.Pix[i]) + rng.IntN(25) - 12
		scaled.Pix[i] = uint8(min(max(v, 0), 255))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, scaled, &jpeg.Options{Quality: q}); err != nil {
		t.Fatalf("jpeg encode: %v", err)
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatalf("jpeg decode: %v", err)
	}
	return img
}

func TestCounterRoundTrip(t *testing.T) {
	clock := time.Date(2024, 5, 6, 12, 34, 56, 789e6, time.Local)
	for _, style := range []Style{StyleMaster, StyleViewer} {
		for _, sz := range sizes {
			g := New(sz[0], sz[1], 30, style)
			for _, c := range counters {
				frame := g.Frame(c, clock)
				want := c & (1<<CounterBits - 1)
				if got, ok := ReadCounter(frame); !ok || got != want {
					t.Errorf("%v %dx%d raw: ReadCounter = %d, %v; want %d", style, sz[0], sz[1], got, ok, want)
				}
				if got, ok := ReadCounter(ToRGBA(nil, frame)); !ok || got != want {
					t.Errorf("%v %dx%d RGBA: ReadCounter = %d, %v; want %d", style, sz[0], sz[1], got, ok, want)
				}
				if c != 0 && c != 0x5A5A5A && c != 1<<24-1 {
					continue // the lossy path is slow: try it on a few values
				}
				// Downscaled by a non-integer factor, noisy, JPEG quality 30.
				for _, f := range []float64{1, 0.73} {
					w, h := int(float64(sz[0])*f), int(float64(sz[1])*f)
					img := lossy(t, frame, w, h, 30, uint64(c))
					if got, ok := ReadCounter(img); !ok || got != want {
						t.Errorf("%v %dx%d scaled to %dx%d, jpeg: ReadCounter = %d, %v; want %d",
							style, sz[0], sz[1], w, h, got, ok, want)
					}
				}
			}
			g.Close()
		}
	}
}

// TestCounterRejectsGarbage checks that frames without the code, or with any one cell of it
// flipped, are rejected rather than misread.
func TestCounterRejectsGarbage(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range grey.Pix {
		grey.Pix[i] = 128
	}
	noise := image.NewRGBA(image.Rect(0, 0, 640, 480))
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	tiny := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for name, img := range map[string]image.Image{"grey": grey, "noise": noise, "tiny": tiny} {
		if c, ok := ReadCounter(img); ok {
			t.Errorf("%s: ReadCounter = %d, true; want false", name, c)
		}
	}

	g := New(640, 480, 30, StyleMaster)
	defer g.Close()
	const counter = 0x3C3C3C
	w, stripH := 640, 480*codeStripNum/codeStripDen
	for cell := range codeCells {
		frame := g.Frame(counter, time.Now())
		x0, x1 := cell*w/codeCells, (cell+1)*w/codeCells
		v := frame.Y[stripH/2*frame.YStride+(x0+x1)/2]
		flipped := byte(lumaWhite)
		if v > 128 {
			flipped = lumaBlack
		}
		fillLuma(frame.Y, frame.YStride, w, stripH, x0, 0, x1-x0, stripH, flipped)
		if c, ok := ReadCounter(frame); ok {
			t.Errorf("cell %d flipped: ReadCounter = %#x, true; want false", cell, c)
		}
	}
}

func TestBarColours(t *testing.T) {
	if BarColor(StyleMaster, 0, 640) == BarColor(StyleViewer, 0, 640) {
		t.Fatal("master and viewer bars have the same first colour")
	}
	for _, style := range []Style{StyleMaster, StyleViewer} {
		for _, sz := range sizes {
			g := New(sz[0], sz[1], 30, style)
			frame := g.Frame(99, time.Now())
			g.Close()
			// The decoded copy is 0.75x the size: check bar centres with the scaled geometry.
			w, h := sz[0]*3/4, sz[1]*3/4
			img := lossy(t, frame, w, h, 60, 3)
			r := BarRegion(w, h)
			for bar := range numBars {
				x := (2*bar + 1) * w / (2 * numBars)
				want := BarColor(style, x, w)
				got := meanRGB(img, x-w/(8*numBars), (r.Min.Y+r.Max.Y)/2-r.Dy()/4, x+w/(8*numBars), (r.Min.Y+r.Max.Y)/2+r.Dy()/4)
				if !near(got, want, 14) {
					t.Errorf("%v %dx%d bar %d: got %v, want %v", style, sz[0], sz[1], bar, got, want)
				}
			}
		}
	}
}

// TestStaticDrawingInEveryBuffer: each of a generator's buffers holds the
// static drawing (drawn once per size and style and copied into a buffer on
// its first use), pixel for pixel as the bars are defined: luma and chroma
// of BarColor over the bar rows, neutral chroma elsewhere. The sizes
// alternate, so the drawing kept for one size is never handed to another.
func TestStaticDrawingInEveryBuffer(t *testing.T) {
	for _, sz := range sizes {
		g := New(sz[0], sz[1], 30, StyleViewer)
		g.Close()
		l := g.lay
		for i := range g.frames {
			img := g.frame(i)
			if b := img.Bounds(); b.Dx() != sz[0]&^1 || b.Dy() != sz[1]&^1 {
				t.Fatalf("%dx%d buffer %d is %v", sz[0], sz[1], i, b)
			}
			for y := l.barsTop; y < l.barsBottom; y++ {
				for x := range l.w {
					want, _, _ := rgbToYCbCr601(BarColor(StyleViewer, x, l.w))
					if got := img.Y[y*img.YStride+x]; got != want {
						t.Fatalf("%dx%d buffer %d: luma %d at (%d,%d), want %d", sz[0], sz[1], i, got, x, y, want)
					}
				}
			}
			for cy := range (l.h + 1) / 2 {
				for cx := range (l.w + 1) / 2 {
					wantCb, wantCr := uint8(128), uint8(128)
					if cy >= (l.barsTop+1)/2 && cy < l.barsBottom/2 && cx < l.w/2 {
						_, wantCb, wantCr = rgbToYCbCr601(BarColor(StyleViewer, 2*cx, l.w))
					}
					if cb, cr := img.Cb[cy*img.CStride+cx], img.Cr[cy*img.CStride+cx]; cb != wantCb || cr != wantCr {
						t.Fatalf("%dx%d buffer %d: chroma %d,%d at (%d,%d), want %d,%d", sz[0], sz[1], i, cb, cr, cx, cy, wantCb, wantCr)
					}
				}
			}
		}
	}
}

func meanRGB(img image.Image, x0, y0, x1, y1 int) color.RGBA {
	var r, g, b, n int
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			r, g, b, n = r+int(c.R), g+int(c.G), b+int(c.B), n+1
		}
	}
	return color.RGBA{uint8(r / n), uint8(g / n), uint8(b / n), 255}
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

// readText reads the text line back by matching each character cell against the font.
func readText(t *testing.T, g *Generator, img *image.YCbCr) string {
	t.Helper()
	l := g.lay
	out := make([]byte, 0, textLen)
	for i := range textLen {
		cx := l.textX + i*(glyphW+1)*l.textScale
		var rows [glyphH]uint8
		for row := range glyphH {
			for col := range glyphW {
				x := cx + col*l.textScale + l.textScale/2
				y := l.textY + row*l.textScale + l.textScale/2
				if img.Y[y*img.YStride+x] > 128 {
					rows[row] |= 1 << (glyphW - 1 - col)
				}
			}
		}
		c := byte('?')
		if rows == ([glyphH]uint8{}) {
			c = ' '
		} else {
			for ch := range font {
				if font[ch] == rows {
					c = byte(ch)
					break
				}
			}
		}
		out = append(out, c)
	}
	return string(out)
}

func TestTextLine(t *testing.T) {
	clock := time.Date(2024, 5, 6, 7, 8, 9, 42e6, time.Local)
	for _, tc := range []struct {
		style   Style
		counter uint32
		want    string
	}{
		{StyleMaster, 1234, "MASTER #0001234 07:08:09.042"},
		{StyleViewer, 98765432, "VIEWER #8765432 07:08:09.042"},
	} {
		for _, sz := range sizes {
			g := New(sz[0], sz[1], 30, tc.style)
			if got := readText(t, g, g.Frame(tc.counter, clock)); got != tc.want {
				t.Errorf("%dx%d: text line %q, want %q", sz[0], sz[1], got, tc.want)
			}
			g.Close()
		}
	}
}

func TestBoxMoves(t *testing.T) {
	g := New(640, 480, 30, StyleMaster)
	defer g.Close()
	g.start = time.Now()
	boxX := func(img *image.YCbCr) int {
		l := g.lay
		y := l.barsBottom + (l.stampTop-l.barsBottom)/2
		for x := range l.w {
			if img.Y[y*img.YStride+x] == g.boxInk {
				return x
			}
		}
		return -1
	}
	x0 := boxX(g.Frame(0, g.start))
	x1 := boxX(g.Frame(1, g.start.Add(500*time.Millisecond)))
	x2 := boxX(g.Frame(2, g.start.Add(2*time.Second)))
	x3 := boxX(g.Frame(3, g.start.Add(3*time.Second)))
	if x0 != 0 || x1 <= x0 || x2 <= x1 || x3 >= x2 || x2+g.lay.boxSize != g.lay.w&^1 {
		t.Errorf("box positions %d %d %d %d (width %d, box %d): want moving right then back", x0, x1, x2, x3, g.lay.w, g.lay.boxSize)
	}
}

func TestGeneratorReadAndClose(t *testing.T) {
	g := New(321, 241, 60, StyleViewer)
	if w, h := g.Size(); w != 320 || h != 240 {
		t.Fatalf("Size = %dx%d, want 320x240", w, h)
	}
	for want := range uint32(5) {
		img, release, err := g.Read()
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		y, ok := img.(*image.YCbCr)
		if !ok || y.SubsampleRatio != image.YCbCrSubsampleRatio420 || y.Rect != image.Rect(0, 0, 320, 240) {
			t.Fatalf("frame %T %v: want 320x240 I420 *image.YCbCr", img, img.Bounds())
		}
		if got, ok := ReadCounter(img); !ok || got != want {
			t.Errorf("frame %d: ReadCounter = %d, %v", want, got, ok)
		}
		release()
	}
	// A Read blocked waiting for the next frame returns io.EOF when the generator is closed.
	done := make(chan error)
	go func() {
		// Drain frames until Close ends the stream.
		for {
			if _, _, err := g.Read(); err != nil {
				done <- err
				return
			}
		}
	}()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Errorf("Read after Close: %v, want io.EOF", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := g.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("Read after Close: %v, want io.EOF", err)
	}
}

func TestGeneratorClampsArguments(t *testing.T) {
	for _, tc := range []struct{ w, h, fps, ww, wh, wfps int }{
		{0, 0, 0, MinWidth, MinHeight, DefaultFPS},
		{-5, 100000, -1, MinWidth, MaxHeight, DefaultFPS},
		{1e6, 481, 1000, MaxWidth, 480, maxFPS},
	} {
		g := New(tc.w, tc.h, tc.fps, Style(42))
		w, h := g.Size()
		if w != tc.ww || h != tc.wh || g.FPS() != tc.wfps || g.style != StyleMaster {
			t.Errorf("New(%d, %d, %d): %dx%d@%d %v", tc.w, tc.h, tc.fps, w, h, g.FPS(), g.style)
		}
		if _, ok := ReadCounter(g.Frame(5, time.Now())); !ok {
			t.Errorf("New(%d, %d, %d): counter unreadable", tc.w, tc.h, tc.fps)
		}
		g.Close()
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	g := New(1280, 720, maxFPS, StyleMaster)
	defer g.Close()
	for range numBuffers {
		if _, _, err := g.Read(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, _, err := g.Read(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %v times per frame, want 0", allocs)
	}
}

func FuzzReadCounter(f *testing.F) {
	g := New(64, 48, 30, StyleMaster)
	frame := g.Frame(777, time.Now())
	g.Close()
	f.Add(uint8(64), uint8(48), frame.Y)
	f.Add(uint8(0), uint8(0), []byte{})
	f.Add(uint8(40), uint8(30), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, w, h uint8, pix []byte) {
		img := image.NewGray(image.Rect(0, 0, int(w), int(h)))
		copy(img.Pix, pix)
		c, ok := ReadCounter(img)
		if ok && c >= 1<<CounterBits {
			t.Fatalf("counter %d out of range", c)
		}
		if int(w)*int(h) == len(frame.Y) && bytes.Equal(pix, frame.Y) && (!ok || c != 777) {
			t.Fatalf("the seed frame reads as %d, %v", c, ok)
		}
	})
}

func BenchmarkRead720p(b *testing.B) {
	g := New(1280, 720, maxFPS, StyleMaster)
	defer g.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := g.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew720p measures making a generator: its buffers and their
// static drawing (on the path of every call's local media, and of every
// answer of the demo master).
func BenchmarkNew720p(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New(1280, 720, 30, StyleMaster).Close()
	}
}

// BenchmarkDraw720p measures the per-frame drawing cost without the pacing.
func BenchmarkDraw720p(b *testing.B) {
	g := New(1280, 720, 30, StyleMaster)
	defer g.Close()
	img := g.frame(0)
	now := time.Now()
	b.ReportAllocs()
	var i uint32
	for b.Loop() {
		g.drawDynamic(img, i, now)
		i++
	}
}

func TestKickReturnsNextFrameAtOnce(t *testing.T) {
	g := New(64, 48, 1, StyleMaster) // one frame a second
	defer g.Close()
	if _, _, err := g.Read(); err != nil { // the first frame comes at once
		t.Fatal(err)
	}
	g.Kick() // pending before the Read: it must not wait for the ticker
	done := make(chan error, 1)
	go func() {
		_, _, err := g.Read()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(900 * time.Millisecond):
		// Not a timing assertion on speed: at 1 fps an unkicked Read takes a
		// whole second, so this only tells whether Kick worked at all.
		t.Fatal("Read still waits for the ticker after Kick")
	}
}

// TestStampRoundTrip: the bottom strip carries the frame's capture time,
// readable from the frame and from a scaled RGBA copy, and StampAge turns it
// into the frame's age (across the stamp's wrap too).
func TestStampRoundTrip(t *testing.T) {
	g := New(320, 240, 30, StyleMaster)
	defer g.Close()
	at := time.UnixMilli(1_780_000_123_456)
	img := g.Frame(7, at)
	s, ok := ReadStamp(img)
	if !ok || s != Stamp(at) {
		t.Fatalf("stamp %d %v, want %d", s, ok, Stamp(at))
	}
	if n, ok := ReadCounter(img); !ok || n != 7 {
		t.Fatalf("the counter strip reads %d %v next to the stamp", n, ok)
	}
	small := image.NewRGBA(image.Rect(0, 0, 160, 120))
	rgba := ToRGBA(nil, img)
	for y := range 120 {
		for x := range 160 {
			small.Set(x, y, rgba.At(2*x, 2*y))
		}
	}
	if s2, ok := ReadStamp(small); !ok || s2 != s {
		t.Errorf("from a half-size copy: %d %v", s2, ok)
	}
	if age := StampAge(s, at.Add(137*time.Millisecond)); age != 137*time.Millisecond {
		t.Errorf("age %s, want 137ms", age)
	}
	wrap := time.UnixMilli(int64(1<<CounterBits)*100 - 5) // 5 ms before the stamp wraps
	if age := StampAge(Stamp(wrap), wrap.Add(20*time.Millisecond)); age != 20*time.Millisecond {
		t.Errorf("age across the wrap %s, want 20ms", age)
	}
	if age := StampAge(Stamp(at), at.Add(-time.Second)); age != 0 {
		t.Errorf("a stamp from the future (clocks apart) reads %s, want 0", age)
	}
}

// TestStaticDrawingPerStyle: the static drawing kept for one style is not
// handed to a generator of the other style at the same size, and one of
// the same size and style shares it.
func TestStaticDrawingPerStyle(t *testing.T) {
	viewer := New(640, 480, 30, StyleViewer)
	master := New(640, 480, 30, StyleMaster)
	again := New(640, 480, 30, StyleMaster)
	for _, g := range []*Generator{viewer, master, again} {
		g.Close()
	}
	if master.static == viewer.static || bytes.Equal(master.static.Y, viewer.static.Y) {
		t.Fatal("the master's generator got the viewer's static drawing")
	}
	if again.static != master.static {
		t.Error("a second generator of the same size and style drew the static part again")
	}
}

// TestPrepareBesideRead: Prepare makes every buffer while Read runs on
// another goroutine (the race detector watches), and the frames Read
// returns meanwhile are whole pictures.
func TestPrepareBesideRead(t *testing.T) {
	g := New(320, 240, 120, StyleViewer)
	defer g.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Prepare()
	}()
	for range 3 {
		img, _, err := g.Read()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ReadCounter(img); !ok {
			t.Error("a frame read beside Prepare has no readable counter")
		}
	}
	<-done
	for i, f := range g.frames {
		if f == nil {
			t.Errorf("buffer %d not made by Prepare", i)
		}
	}
}
