package ui

import (
	"image"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/media/sink"
)

// BenchmarkVideoViewFrame is the UI thread's own work per 1280x720 frame:
// the one copy out of the sink into the view's reused buffer and the image
// refresh (the GL upload and drawing, done by the driver, are not included:
// the test driver has none).
func BenchmarkVideoViewFrame(b *testing.B) {
	test.NewTempApp(b)
	v := NewVideoView("")
	test.NewTempWindow(b, v)
	l := sink.NewLatest()
	v.SetSource(l)
	frame := sink.Frame{Image: image.NewRGBA(image.Rect(0, 0, 1280, 720))}
	b.SetBytes(1280 * 720 * 4)
	b.ReportAllocs()
	l.PutFrame(frame)
	for b.Loop() {
		v.ShowLatest()
	}
	if shown, _ := v.Counts(); shown == 0 {
		b.Fatal("no frame shown")
	}
}
