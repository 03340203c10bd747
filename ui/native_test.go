package ui

import (
	"image"
	"testing"

	"fyne.io/fyne/v2"
)

func TestFitRect(t *testing.T) {
	for _, tc := range []struct {
		pos   fyne.Position
		size  fyne.Size
		scale float32
		w, h  int
		want  image.Rectangle
	}{
		// The window's video area: as high as it is, centred across.
		{fyne.NewPos(4, 92), fyne.NewSize(1272, 667.7), 1, 1280, 720, image.Rect(46, 92, 1234, 760)},
		// Wider than the picture's aspect allows: full width, centred down.
		{fyne.NewPos(0, 0), fyne.NewSize(640, 480), 1, 1280, 720, image.Rect(0, 60, 640, 420)},
		// HiDPI: Fyne units times the scale.
		{fyne.NewPos(10, 10), fyne.NewSize(320, 180), 2, 640, 360, image.Rect(20, 20, 660, 380)},
		{fyne.NewPos(0, 0), fyne.NewSize(0, 100), 1, 640, 360, image.Rectangle{}},
		{fyne.NewPos(0, 0), fyne.NewSize(100, 100), 1, 0, 360, image.Rectangle{}},
	} {
		if got := fitRect(tc.pos, tc.size, tc.scale, tc.w, tc.h); got != tc.want {
			t.Errorf("fitRect(%v, %v, %v, %dx%d) = %v, want %v", tc.pos, tc.size, tc.scale, tc.w, tc.h, got, tc.want)
		}
	}
}
