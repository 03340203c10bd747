// Package capturetest has a fake camera driver for tests of what the app
// does while a camera opens or closes slowly, as real ones do.
package capturetest

import (
	"image"
	"io"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// SlowCamera is a camera driver that takes OpenDelay to open and CloseDelay
// to close, and records whether two opens ever overlapped.
type SlowCamera struct {
	OpenDelay, CloseDelay time.Duration

	mu       sync.Mutex
	open     int // opened and not closed
	maxOpen  int
	opens    int
	closedCh chan struct{}
}

// Register adds the camera to mediadevices' drivers under label; the
// function it returns removes it.
func (c *SlowCamera) Register(label string) (unregister func(), err error) {
	if err := driver.GetManager().Register(c, driver.Info{Label: label, DeviceType: driver.Camera, Priority: driver.PriorityLow}); err != nil {
		return nil, err
	}
	return func() {
		for _, d := range driver.GetManager().Query(func(d driver.Driver) bool { return d.Info().Label == label }) {
			driver.GetManager().Delete(d.ID())
		}
	}, nil
}

// Open implements driver.Adapter.
func (c *SlowCamera) Open() error {
	c.mu.Lock()
	c.open++
	c.opens++
	c.maxOpen = max(c.maxOpen, c.open)
	c.closedCh = make(chan struct{})
	c.mu.Unlock()
	time.Sleep(c.OpenDelay)
	return nil
}

// Close implements driver.Adapter.
func (c *SlowCamera) Close() error {
	time.Sleep(c.CloseDelay)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	select {
	case <-c.closedCh: // two opens overlapped: MaxOpen tells
	default:
		close(c.closedCh)
	}
	return nil
}

// Properties implements driver.Adapter.
func (c *SlowCamera) Properties() []prop.Media {
	return []prop.Media{{Video: prop.Video{Width: 320, Height: 240, FrameRate: 30, FrameFormat: frame.FormatI420}}}
}

// VideoRecord implements driver.VideoRecorder: grey frames at 30 fps until closed.
func (c *SlowCamera) VideoRecord(p prop.Media) (video.Reader, error) {
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

// Stats returns how many times the camera was opened, and the most opens
// that were in progress or open at once.
func (c *SlowCamera) Stats() (opens, maxOpen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opens, c.maxOpen
}

// IsOpen reports whether the camera is open now.
func (c *SlowCamera) IsOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open > 0
}
