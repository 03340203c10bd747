package pattern

import (
	"image"
	"testing"
)

// readAll reads n frames of g and returns them.
func readAll(t *testing.T, g *Generator, n int) []*image.YCbCr {
	t.Helper()
	var out []*image.YCbCr
	for range n {
		img, _, err := g.Read()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img.(*image.YCbCr))
	}
	return out
}

// TestBuffersServeTheNextGenerator: the frame buffers of a closed generator
// are those of the next one of the same size and style (no new 1.4 MB
// buffers per call), and its frames are whole: the counter starts again at 0
// and reads back, and the bars are the static drawing's. Another size gets
// buffers of its own.
func TestBuffersServeTheNextGenerator(t *testing.T) {
	first := New(352, 288, 240, StyleMaster)
	old := map[*uint8]bool{}
	for _, img := range readAll(t, first, numBuffers+1) {
		old[&img.Y[0]] = true
	}
	first.Kick()
	first.Close()

	next := New(352, 288, 240, StyleMaster)
	defer next.Close()
	for i, img := range readAll(t, next, numBuffers) {
		if !old[&img.Y[0]] {
			t.Errorf("frame %d: a new buffer, not one of the closed generator's", i)
		}
		if c, ok := ReadCounter(img); !ok || c != uint32(i) {
			t.Errorf("frame %d: counter %d (readable %v), want %d", i, c, ok, i)
		}
		l := next.lay
		for y := l.barsTop; y < l.barsBottom; y++ {
			row := y * img.YStride
			if string(img.Y[row:row+l.w]) != string(next.static.Y[row:row+l.w]) {
				t.Fatalf("frame %d: bar row %d differs from the static drawing", i, y)
			}
		}
	}

	other := New(320, 240, 240, StyleMaster)
	defer other.Close()
	for _, img := range readAll(t, other, numBuffers) {
		if old[&img.Y[0]] {
			t.Fatal("a 320x240 generator got a 352x288 buffer")
		}
	}
}

// TestCloseBesideRead: Close hands the buffers on while Read runs on
// another goroutine (the race detector watches); Read then ends with io.EOF.
func TestCloseBesideRead(t *testing.T) {
	for range 20 {
		g := New(160, 120, 240, StyleViewer)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := g.Read(); err != nil {
					return
				}
			}
		}()
		other := New(160, 120, 240, StyleViewer) // takes and draws buffers meanwhile
		readAll(t, other, 2)
		g.Close()
		other.Close()
		<-done
	}
}
