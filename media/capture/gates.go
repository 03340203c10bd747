package capture

// What stands between the sources and the encoders: the preview hook, and the
// gates that pause, mute and black out a Local's tracks.

import (
	"errors"
	"fmt"
	"image"

	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/wave"
)

// PreviewEvery is how often the preview hook sees a frame: every third (10 fps at 30 fps).
const PreviewEvery = 3

// SetPreview sets a hook that sees every PreviewEvery-th frame sent (black while video is
// off), on the encoder's goroutine; nil removes it. The hook must be quick and must not keep
// the image: the source reuses its buffers. (Reading the track through a second mediadevices
// reader instead would race with that reuse.)
func (l *Local) SetPreview(fn func(image.Image)) {
	if fn == nil {
		l.preview.Store(nil)
		return
	}
	l.preview.Store(&fn)
}

// videoGate replaces frames by black ones while video is off, and feeds the preview hook. It
// keeps reading the source, so the pacing stays the source's.
func (l *Local) videoGate(r video.Reader) video.Reader {
	gated := l.blackGate(r)
	var n uint64
	return video.ReaderFunc(func() (image.Image, func(), error) {
		img, release, err := gated.Read()
		if err == nil {
			n++
			if fn := l.preview.Load(); fn != nil && n%PreviewEvery == 1 {
				(*fn)(img)
			}
		}
		return img, release, err
	})
}

// blackGate replaces frames by black ones while video is off.
func (l *Local) blackGate(r video.Reader) video.Reader {
	var black *image.YCbCr
	return video.ReaderFunc(func() (image.Image, func(), error) {
		img, release, err := r.Read()
		if err != nil || l.videoOn.Load() {
			return img, release, err
		}
		b := img.Bounds()
		if black == nil || black.Rect.Dx() != b.Dx() || black.Rect.Dy() != b.Dy() {
			black = image.NewYCbCr(image.Rect(0, 0, b.Dx(), b.Dy()), image.YCbCrSubsampleRatio420)
			for i := range black.Y {
				black.Y[i] = 16
			}
			for i := range black.Cb {
				black.Cb[i], black.Cr[i] = 128, 128
			}
		}
		return black, func() {}, nil
	})
}

// audioGate replaces chunks by silence of the same shape while audio is muted.
func (l *Local) audioGate(r audio.Reader) audio.Reader {
	var silence wave.Audio
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		chunk, release, err := r.Read()
		if err == nil {
			l.inLevel.add(chunk)
		}
		if err != nil || l.audioOn.Load() {
			return chunk, release, err
		}
		info := chunk.ChunkInfo()
		if silence == nil || silence.ChunkInfo() != info || !sameFormat(silence, chunk) {
			if _, ok := chunk.(*wave.Float32Interleaved); ok {
				silence = wave.NewFloat32Interleaved(info)
			} else {
				silence = wave.NewInt16Interleaved(info)
			}
		}
		return silence, func() {}, nil
	})
}

func sameFormat(a, b wave.Audio) bool {
	_, af := a.(*wave.Float32Interleaved)
	_, bf := b.(*wave.Float32Interleaved)
	return af == bf
}

// Close stops the tracks: the camera is closed (its light goes off), the microphone released,
// the pattern and tone generators stopped. It is idempotent and leaves no goroutine of Local.
//
// The usual order is: close the peer connection (or RemoveTrack the senders of VideoSend and
// AudioSend), then Local.Close. Close first unbinds VideoSend and AudioSend from any peer
// connection they are still bound to and only then closes the sources, so it also returns when
// a peer connection was never connected or its teardown is stuck, and a later pc.Close or
// RemoveTrack does not hang either. Only the raw Video and Audio tracks must not be bound to a
// peer connection directly: closing them while bound can make pc.Close hang (see SendTrack).
func (l *Local) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.VideoSend != nil {
			errs = append(errs, l.VideoSend.Close())
		} else if l.Video != nil {
			errs = append(errs, l.Video.Close())
		}
		if l.AudioSend != nil {
			errs = append(errs, l.AudioSend.Close())
		} else if l.Audio != nil && (l.mic == nil || l.mic.release()) {
			errs = append(errs, l.Audio.Close())
		}
		// After the video source: a warm-up still reading its first frame has failed.
		errs = append(errs, l.warm.close())
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("capture: close: %w", err)
		}
		if l.counted {
			l.count(-1)
		}
	})
	return l.closeErr
}
