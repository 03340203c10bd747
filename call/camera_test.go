package call_test

import (
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/capture/capturetest"
)

// TestReconnectWhileTheCameraOpens: a Reconnect while the camera is still
// opening must not let the next session open it before the late open has
// finished and been closed: the camera is never opened twice at once, and
// the new call sends the camera, not a fallback.
func TestReconnectWhileTheCameraOpens(t *testing.T) {
	cam := &capturetest.SlowCamera{OpenDelay: 500 * time.Millisecond}
	unregister, err := cam.Register("slow-camera")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unregister)
	r := newRig(t, emulator.Faults{}, func(c *call.Config) {
		c.Media.Video, c.Media.VideoDevice = capture.SourceCamera, "slow-camera"
	})
	r.ctrl.Connect()
	time.Sleep(200 * time.Millisecond) // the first session is inside the camera's Open
	r.ctrl.Reconnect()
	ff := r.waitLive(20 * time.Second)
	if ff.SessionID < 2 {
		t.Fatalf("first frame of session %d, want the reconnected one", ff.SessionID)
	}
	st := r.waitFor(5*time.Second, "stats", call.IsKind(call.EventStats)).Stats
	if st.LocalVideo != "camera:slow-camera" {
		t.Errorf("the new call sends %q, want the camera", st.LocalVideo)
	}
	if opens, maxOpen := cam.Stats(); opens < 2 || maxOpen > 1 {
		t.Fatalf("camera opened %d times, %d at once at most: want the second open after the first was closed", opens, maxOpen)
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
}
