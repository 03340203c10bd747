package capture

import (
	"image"
	"testing"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// lateSource is a test pattern whose frames wait until open is closed: a
// camera still starting.
type lateSource struct {
	*pattern.Generator
	open chan struct{}
}

func (s *lateSource) Read() (image.Image, func(), error) {
	<-s.open
	return s.Generator.Read()
}

// TestBindDoesNotWaitForTheEncoder: the offerer's SetRemoteDescription (where
// pion binds the send track) returns while the source has not given its first
// frame, so no encoder can be built yet; once the frames come, the binding
// built in the background sends video that decodes, and a PLI gets an IDR.
func TestBindDoesNotWaitForTheEncoder(t *testing.T) {
	sel, builders, err := newCodecSelector(CodecAuto, Options{Width: 320, Height: 240, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	src := &lateSource{Generator: pattern.New(320, 240, 30, pattern.StyleMaster), open: make(chan struct{})}
	send := NewSendTrack(mediadevices.NewVideoTrack(src, sel), "v", "s", nil)
	send.encodes = producedBy(builders)
	viewer := newLoopbackPC(t, CodecAuto)
	master := newLoopbackPC(t, CodecAuto)
	if _, err := viewer.AddTrack(send); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	master.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		done <- receiveVideo(master, track)
	})
	negotiated := make(chan struct{})
	go func() {
		defer close(negotiated)
		exchange(t, viewer, master, nil)
	}()
	select {
	case <-negotiated:
	case <-time.After(10 * time.Second):
		close(src.open)
		<-negotiated
		t.Fatal("SetRemoteDescription waited for the source's first frame (the encoder's build)")
	}
	close(src.open)
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(20 * time.Second):
		t.Error("no video from the encoder built in the background")
	}
	for _, c := range []interface{ Close() error }{viewer, master, send} {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}
