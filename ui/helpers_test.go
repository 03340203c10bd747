package ui

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/media/sink"
)

// Test helpers shared by the widget tests.

// markupText returns the rendered markup of o, which holds every label's text.
func markupText(o fyne.CanvasObject) string { return test.RenderObjectToMarkup(o) }

// snapSource is a Source made of a snapshot function, for tests.
type snapSource func(dst *image.RGBA) (*image.RGBA, bool)

func (f snapSource) Snapshot(dst *image.RGBA) (*image.RGBA, sink.FrameInfo, bool) {
	img, ok := f(dst)
	return img, sink.FrameInfo{}, ok
}

func (f snapSource) Peek(fn func(image.Image, sink.FrameInfo)) bool {
	img, ok := f(nil)
	if ok {
		fn(img, sink.FrameInfo{Width: img.Rect.Dx(), Height: img.Rect.Dy()})
	}
	return ok
}
