package call_test

import (
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// slowCamera is a camera driver that takes openDelay to open, like a real
// one waking up, and records whether two opens ever overlapped.
type slowCamera struct {
	openDelay time.Duration

	mu       sync.Mutex
	open     int // opened and not closed
	maxOpen  int
	opens    int
	closedCh chan struct{}
}

func (c *slowCamera) Open() error {
	c.mu.Lock()
	c.open++
	c.opens++
	c.maxOpen = max(c.maxOpen, c.open)
	c.closedCh = make(chan struct{})
	c.mu.Unlock()
	time.Sleep(c.openDelay)
	return nil
}

func (c *slowCamera) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	select {
	case <-c.closedCh: // two opens overlapped: the test fails on maxOpen
	default:
		close(c.closedCh)
	}
	return nil
}

func (c *slowCamera) Properties() []prop.Media {
	return []prop.Media{{Video: prop.Video{Width: 320, Height: 240, FrameRate: 30, FrameFormat: frame.FormatI420}}}
}

func (c *slowCamera) VideoRecord(p prop.Media) (video.Reader, error) {
	c.mu.Lock()
	closed := c.closedCh
	c.mu.Unlock()
	img := image.NewYCbCr(image.Rect(0, 0, p.Width, p.Height), image.YCbCrSubsampleRatio420)
	tick := time.NewTicker(time.Second / 30)
	return video.ReaderFunc(func() (image.Image, func(), error) {
		select {
		case <-closed:
			tick.Stop()
			return nil, func() {}, io.EOF
		case <-tick.C:
			return img, func() {}, nil
		}
	}), nil
}

func (c *slowCamera) stats() (opens, maxOpen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opens, c.maxOpen
}

// TestReconnectWhileTheCameraOpens: a Reconnect while the camera is still
// opening must not let the next session open it before the late open has
// finished and been closed: the camera is never opened twice at once, and
// the new call sends the camera, not a fallback.
func TestReconnectWhileTheCameraOpens(t *testing.T) {
	cam := &slowCamera{openDelay: 500 * time.Millisecond}
	if err := driver.GetManager().Register(cam, driver.Info{Label: "slow-camera", DeviceType: driver.Camera, Priority: driver.PriorityLow}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range driver.GetManager().Query(func(d driver.Driver) bool { return d.Info().Label == "slow-camera" }) {
			driver.GetManager().Delete(d.ID())
		}
	})
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
	if opens, maxOpen := cam.stats(); opens < 2 || maxOpen > 1 {
		t.Fatalf("camera opened %d times, %d at once at most: want the second open after the first was closed", opens, maxOpen)
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
}
