package ui

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// Source is where a VideoView takes its frames; *sink.Latest is one.
type Source interface {
	// Snapshot copies the newest frame into dst (reused when its size fits)
	// and returns it; ok is false when there is no frame.
	Snapshot(dst *image.RGBA) (img *image.RGBA, info sink.FrameInfo, ok bool)
	// Peek calls fn with the newest frame without copying it; false when
	// there is none.
	Peek(fn func(img image.Image, info sink.FrameInfo)) bool
}

// VideoView shows frames from a Source, keeping the aspect ratio and scaling
// with the window. FrameReady, called from any goroutine when a new frame
// exists, schedules at most one pending refresh: frames arriving while one is
// pending are coalesced into it.
//
// By default the picture is a canvas.Image drawn by Fyne's OpenGL painter:
// each refresh copies one frame into a reused buffer and repaints the window.
// With UseSurface (an X11 child window, see native.go) frames bypass Fyne:
// they are converted and scaled straight into the surface on a goroutine of
// the view, and the window is not repainted for them.
//
// A paced view (SetPace) shows at most about one frame per pace interval and
// prefers to show it together with another view's refresh (ShowIfDue): the
// window repaints as a whole, so a refresh of its own would cost a full
// repaint for a small picture.
type VideoView struct {
	widget.BaseWidget
	image       *canvas.Image
	placeholder *canvas.Text

	mu     sync.Mutex
	source Source
	native *nativeOut // nil: frames go through the canvas.Image

	pace    time.Duration // 0: every frame at once; set before frames flow
	now     func() time.Time
	last    atomic.Int64 // UnixNano of the last frame shown
	pending atomic.Bool
	shown   atomic.Uint64 // frames put on screen
	skipped atomic.Uint64 // FrameReady calls coalesced into a pending refresh
	buf     *image.RGBA   // owned by the Fyne goroutine
	onShown func()        // called on the Fyne goroutine after a frame was shown
}

// NewVideoView returns an empty view showing placeholder text until the
// first frame.
func NewVideoView(placeholder string) *VideoView {
	v := &VideoView{
		image:       canvas.NewImageFromImage(nil),
		placeholder: canvas.NewText(placeholder, color.NRGBA{R: 0xc8, G: 0xc8, B: 0xc8, A: 0xff}),
		now:         time.Now,
	}
	v.image.FillMode = canvas.ImageFillContain
	v.image.ScaleMode = canvas.ImageScaleFastest
	v.placeholder.Alignment = fyne.TextAlignCenter
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer implements fyne.Widget. There is no background behind the
// picture: with software GL every full-size layer costs a full pass of
// pixel work per frame, so the letterbox shows the window's background.
func (v *VideoView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(v.image, container.NewCenter(v.placeholder)))
}

// Resize implements fyne.CanvasObject; a surface follows at once.
func (v *VideoView) Resize(size fyne.Size) {
	if v.native != nil && size != v.Size() {
		fyne.Do(v.place) // once the layout pass is over
	}
	v.BaseWidget.Resize(size)
}

// Move implements fyne.CanvasObject; a surface follows at once.
func (v *VideoView) Move(pos fyne.Position) {
	if v.native != nil && pos != v.Position() {
		fyne.Do(v.place)
	}
	v.BaseWidget.Move(pos)
}

// MinSize keeps the view small enough to fit any window; it grows with it.
func (v *VideoView) MinSize() fyne.Size { return fyne.NewSize(64, 36) }

// SetSource sets where frames come from (nil detaches) and clears the picture.
// Call it on the Fyne goroutine.
func (v *VideoView) SetSource(src Source) {
	v.mu.Lock()
	v.source = src
	v.mu.Unlock()
	v.Clear()
}

func (v *VideoView) currentSource() Source {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.source
}

// Clear removes the picture and shows the placeholder. Call it on the Fyne goroutine.
func (v *VideoView) Clear() {
	v.image.Image = nil
	v.image.Refresh()
	v.placeholder.Show()
	if n := v.native; n != nil {
		n.has.Store(false)
		v.place()
	}
}

// SetPlaceholder changes the text shown while there is no picture.
// Call it on the Fyne goroutine.
func (v *VideoView) SetPlaceholder(text string) {
	v.placeholder.Text = text
	v.placeholder.Refresh()
}

// SetPace makes the view show at most about one frame per interval d (0,
// the default, shows every frame at once). A frame that is due is shown
// with the next refresh of the view whose ShowIfDue is linked to this one,
// or on its own once half an interval more has passed without one. Call it
// before frames flow.
func (v *VideoView) SetPace(d time.Duration) { v.pace = d }

// OnShown sets fn to run on the Fyne goroutine after each frame this view
// shows (nil for none), e.g. another view's ShowIfDue so that both pictures
// change in the same repaint. Call it on the Fyne goroutine.
func (v *VideoView) OnShown(fn func()) { v.onShown = fn }

// FrameReady schedules a refresh from the source; safe from any goroutine.
func (v *VideoView) FrameReady() {
	if n := v.native; n != nil {
		select {
		case n.wake <- struct{}{}:
		default:
			v.skipped.Add(1)
		}
		return
	}
	if !v.pending.CompareAndSwap(false, true) {
		v.skipped.Add(1)
		return
	}
	if v.pace <= 0 {
		fyne.Do(v.ShowLatest)
		return
	}
	// Fallback for when no linked refresh comes along to carry the frame.
	wait := time.Duration(v.last.Load()+int64(v.pace+v.pace/2)) - time.Duration(v.now().UnixNano())
	if wait <= 0 {
		fyne.Do(v.showPending)
		return
	}
	time.AfterFunc(wait, func() { fyne.Do(v.showPending) })
}

// ShowIfDue shows the newest frame if one is waiting and the view's pace
// allows it (a frame shown at least 4/5 of the pace interval ago). Call it
// on the Fyne goroutine, typically from another view's OnShown.
func (v *VideoView) ShowIfDue() {
	if !v.pending.Load() {
		return
	}
	if time.Duration(v.now().UnixNano()-v.last.Load()) < v.pace-v.pace/5 {
		return
	}
	v.ShowLatest()
}

// showPending shows the newest frame unless a linked refresh already did.
func (v *VideoView) showPending() {
	if v.pending.Load() {
		v.ShowLatest()
	}
}

// ShowLatest copies the newest frame from the source into the view now.
// Call it on the Fyne goroutine (FrameReady does).
func (v *VideoView) ShowLatest() {
	v.pending.Store(false)
	src := v.currentSource()
	if src == nil || v.native != nil {
		return
	}
	img, _, ok := src.Snapshot(v.buf)
	if !ok || img == nil {
		return
	}
	v.buf = img
	v.image.Image = img
	v.placeholder.Hide()
	v.image.Refresh()
	v.shown.Add(1)
	v.last.Store(v.now().UnixNano())
	if v.onShown != nil {
		v.onShown()
	}
}

// Counts returns how many frames were shown and how many FrameReady calls
// were folded into an already pending refresh.
func (v *VideoView) Counts() (shown, coalesced uint64) {
	return v.shown.Load(), v.skipped.Load()
}

// Image returns the frame on screen when Fyne draws the picture, or nil
// (always nil with a surface).
func (v *VideoView) Image() image.Image { return v.image.Image }

// HasPicture reports whether the view shows a frame (rather than its
// placeholder), drawn by Fyne or into its surface. Call it on the Fyne
// goroutine.
func (v *VideoView) HasPicture() bool {
	if n := v.native; n != nil {
		return n.has.Load() && n.shown
	}
	return v.image.Image != nil
}

// Native reports whether the view draws into a surface (UseSurface).
func (v *VideoView) Native() bool { return v.native != nil }

// FormatStats renders live call statistics as one line: resolution and
// codec, fps, bitrates, RTT and loss.
func FormatStats(s *call.Stats) string {
	if s == nil {
		return "no statistics yet"
	}
	var parts []string
	if s.Width > 0 && s.Height > 0 {
		res := fmt.Sprintf("%dx%d", s.Width, s.Height)
		if s.Codec != "" {
			res += " " + s.Codec
		}
		parts = append(parts, res)
	} else if s.Codec != "" {
		parts = append(parts, s.Codec)
	}
	parts = append(parts,
		fmt.Sprintf("%.1f fps", s.FPS),
		inOut(s.InboundKbps, s.OutboundKbps),
		fmt.Sprintf("RTT %d ms", s.RTT.Milliseconds()),
		fmt.Sprintf("loss %.1f%%", s.LossPercent),
	)
	if s.CandidateType != "" {
		parts = append(parts, s.CandidateType)
	}
	if s.DataRTT > 0 {
		parts = append(parts, "data RTT "+fineMS(s.DataRTT))
	}
	if s.LatencySamples > 0 {
		// Read from the master's stamped pattern: only as good as the two clocks.
		parts = append(parts, fmt.Sprintf("latency %d ms (p95 %d)", s.Latency.Milliseconds(), s.LatencyP95.Milliseconds()))
	}
	if s.SenderReportDelay != 0 && s.LatencySamples == 0 {
		// Network plus the clocks' difference, from RTCP: the estimate left
		// when the master is a camera. With a stamped pattern the latency
		// above says more, and the line must fit a 1280-pixel window with
		// the A/V offset (the JSON stats keep both).
		parts = append(parts, fmt.Sprintf("RTCP one-way %d ms", s.SenderReportDelay.Milliseconds()))
	}
	if s.AVSyncSamples > 0 {
		// Read from the master's flash and beep: a pattern master only.
		parts = append(parts, "A/V "+AVSyncWords(s.AVSync))
	}
	return strings.Join(parts, " · ")
}

// AVSyncWords says an A/V offset (positive: audio late) in milliseconds and words,
// e.g. "+24 ms (audio late)".
func AVSyncWords(d time.Duration) string {
	ms := d.Round(time.Millisecond).Milliseconds()
	switch {
	case ms > 0:
		return fmt.Sprintf("+%d ms (audio late)", ms)
	case ms < 0:
		return fmt.Sprintf("%d ms (audio early)", ms)
	}
	return "0 ms (in sync)"
}

// inOut says the bitrates in and out, the unit once when they share it:
// "in 850 / out 820 kbps".
func inOut(in, out float64) string {
	i, iUnit := rate(in)
	o, oUnit := rate(out)
	if iUnit == oUnit {
		return fmt.Sprintf("in %s / out %s %s", i, o, oUnit)
	}
	return fmt.Sprintf("in %s %s / out %s %s", i, iUnit, o, oUnit)
}

// rate says a bitrate in kbit/s as a number and its unit, kbps or Mbps.
func rate(kbps float64) (num, unit string) {
	if kbps >= 1000 {
		return fmt.Sprintf("%.1f", kbps/1000), "Mbps"
	}
	return fmt.Sprintf("%.0f", kbps), "kbps"
}
