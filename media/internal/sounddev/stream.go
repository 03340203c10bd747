package sounddev

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// Config is what Context.Start opens.
type Config struct {
	// Kind is malgo.Playback or malgo.Capture.
	Kind malgo.DeviceType
	// Device is the device to open; nil means the backend's default.
	Device *Device
	// Channels and Rate are the format the callback sees (16-bit interleaved); miniaudio
	// converts from the device's.
	Channels, Rate int
	// Data is the data callback: it fills out (playback) or reads in (capture).
	Data malgo.DataProc
	// PeriodMillis and Periods size the device's buffer (PeriodMillis * Periods of audio, which
	// a sound server holds for the stream); 0 means miniaudio's default (3 periods of 10 ms).
	PeriodMillis, Periods int
	// Name is the stream's name in the sound server's mixer (PulseAudio); "" is miniaudio's.
	Name string
}

// Stream is a started device.
type Stream struct {
	dev   *malgo.Device
	pin   runtime.Pinner // the device id handed to miniaudio
	start time.Time
	last  atomic.Int64 // time of the latest data callback, in ns since start
	once  sync.Once
}

// Start initialises and starts a device. A nil error means the data callback will run on
// miniaudio's thread until Close.
func (c *Context) Start(cfg Config) (*Stream, error) {
	mcfg := malgo.DefaultDeviceConfig(cfg.Kind)
	mcfg.SampleRate = uint32(cfg.Rate)
	mcfg.PeriodSizeInMilliseconds, mcfg.Periods = uint32(max(cfg.PeriodMillis, 0)), uint32(max(cfg.Periods, 0))
	if c.backend == malgo.BackendPulseaudio {
		// miniaudio's PulseAudio backend takes the period size for the whole buffer and divides
		// it by the period count (measured: 20 ms and 4 periods asked the server for 20 ms).
		mcfg.PeriodSizeInMilliseconds *= mcfg.Periods
	}
	mcfg.Pulse.StreamNamePlayback, mcfg.Pulse.StreamNameCapture = cfg.Name, cfg.Name
	s := &Stream{start: time.Now()}
	var id unsafe.Pointer
	if cfg.Device != nil {
		raw := new(malgo.DeviceID)
		*raw = cfg.Device.raw
		// Go memory handed to C inside Go memory must be pinned (cgo's pointer rules).
		s.pin.Pin(raw)
		id = unsafe.Pointer(raw)
	}
	if cfg.Kind == malgo.Capture {
		mcfg.Capture.Format, mcfg.Capture.Channels, mcfg.Capture.DeviceID = malgo.FormatS16, uint32(cfg.Channels), id
	} else {
		mcfg.Playback.Format, mcfg.Playback.Channels, mcfg.Playback.DeviceID = malgo.FormatS16, uint32(cfg.Channels), id
	}
	data := func(out, in []byte, frames uint32) {
		s.last.Store(int64(time.Since(s.start)))
		cfg.Data(out, in, frames)
	}
	dev, err := malgo.InitDevice(c.ctx.Context, mcfg, malgo.DeviceCallbacks{Data: data})
	if err != nil {
		s.pin.Unpin()
		return nil, fmt.Errorf("open audio device: %w", err)
	}
	s.dev = dev
	if err := dev.Start(); err != nil {
		s.Close()
		return nil, fmt.Errorf("start audio device: %w", err)
	}
	return s, nil
}

// sinceData is how long ago the data callback last ran (or the stream started).
func (s *Stream) sinceData() time.Duration {
	return time.Since(s.start) - time.Duration(s.last.Load())
}

// Close stops the device and releases it; it waits for a running data callback. Idempotent.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.dev.Uninit()
		s.pin.Unpin()
	})
}

// Loss says why a device was given up.
type Loss int

// The losses Watch reports.
const (
	// Gone: the device is no longer listed (unplugged, or its PulseAudio module unloaded).
	Gone Loss = iota + 1
	// Stalled: the device's data callback stopped running (its stream was killed).
	Stalled
)

// Watch checks a stream's device.
type Watch struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Watch checks every interval, until Stop, that the device id of kind is still listed (only on
// PulseAudio, where listing is a cheap request to the server: a PulseAudio device that
// disappears has its streams moved to another device, which the user did not pick, or killed)
// and that s's data callback ran within the last stall. The first time a check fails it calls
// lost, once, on the watch's goroutine, and stops watching; lost must not call Stop.
func (c *Context) Watch(s *Stream, kind malgo.DeviceType, id string, interval, stall time.Duration, lost func(Loss)) *Watch {
	w := &Watch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if loss := c.check(s, kind, id, stall); loss != 0 {
				lost(loss)
				return
			}
		}
	}()
	return w
}

// check returns the loss of s's device, or 0 while it is fine.
func (c *Context) check(s *Stream, kind malgo.DeviceType, id string, stall time.Duration) Loss {
	if s.sinceData() > stall {
		return Stalled
	}
	if c.backend != malgo.BackendPulseaudio || id == "" {
		return 0
	}
	devs, err := c.Devices(kind)
	if err != nil {
		return 0 // the server is busy or restarting: the stall check decides
	}
	if !slices.ContainsFunc(devs, func(d Device) bool { return d.ID == id }) {
		return Gone
	}
	return 0
}

// Stop ends the watch and waits for its goroutine. Idempotent.
func (w *Watch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}
