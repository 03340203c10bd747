// Package sounddev finds the machine's sound devices through miniaudio (malgo) for
// media/audioout and media/capture: which backends are worth trying, the devices with the names
// users know and the default one, opening one by its id, and noticing when it goes away.
package sounddev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gen2brain/malgo"
)

// ErrNoSoundSystem says why nothing was tried: no card and no sound server.
var ErrNoSoundSystem = errors.New("no sound card (/dev/snd) and no PulseAudio/PipeWire server")

// ErrNoDevice is wrapped by Find when no device matches.
var ErrNoDevice = errors.New("no such device")

// BackendNull is miniaudio's null backend (a device that consumes or produces silence in real
// time without hardware). malgo v0.11.24's BackendNull constant is off by one (it is
// ma_backend_custom).
const BackendNull = malgo.Backend(14)

// RealBackends are miniaudio's backends that reach real hardware: all but custom and null.
var RealBackends = []malgo.Backend{
	malgo.BackendWasapi, malgo.BackendDsound, malgo.BackendWinmm, malgo.BackendCoreaudio,
	malgo.BackendSndio, malgo.BackendAudio4, malgo.BackendOss, malgo.BackendPulseaudio,
	malgo.BackendAlsa, malgo.BackendJack, malgo.BackendAaudio, malgo.BackendOpensl,
	malgo.BackendWebaudio,
}

// Backends picks the backends worth trying. On Linux, opening an ALSA device on a machine
// without sound card makes libasound print a screen of errors to stderr, so ALSA is only tried
// when /dev/snd exists, and nothing is tried (ErrNoSoundSystem) when there is neither a card
// nor a PulseAudio (or PipeWire-pulse) server to talk to.
func Backends() ([]malgo.Backend, error) {
	if runtime.GOOS != "linux" {
		return RealBackends, nil
	}
	_, err := os.Stat("/dev/snd")
	switch {
	case err == nil:
		return []malgo.Backend{malgo.BackendPulseaudio, malgo.BackendAlsa, malgo.BackendJack}, nil
	case PulseServer():
		return []malgo.Backend{malgo.BackendPulseaudio}, nil
	default:
		return nil, ErrNoSoundSystem
	}
}

// PulseServer reports whether a PulseAudio server seems reachable: PULSE_SERVER is set, or
// a socket is where libpulse looks by default.
func PulseServer() bool {
	if os.Getenv("PULSE_SERVER") != "" {
		return true
	}
	candidates := []string{
		filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "pulse", "native"),
		"/var/run/pulse/native",
	}
	if dir := os.Getenv("PULSE_RUNTIME_PATH"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "native"))
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "pulse", "native"))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return true
		}
	}
	return false
}

// Device is a sound device.
type Device struct {
	// ID names the device for its backend and is stable across runs: PulseAudio's sink or
	// source name (e.g. "alsa_output.pci-0000_00_1f.3.analog-stereo"), ALSA's "hw:1,0".
	ID string
	// Name is what users know it by: PulseAudio's description (e.g. "Built-in Audio Analog
	// Stereo").
	Name string
	// Default marks the system's default device of its kind.
	Default bool
	// Monitor marks a PulseAudio monitor source: what a sink plays, not a microphone.
	Monitor bool

	raw malgo.DeviceID
}

// deviceID returns the printable form of a miniaudio device id: the string it holds (PulseAudio
// and ALSA ids are names), or its hex form.
func deviceID(raw malgo.DeviceID) string {
	n := 0
	for n < len(raw) && raw[n] != 0 {
		n++
	}
	s := string(raw[:n])
	printable := n > 0 && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
	if printable && slices.IndexFunc(raw[n:], func(b byte) bool { return b != 0 }) < 0 {
		return s
	}
	return raw.String()
}

// Context is a miniaudio context on one backend.
type Context struct {
	ctx     *malgo.AllocatedContext
	backend malgo.Backend
}

// Open initialises a context on the first of backends that works.
func Open(backends []malgo.Backend) (*Context, error) {
	var errs []error
	for _, b := range backends {
		ctx, err := malgo.InitContext([]malgo.Backend{b}, malgo.ContextConfig{}, nil)
		if err == nil {
			return &Context{ctx: ctx, backend: b}, nil
		}
		errs = append(errs, fmt.Errorf("backend %d: %w", b, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("audio context: no backend to try")
	}
	return nil, fmt.Errorf("audio context: %w", errors.Join(errs...))
}

// Backend is the backend the context runs on.
func (c *Context) Backend() malgo.Backend { return c.backend }

// Malgo is the malgo context, for malgo.InitDevice.
func (c *Context) Malgo() malgo.Context { return c.ctx.Context }

// Close frees the context. Its devices must be uninitialised first.
func (c *Context) Close() {
	_ = c.ctx.Uninit() // fails only for a nil context
	c.ctx.Free()
}

// Devices lists the devices of kind (malgo.Playback or malgo.Capture), the default first.
func (c *Context) Devices(kind malgo.DeviceType) ([]Device, error) {
	infos, err := c.ctx.Devices(kind)
	if err != nil {
		return nil, fmt.Errorf("list audio devices: %w", err)
	}
	out := make([]Device, 0, len(infos))
	for _, info := range infos {
		d := Device{ID: deviceID(info.ID), Name: info.Name(), Default: info.IsDefault != 0, raw: info.ID}
		d.Monitor = c.backend == malgo.BackendPulseaudio && strings.HasSuffix(d.ID, ".monitor")
		if d.Name == "" {
			d.Name = d.ID
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b Device) int {
		switch {
		case a.Default == b.Default:
			return 0
		case a.Default:
			return -1
		default:
			return 1
		}
	})
	return out, nil
}

// Find returns the device of kind that want names (its ID, its Name, or the hex form of its
// miniaudio id); "" means the device the backend marks as the default. Monitors are skipped
// unless monitors is true. The error wraps ErrNoDevice when none matches: for "", open the
// backend's default device instead (ALSA marks none, and lists plugins such as "null" first).
func (c *Context) Find(kind malgo.DeviceType, want string, monitors bool) (Device, error) {
	devs, err := c.Devices(kind)
	if err != nil {
		return Device{}, err
	}
	devs = slices.DeleteFunc(devs, func(d Device) bool { return d.Monitor && !monitors })
	for _, d := range devs {
		if (want == "" && d.Default) || (want != "" && (d.ID == want || d.Name == want || d.raw.String() == want)) {
			return d, nil
		}
	}
	if want == "" {
		return Device{}, ErrNoDevice
	}
	return Device{}, fmt.Errorf("%q: %w", want, ErrNoDevice)
}

// List lists the devices of kind on the first backend of Backends that works.
func List(kind malgo.DeviceType) ([]Device, error) {
	backends, err := Backends()
	if err != nil {
		return nil, err
	}
	c, err := Open(backends)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Devices(kind)
}
