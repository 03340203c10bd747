package audioout

// The outputs to choose from, and an output lost mid-call.

import (
	"errors"
	"fmt"

	"github.com/gen2brain/malgo"
	"github.com/kvsviewer/kvsviewer/media/internal/sounddev"
)

// ErrDeviceLost is what a DeviceLostError is (errors.Is).
var ErrDeviceLost = errors.New("audio output lost")

// DeviceLostError says that a Player's output went away mid-call; the Player discards the
// audio from then on. Its message says so in words, for the user.
type DeviceLostError struct {
	// Device is the output's name (its description).
	Device string
	// Stalled is true when the device stopped taking audio, false when it disappeared.
	Stalled bool
}

// Error says what happened and that the call goes on.
func (e *DeviceLostError) Error() string {
	what := "disappeared"
	if e.Stalled {
		what = "stopped playing"
	}
	return fmt.Sprintf("audio output %q %s: the call continues without sound", e.Device, what)
}

// Is makes errors.Is(err, ErrDeviceLost) true.
func (e *DeviceLostError) Is(target error) bool { return target == ErrDeviceLost }

// Device is an audio output.
type Device struct {
	// ID picks the device in Options.Device; it is stable across runs (PulseAudio's sink name,
	// ALSA's "hw:1,0").
	ID string
	// Name is what users know it by (PulseAudio's description, e.g. "Built-in Audio Analog
	// Stereo").
	Name string
	// Default marks the system's default output.
	Default bool
}

// ListDevices returns the audio outputs, the default first. Without sound card and sound
// server the error wraps sounddev.ErrNoSoundSystem's message ("no sound card ...").
func ListDevices() ([]Device, error) {
	devs, err := sounddev.List(malgo.Playback)
	if err != nil {
		return nil, fmt.Errorf("audioout: %w", err)
	}
	out := make([]Device, 0, len(devs))
	for _, d := range devs {
		out = append(out, Device{ID: d.ID, Name: d.Name, Default: d.Default})
	}
	return out, nil
}

// lost gives the device up: it runs on the watch's goroutine when the device went away. The
// stream is not closed, here or in Close: miniaudio's PulseAudio backend never returns from
// ma_device_uninit once the server killed the stream (measured: unloading the sink hangs it for
// good), so a lost device is abandoned (its memory and a blocked C thread) rather than hang the
// call's teardown. pull plays silence from now on, should the stream still run.
func (p *Player) lost(loss sounddev.Loss) {
	p.live.Store(false)
	err := &DeviceLostError{Device: p.device, Stalled: loss == sounddev.Stalled}
	if err.Device == "" {
		err.Device = "default"
	}
	p.logger.Warn("audio output lost: discarding the call's audio", "device", p.device, "err", err)
	p.mu.Lock()
	p.lostErr = err
	fn := p.onLost
	p.mu.Unlock()
	if fn != nil {
		fn(err)
	}
}

// OnDeviceLost sets fn to be called once if the output disappears or stops playing mid-call,
// with a *DeviceLostError whose message tells the user; the Player discards the audio from
// then on. If that already happened, fn is called at once. fn runs on the Player's watch
// goroutine: it must return quickly and must not call Close.
func (p *Player) OnDeviceLost(fn func(error)) {
	p.mu.Lock()
	p.onLost = fn
	err := p.lostErr
	p.mu.Unlock()
	if err != nil && fn != nil {
		fn(err)
	}
}

// Lost returns the *DeviceLostError once the output went away, else nil.
func (p *Player) Lost() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lostErr
}
