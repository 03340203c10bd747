package ui

import (
	"fmt"
	"image"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/sink"
	"github.com/kvsviewer/kvsviewer/ui/xwin"
)

// Surface is a native window area a VideoView draws its frames into instead
// of Fyne's canvas (ui/xwin implements it for X11). Safe for concurrent use.
type Surface interface {
	// SetGeometry places the surface in window pixels and shows or hides it.
	SetGeometry(x, y, w, h int, visible bool) error
	// Draw lets fill write the next picture (BGRX) and shows it.
	Draw(fill func(pix []byte, stride, w, h int) bool) error
	// Redraw repaints the last picture where the window was exposed.
	Redraw() error
	// Close releases the surface.
	Close() error
}

// placeEvery is how often a view with a surface checks where it is on screen:
// dialogs and moves do not tell a widget, so it asks (resizes, tab switches
// and full screen place it at once). Each check wakes the Fyne event loop.
const placeEvery = 250 * time.Millisecond

// nativeOut is a VideoView's drawing into a Surface.
type nativeOut struct {
	s       Surface
	visible func() bool   // whether the view may show now (tab, dialogs)
	wake    chan struct{} // a frame is waiting (1-buffered: frames coalesce)
	stop    chan struct{}
	wg      sync.WaitGroup

	has    atomic.Bool     // a frame is there to show
	frameW atomic.Int32    // size of the latest frame
	frameH atomic.Int32    //
	rect   image.Rectangle // where the surface is, owned by the Fyne goroutine
	shown  bool            // whether it is mapped, owned by the Fyne goroutine
}

// UseSurface makes the view draw its frames into s from now on; visible
// (called on the Fyne goroutine) says whether the view may be shown at the
// moment, beyond being visible itself (e.g. its tab is selected and no dialog
// covers the window). Call it on the Fyne goroutine, once.
func (v *VideoView) UseSurface(s Surface, visible func() bool) {
	n := &nativeOut{s: s, visible: visible, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	v.native = n
	v.image.Image = nil
	v.image.Hide()
	v.image.Refresh()
	n.wg.Add(2)
	go v.present(n)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(placeEvery)
		defer t.Stop()
		for {
			select {
			case <-n.stop:
				return
			case <-t.C:
				fyne.Do(v.place)
			}
		}
	}()
}

// CloseSurface stops drawing into the surface and closes it. Call it once,
// not on the Fyne goroutine (it waits for the view's goroutines, which may be
// waiting for it).
func (v *VideoView) CloseSurface() error {
	n := v.native
	if n == nil {
		return nil
	}
	close(n.stop)
	n.wg.Wait()
	return n.s.Close()
}

// present draws each frame that FrameReady announces, at most one per pace.
func (v *VideoView) present(n *nativeOut) {
	defer n.wg.Done()
	scaler := decode.NewScaler()
	defer scaler.Close()
	for {
		select {
		case <-n.stop:
			return
		case <-n.wake:
		}
		if v.pace > 0 {
			wait := time.Duration(v.last.Load() + int64(v.pace) - v.now().UnixNano())
			if wait > 0 {
				select {
				case <-n.stop:
					return
				case <-time.After(wait):
				}
			}
		}
		v.drawNative(n, scaler)
	}
}

// drawNative converts the newest frame into the surface. A frame of a new
// size (or the first one) is only recorded: the view then places the surface
// for it on the Fyne goroutine and wakes this loop again to draw.
func (v *VideoView) drawNative(n *nativeOut, scaler *decode.Scaler) {
	src := v.currentSource()
	if src == nil {
		return
	}
	var w, h int
	if !src.Peek(func(_ image.Image, info sink.FrameInfo) { w, h = info.Width, info.Height }) {
		return
	}
	if !n.has.Load() || int(n.frameW.Load()) != w || int(n.frameH.Load()) != h {
		n.frameW.Store(int32(w))
		n.frameH.Store(int32(h))
		n.has.Store(true)
		fyne.Do(v.place)
		return
	}
	var scaleErr error
	drawn := false
	err := n.s.Draw(func(pix []byte, stride, dw, dh int) bool {
		return src.Peek(func(img image.Image, _ sink.FrameInfo) {
			if scaleErr = scaler.ToBGRX(pix, stride, dw, dh, img); scaleErr == nil {
				drawn = true
			}
		}) && drawn
	})
	if err == nil {
		err = scaleErr
	}
	if err != nil {
		slog.Debug("video surface draw failed", "err", err)
		return
	}
	if drawn {
		v.shown.Add(1)
		v.last.Store(v.now().UnixNano())
	}
}

// place puts the surface over the picture's part of the view (aspect kept,
// centred), or hides it. Call it on the Fyne goroutine.
func (v *VideoView) place() {
	n := v.native
	if n == nil {
		return
	}
	c := fyne.CurrentApp().Driver().CanvasForObject(v)
	show := c != nil && n.has.Load() && v.Visible() && n.visible()
	var r image.Rectangle
	if show {
		pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(v)
		r = fitRect(pos, v.Size(), c.Scale(), int(n.frameW.Load()), int(n.frameH.Load()))
		show = !r.Empty()
	}
	// Only on a change: canvas.Text's Hide and Show repaint the window.
	if show && v.placeholder.Visible() {
		v.placeholder.Hide()
	} else if !show && !n.has.Load() && !v.placeholder.Visible() {
		v.placeholder.Show()
	}
	if show == n.shown && (!show || r == n.rect) {
		if err := n.s.Redraw(); err != nil {
			slog.Debug("video surface redraw failed", "err", err)
		}
		return
	}
	if err := n.s.SetGeometry(r.Min.X, r.Min.Y, r.Dx(), r.Dy(), show); err != nil {
		slog.Warn("video surface cannot be placed", "err", err)
		return
	}
	n.rect, n.shown = r, show
	if show { // newly shown or resized: draw the current frame at once
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

// fitRect is where a w x h picture goes, in window pixels, inside a view at
// pos with size (in Fyne units; scale is the canvas scale): as large as fits
// with its aspect kept, centred.
func fitRect(pos fyne.Position, size fyne.Size, scale float32, w, h int) image.Rectangle {
	if w <= 0 || h <= 0 {
		return image.Rectangle{}
	}
	px := func(f float32) int { return int(math.Round(float64(f * scale))) }
	x0, y0 := px(pos.X), px(pos.Y)
	aw, ah := px(pos.X+size.Width)-x0, px(pos.Y+size.Height)-y0
	dw, dh := aw, (aw*h+w/2)/w
	if dh > ah {
		dw, dh = (ah*w+h/2)/h, ah
	}
	if dw <= 0 || dh <= 0 {
		return image.Rectangle{}
	}
	x, y := x0+(aw-dw)/2, y0+(ah-dh)/2
	return image.Rect(x, y, x+dw, y+dh)
}

// openSurfaces opens one native surface per view, in order (a later one lies
// above an earlier one), as child windows of win. It fails where the window
// is not an X11 window (other platforms, Wayland) or the display cannot do it;
// the views then keep drawing through Fyne.
func openSurfaces(win fyne.Window, n int) ([]Surface, error) {
	nw, ok := win.(driver.NativeWindow)
	if !ok {
		return nil, fmt.Errorf("video surface: %T has no native window", win)
	}
	var handle uintptr
	nw.RunNative(func(ctx any) {
		if x, ok := ctx.(driver.X11WindowContext); ok {
			handle = x.WindowHandle
		}
	})
	if handle == 0 {
		return nil, fmt.Errorf("video surface: not an X11 window: %w", xwin.ErrUnsupported)
	}
	var out []Surface
	for range n {
		s, err := xwin.Open(handle)
		if err != nil {
			for _, o := range out {
				_ = o.Close()
			}
			return nil, fmt.Errorf("video surface: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}
