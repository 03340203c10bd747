package capture

import (
	"errors"
	"io"
	"testing"

	"github.com/pion/webrtc/v4"
)

// openWarm opens a 320x240 test pattern preferring codec and waits until its
// encoder is built ahead.
func openWarm(t *testing.T, codec string) *Local {
	t.Helper()
	l, err := Open(Options{Video: SourceTest, Audio: SourceNone, Width: 320, Height: 240, FPS: 30, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	<-l.warm.done
	if l.warm.enc == nil {
		t.Fatal("Open built no encoder ahead")
	}
	return l
}

// warmTaken reports whether a binding took l's warm encoder.
func warmTaken(l *Local) bool {
	l.warm.mu.Lock()
	defer l.warm.mu.Unlock()
	return l.warm.taken
}

// TestBindTakesTheWarmEncoder: the binding pion makes while it sets the
// answer takes the encoder Open built ahead, and that encoder serves the
// call: its pictures decode, and a PLI gets an IDR from it.
func TestBindTakesTheWarmEncoder(t *testing.T) {
	l := openWarm(t, CodecAuto)
	viewer := newLoopbackPC(t, CodecAuto)
	master := newLoopbackPC(t, CodecAuto)
	if _, err := viewer.AddTrack(l.VideoSend); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	master.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		done <- receiveVideo(master, track)
	})
	exchange(t, viewer, master, nil)
	if err := <-done; err != nil {
		t.Error(err)
	}
	if !warmTaken(l) {
		t.Error("the binding built an encoder of its own instead of taking the warm one")
	}
	for _, c := range []interface{ Close() error }{viewer, master, l} {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestWarmEncoderNotTakenIsClosed: when the binding picks another codec than
// the one built ahead (the remote takes VP8 only), the binding builds its
// own, and Close frees the warm one.
func TestWarmEncoderNotTakenIsClosed(t *testing.T) {
	l := openWarm(t, CodecAuto) // H.264 first: the warm encoder is x264
	viewer := newLoopbackPC(t, CodecAuto)
	master := newLoopbackPC(t, CodecVP8)
	if _, err := viewer.AddTrack(l.VideoSend); err != nil {
		t.Fatal(err)
	}
	exchange(t, viewer, master, nil)
	// Closing the peer connection waits for the binding (built in the background).
	for _, c := range []interface{ Close() error }{viewer, master} {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
	if warmTaken(l) {
		t.Fatal("a VP8 binding took the H.264 encoder")
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if _, _, err := l.warm.enc.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("the warm encoder still reads after Close (err %v), want io.EOF: it was not closed", err)
	}
}
