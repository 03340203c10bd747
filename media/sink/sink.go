// Package sink holds the decoded-video frame sink shared by the UI and the
// headless modes: the decoder goroutine puts frames in, readers take copies.
package sink

import (
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvsviewer/kvsviewer/media/decode"
)

// Frame is one decoded picture handed to a FrameSink.
type Frame struct {
	// Image is an *image.RGBA or a *decode.Picture, owned by the caller (the
	// decoder) and valid only during PutFrame.
	Image         image.Image
	Width, Height int
	// Codec is the codec name, e.g. "H264" or "VP8".
	Codec string
	// RTPTimestamp is the RTP timestamp of the frame's packets.
	RTPTimestamp uint32
	// Received is when the frame's data was complete; Decoded when decoding finished.
	Received, Decoded time.Time
	// Seq numbers the frames of a stream from 1.
	Seq uint64
}

// FrameSink receives decoded frames. PutFrame is called from the decoder
// goroutine and must not retain f.Image after it returns.
type FrameSink interface {
	PutFrame(f Frame)
}

// DropCounter is implemented by sinks that count frames lost before they
// could be shown (lost in the network, failed to decode, skipped while
// waiting for a keyframe). The receive pipeline reports such frames to a
// sink that implements it.
type DropCounter interface {
	CountDropped(n int)
}

// FrameInfo describes the frame returned by Latest.Snapshot.
type FrameInfo struct {
	Width, Height     int
	Codec             string
	RTPTimestamp      uint32
	Received, Decoded time.Time
	Seq               uint64
}

// Stats are Latest's counters.
type Stats struct {
	// Decoded counts frames put into the sink.
	Decoded uint64
	// Dropped counts frames reported lost before decoding or failed to decode.
	Dropped uint64
	// Late counts frames replaced by a newer one before anyone took a
	// Snapshot of them (counted only once Snapshot has been called at all).
	Late uint64
	// FPS is the number of frames put in the last second.
	FPS float64
	// Width, Height and Codec describe the latest frame.
	Width, Height int
	Codec         string
	// FirstFrame and LastFrame are when the first and latest frames were put.
	FirstFrame, LastFrame time.Time
}

// fpsWindow bounds the frame times kept for the FPS figure.
const fpsWindow = 512

// Latest is a FrameSink keeping a copy of the latest frame. It double-buffers:
// PutFrame copies into the back buffer without blocking readers, then swaps.
// In the steady state (same size) it allocates nothing. Safe for concurrent use.
type Latest struct {
	wmu      sync.Mutex  // serialises writers; owns back and noCopies
	back     image.Image // *image.RGBA or *decode.Picture, like the frames put
	noCopies bool        // DropPictures was called: frames are counted, not copied

	mu         sync.Mutex // guards everything below
	front      image.Image
	scaler     *decode.Scaler // converts pictures for Snapshot
	info       FrameInfo
	has        bool
	read       bool // front taken by a Snapshot
	everRead   bool
	decoded    uint64
	dropped    uint64
	late       uint64
	first      time.Time
	last       time.Time
	times      [fpsWindow]time.Time
	timesNext  int
	timesCount int

	hook atomic.Pointer[func()]
}

// NewLatest returns an empty Latest.
func NewLatest() *Latest { return &Latest{} }

// PutFrame copies f.Image and makes it the latest frame, then calls the
// OnFrame hook. Frames without a picture, or of another image type than
// *image.RGBA and *decode.Picture, are ignored.
func (l *Latest) PutFrame(f Frame) {
	if f.Image == nil {
		return
	}
	b := f.Image.Bounds()
	if b.Empty() {
		return
	}
	l.wmu.Lock()
	switch img := f.Image.(type) {
	case *image.RGBA:
		if !l.noCopies {
			old, _ := l.back.(*image.RGBA)
			l.back = copyRGBA(old, img)
		}
	case *decode.Picture:
		if !l.noCopies {
			old, _ := l.back.(*decode.Picture)
			l.back = decode.CopyPicture(old, img)
		}
	default:
		l.wmu.Unlock()
		return
	}
	now := time.Now()
	info := FrameInfo{
		Width: b.Dx(), Height: b.Dy(), Codec: f.Codec,
		RTPTimestamp: f.RTPTimestamp, Received: f.Received, Decoded: f.Decoded, Seq: f.Seq,
	}
	l.mu.Lock()
	l.front, l.back = l.back, l.front
	if l.has && !l.read && l.everRead {
		l.late++
	}
	l.info, l.has, l.read = info, !l.noCopies, false
	l.decoded++
	if l.first.IsZero() {
		l.first = now
	}
	l.last = now
	l.times[l.timesNext] = now
	l.timesNext = (l.timesNext + 1) % fpsWindow
	l.timesCount = min(l.timesCount+1, fpsWindow)
	l.mu.Unlock()
	l.wmu.Unlock()
	if h := l.hook.Load(); h != nil {
		(*h)()
	}
}

// DropPictures makes the sink count and describe the frames put from now
// on without keeping copies of them, for a run that never shows the pixels
// (a headless call that takes no snapshot, a QA cycle): two 720p copies are
// 2.8 MB of live heap, which the Go heap doubles before it collects. Snapshot
// and Peek then find no frame; Stats are as before. It cannot be undone.
func (l *Latest) DropPictures() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.noCopies = true
	l.mu.Lock()
	l.front, l.back, l.has = nil, nil, false
	l.mu.Unlock()
}

// Reset forgets the latest frame and zeroes the counters (the buffers are
// kept), so a new call never shows, or counts, a frame of the previous one.
// The OnFrame hook is called so a viewer can clear its picture.
func (l *Latest) Reset() {
	l.wmu.Lock()
	l.mu.Lock()
	l.info, l.has, l.read, l.everRead = FrameInfo{}, false, false, false
	l.decoded, l.dropped, l.late = 0, 0, 0
	l.first, l.last = time.Time{}, time.Time{}
	l.timesNext, l.timesCount = 0, 0
	hook := l.hook.Load()
	l.mu.Unlock()
	l.wmu.Unlock()
	if hook != nil {
		(*hook)()
	}
}

// CountDropped adds n frames to the Dropped counter (implements DropCounter).
func (l *Latest) CountDropped(n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	l.dropped += uint64(n)
	l.mu.Unlock()
}

// Snapshot copies the latest frame into dst, reallocating dst when it is nil
// or its size differs, and returns it with the frame's description. ok is
// false (and dst returned unchanged) when no frame has arrived yet.
func (l *Latest) Snapshot(dst *image.RGBA) (*image.RGBA, FrameInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.everRead = true
	if !l.has {
		return dst, FrameInfo{}, false
	}
	l.read = true
	switch img := l.front.(type) {
	case *image.RGBA:
		return copyRGBA(dst, img), l.info, true
	case *decode.Picture:
		if l.scaler == nil {
			l.scaler = decode.NewScaler()
		}
		out, err := l.scaler.ToRGBA(dst, img)
		if err != nil {
			slog.Warn("sink: cannot convert the latest frame", "err", err)
			return dst, FrameInfo{}, false
		}
		return out, l.info, true
	}
	return dst, FrameInfo{}, false
}

// Peek calls fn with the latest frame (an *image.RGBA or a *decode.Picture)
// without copying it, and reports whether there was one. The frame is valid
// only during fn, which runs under the sink's lock: it must be quick (e.g.
// convert the picture for display) and must not call the sink. Like
// Snapshot, it marks the frame as shown.
func (l *Latest) Peek(fn func(img image.Image, info FrameInfo)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.everRead = true
	if !l.has {
		return false
	}
	l.read = true
	fn(l.front, l.info)
	return true
}

// Stats returns the counters. FPS counts the frames of the last second.
func (l *Latest) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	n := 0
	for i := range l.timesCount {
		t := l.times[(l.timesNext-1-i+fpsWindow)%fpsWindow]
		if now.Sub(t) > time.Second {
			break
		}
		n++
	}
	return Stats{
		Decoded: l.decoded, Dropped: l.dropped, Late: l.late, FPS: float64(n),
		Width: l.info.Width, Height: l.info.Height, Codec: l.info.Codec,
		FirstFrame: l.first, LastFrame: l.last,
	}
}

// OnFrame sets a hook called after each PutFrame on the decoder goroutine
// (nil removes it). The hook must not block: hand the work off, e.g. with
// fyne.Do, and call Snapshot from there.
func (l *Latest) OnFrame(fn func()) {
	if fn == nil {
		l.hook.Store(nil)
		return
	}
	l.hook.Store(&fn)
}

// copyRGBA copies src into dst, which is reallocated when nil or of another
// size. The result has origin (0,0).
func copyRGBA(dst, src *image.RGBA) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	row := w * 4
	if src.Stride == row && dst.Stride == row {
		so := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y)
		copy(dst.Pix[:row*h], src.Pix[so:so+row*h])
		return dst
	}
	for y := range h {
		so := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y)
		do := dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y)
		copy(dst.Pix[do:do+row], src.Pix[so:so+row])
	}
	return dst
}

var _ DropCounter = (*Latest)(nil)
