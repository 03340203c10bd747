package sink_test

import (
	"image"
	"image/color"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestLatestSnapshotAndStats(t *testing.T) {
	l := sink.NewLatest()
	if _, _, ok := l.Snapshot(nil); ok {
		t.Fatal("snapshot of empty sink ok")
	}
	var hooks atomic.Int32
	l.OnFrame(func() { hooks.Add(1) })
	src := solid(8, 6, color.RGBA{R: 10, G: 20, B: 30, A: 255})
	l.PutFrame(sink.Frame{Image: src, Codec: "H264", RTPTimestamp: 90, Seq: 1})
	src.Pix[0] = 99 // the sink must have copied
	img, info, ok := l.Snapshot(nil)
	if !ok || info.Width != 8 || info.Height != 6 || info.Codec != "H264" || info.Seq != 1 || info.RTPTimestamp != 90 {
		t.Fatalf("snapshot: ok=%v info=%+v", ok, info)
	}
	if img.RGBAAt(0, 0) != (color.RGBA{R: 10, G: 20, B: 30, A: 255}) {
		t.Fatalf("pixel %v", img.RGBAAt(0, 0))
	}
	// A sub-image with an offset origin and wider stride copies the right pixels.
	big := solid(20, 20, color.RGBA{A: 255})
	big.SetRGBA(5, 7, color.RGBA{R: 200, A: 255})
	l.PutFrame(sink.Frame{Image: big.SubImage(image.Rect(5, 7, 15, 12)).(*image.RGBA), Codec: "VP8", Seq: 2})
	img2, info, _ := l.Snapshot(img)
	if img2 == img || info.Width != 10 || info.Height != 5 || img2.RGBAAt(0, 0).R != 200 || img2.RGBAAt(1, 0).R != 0 {
		t.Fatalf("sub-image snapshot: info=%+v px=%v", info, img2.RGBAAt(0, 0))
	}
	// Two frames without a Snapshot in between: one is late.
	l.PutFrame(sink.Frame{Image: src, Seq: 3})
	l.PutFrame(sink.Frame{Image: src, Seq: 4})
	l.CountDropped(3)
	l.CountDropped(-1)
	l.PutFrame(sink.Frame{}) // no picture: ignored
	s := l.Stats()
	if s.Decoded != 4 || s.Late != 1 || s.Dropped != 3 || s.Width != 8 || s.Height != 6 || s.FirstFrame.IsZero() {
		t.Fatalf("stats %+v", s)
	}
	if s.FPS < 1 || s.FPS > 4 {
		t.Fatalf("FPS %v, want 1..4", s.FPS)
	}
	if hooks.Load() != 4 {
		t.Fatalf("hook called %d times, want 4", hooks.Load())
	}
	l.OnFrame(nil)
	l.PutFrame(sink.Frame{Image: src})
	if hooks.Load() != 4 {
		t.Fatal("hook called after removal")
	}
}

func TestLatestNoAllocSteadyState(t *testing.T) {
	l := sink.NewLatest()
	src := solid(64, 48, color.RGBA{R: 1, A: 255})
	var dst *image.RGBA
	for range 3 {
		l.PutFrame(sink.Frame{Image: src})
		dst, _, _ = l.Snapshot(dst)
	}
	allocs := testing.AllocsPerRun(50, func() {
		l.PutFrame(sink.Frame{Image: src, Codec: "H264", Decoded: time.Now()})
		dst, _, _ = l.Snapshot(dst)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per frame", allocs)
	}
}

// TestLatestConcurrent runs a writer and readers at once (run with -race): every
// snapshot must be one whole frame, never a mix of two.
func TestLatestConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := sink.NewLatest()
	frames := [2]*image.RGBA{solid(32, 32, color.RGBA{R: 255, A: 255}), solid(32, 32, color.RGBA{B: 255, A: 255})}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			l.PutFrame(sink.Frame{Image: frames[i%2], Seq: uint64(i + 1)})
		}
		close(done)
	}()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst *image.RGBA
			for {
				select {
				case <-done:
					return
				default:
				}
				var ok bool
				var info sink.FrameInfo
				dst, info, ok = l.Snapshot(dst)
				if !ok {
					continue
				}
				want := frames[(info.Seq-1)%2].RGBAAt(0, 0)
				for y := range 32 {
					for x := range 32 {
						if dst.RGBAAt(x, y) != want {
							t.Errorf("seq %d: torn frame at %d,%d", info.Seq, x, y)
							return
						}
					}
				}
				_ = l.Stats()
			}
		}()
	}
	wg.Wait()
	if s := l.Stats(); s.Decoded != 2000 {
		t.Fatalf("decoded %d", s.Decoded)
	}
}

func BenchmarkLatest1080p(b *testing.B) {
	l := sink.NewLatest()
	src := solid(1920, 1080, color.RGBA{G: 9, A: 255})
	var dst *image.RGBA
	b.ReportAllocs()
	for b.Loop() {
		l.PutFrame(sink.Frame{Image: src})
		dst, _, _ = l.Snapshot(dst)
	}
}

func TestResetForgetsFrameAndCounters(t *testing.T) {
	l := sink.NewLatest()
	calls := 0
	l.OnFrame(func() { calls++ })
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	l.PutFrame(sink.Frame{Image: img, Codec: "VP8"})
	l.CountDropped(2)
	l.Reset()
	if _, _, ok := l.Snapshot(nil); ok {
		t.Fatal("Snapshot after Reset returned the old frame")
	}
	if st := l.Stats(); st.Decoded != 0 || st.Dropped != 0 || st.FPS != 0 || st.Codec != "" || !st.FirstFrame.IsZero() {
		t.Fatalf("stats after Reset: %+v", st)
	}
	if calls != 2 {
		t.Fatalf("hook called %d times, want 2 (frame + reset)", calls)
	}
	l.PutFrame(sink.Frame{Image: img, Codec: "H264"})
	if _, info, ok := l.Snapshot(nil); !ok || info.Codec != "H264" {
		t.Fatalf("frame after Reset: ok=%v info=%+v", ok, info)
	}
}

// TestLatestPictures: decoded 4:2:0 pictures are kept as pictures (Peek sees
// them without a copy), Snapshot converts them to RGBA, and frames of another
// image type are ignored.
func TestLatestPictures(t *testing.T) {
	l := sink.NewLatest()
	if l.Peek(func(image.Image, sink.FrameInfo) { t.Fatal("Peek called fn on an empty sink") }) {
		t.Fatal("Peek of an empty sink ok")
	}
	// A limited-range BT.601 picture: Y 81, Cb 90, Cr 240 is pure red.
	pic := &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, 16, 8), image.YCbCrSubsampleRatio420)}
	fill := func(b []byte, v byte) {
		for i := range b {
			b[i] = v
		}
	}
	fill(pic.Y, 81)
	fill(pic.Cb, 90)
	fill(pic.Cr, 240)
	l.PutFrame(sink.Frame{Image: pic, Codec: "H264", Seq: 1})
	fill(pic.Y, 0) // the sink must have copied
	var peeked image.Image
	if !l.Peek(func(img image.Image, info sink.FrameInfo) {
		peeked = img
		if info.Width != 16 || info.Height != 8 || info.Seq != 1 {
			t.Errorf("Peek info %+v", info)
		}
	}) {
		t.Fatal("Peek found no frame")
	}
	if p, ok := peeked.(*decode.Picture); !ok || p.Y[0] != 81 {
		t.Fatalf("Peek gave %T (Y %v), want the copied picture", peeked, p)
	}
	img, info, ok := l.Snapshot(nil)
	if !ok || info.Width != 16 {
		t.Fatalf("Snapshot ok=%v info=%+v", ok, info)
	}
	if c := img.RGBAAt(3, 3); c.R < 240 || c.G > 15 || c.B > 15 {
		t.Fatalf("Snapshot pixel %v, want red", c)
	}
	// Peek counts as showing the frame: a frame replaced after it is not late.
	l.PutFrame(sink.Frame{Image: pic, Seq: 2})
	l.Peek(func(image.Image, sink.FrameInfo) {})
	l.PutFrame(sink.Frame{Image: pic, Seq: 3})
	if s := l.Stats(); s.Late != 0 || s.Decoded != 3 {
		t.Fatalf("stats %+v, want 3 decoded, 0 late", s)
	}
	l.PutFrame(sink.Frame{Image: image.NewGray(image.Rect(0, 0, 4, 4))})
	if s := l.Stats(); s.Decoded != 3 {
		t.Fatalf("a gray image was taken: %+v", s)
	}
}

func TestDropPictures(t *testing.T) {
	l := sink.NewLatest()
	pic := &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, 64, 32), image.YCbCrSubsampleRatio420)}
	l.PutFrame(sink.Frame{Image: pic, Codec: "H264", Seq: 1})
	l.DropPictures()
	if _, _, ok := l.Snapshot(nil); ok {
		t.Fatal("Snapshot found the frame kept before DropPictures")
	}
	for seq := range uint64(51) {
		l.PutFrame(sink.Frame{Image: pic, Codec: "H264", Seq: seq + 2})
	}
	if l.Peek(func(image.Image, sink.FrameInfo) { t.Error("Peek called fn") }) {
		t.Error("Peek found a frame after DropPictures")
	}
	if _, _, ok := l.Snapshot(nil); ok {
		t.Error("Snapshot found a frame after DropPictures")
	}
	s := l.Stats()
	if s.Decoded != 52 || s.Width != 64 || s.Height != 32 || s.Codec != "H264" || s.FirstFrame.IsZero() {
		t.Errorf("stats %+v, want 52 frames of 64x32 H264 counted", s)
	}
}
