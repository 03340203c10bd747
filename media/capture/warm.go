package capture

import (
	"image"
	"sync"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// Encoder warm-up. Building a video encoder (x264 or libvpx at 720p) takes
// 5-15 ms, and pion builds it while it binds the send track, inside
// SetLocalDescription (the master's answer) or SetRemoteDescription (the
// viewer's answer): on the critical path of every call, before ICE starts.
// Open therefore builds the encoder of the preferred codec in the
// background, for the format of the source's first frame, and the first
// binding that asks for that codec and format takes it; every other binding
// builds its own, as before. An encoder nobody took is closed with the Local.

// warmEncoder is one encoder built ahead for a videoBuilder.
type warmEncoder struct {
	building chan struct{} // closed once the format is known and the build begins
	built    chan struct{} // closed once the build has ended
	done     chan struct{} // closed once the build and the preparation have ended
	src      lateReader    // the encoder's source, given at the binding

	mu    sync.Mutex
	enc   codec.ReadCloser // nil when the build failed
	prop  prop.Media       // the format enc was built for
	taken bool
}

// warmUp starts building b's encoder for track's format in the background,
// then runs prepare (when not nil): more of the source's set-up that need not
// delay the call.
func warmUp(b *videoBuilder, track *mediadevices.VideoTrack, prepare func()) *warmEncoder {
	w := &warmEncoder{building: make(chan struct{}), built: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if w.build(b, track) && prepare != nil {
			prepare()
		}
	}()
	return w
}

// build builds b's encoder for the format of track's next frame. It reports
// false when that frame could not be read (the source is closed).
func (w *warmEncoder) build(b *videoBuilder, track *mediadevices.VideoTrack) bool {
	defer close(w.built)
	// The format as mediadevices detects it at Bind: that of the next frame
	// a new reader of the track sees.
	var p prop.Media
	r := video.DetectChanges(0, 0, func(m prop.Media) { p = m })(track.NewReader(false))
	if _, release, err := r.Read(); err != nil {
		return false
	} else if release != nil {
		release()
	}
	close(w.building)
	enc, err := b.inner.BuildVideoEncoder(&w.src, p)
	if err != nil {
		return true
	}
	w.mu.Lock()
	w.enc, w.prop = enc, p
	w.mu.Unlock()
	return true
}

// take returns the warm encoder, now reading from r, when it is built for p
// and nobody took it yet; else nil. A build under way is waited for (it
// ends sooner than a new one would); a warm-up still waiting for the
// source's first frame is not.
func (w *warmEncoder) take(r video.Reader, p prop.Media) codec.ReadCloser {
	if w == nil {
		return nil
	}
	select {
	case <-w.building:
		<-w.built
	case <-w.built:
	default:
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.taken || w.enc == nil || w.prop != p {
		return nil
	}
	w.taken = true
	w.src.r = r
	return w.enc
}

// close waits for the build (the source is closed by then, so a pending
// read has failed) and closes the encoder unless a binding took it.
func (w *warmEncoder) close() error {
	if w == nil {
		return nil
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.taken || w.enc == nil {
		return nil
	}
	w.taken = true
	return w.enc.Close()
}

// lateReader is a video.Reader whose source is set after the encoder
// reading it was built: take sets it before the encoder is handed over, and
// the encoder reads only after that.
type lateReader struct{ r video.Reader }

func (l *lateReader) Read() (image.Image, func(), error) { return l.r.Read() }
