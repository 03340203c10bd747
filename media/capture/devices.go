package capture

// The cameras and microphones on the machine, and picking one.

import (
	"fmt"

	"github.com/pion/mediadevices/pkg/driver"
)

// Device is a camera or microphone found on the machine.
type Device struct {
	// ID names the device across runs: a camera's device path label, a microphone's sound
	// server name (PulseAudio's source name, e.g. "alsa_input.usb-...") or ALSA id.
	// (mediadevices' own driver ids are random per process and per listing.)
	ID    string
	Label string // the name users know it by (PulseAudio's description of a microphone)
	Kind  string // "video" or "audio"
	// Default marks the system's default microphone (ListDevices puts it first).
	Default bool
}

// Device kinds.
const (
	KindVideo = "video"
	KindAudio = "audio"
)

// ListDevices returns the cameras and microphones mediadevices' drivers found, in the order
// Open prefers them (highest priority first). It is empty on a machine without any.
func ListDevices() []Device {
	listMicrophones()
	var out []Device
	for _, d := range devicesOf(KindVideo) {
		out = append(out, deviceOf(d, KindVideo))
	}
	for _, d := range devicesOf(KindAudio) {
		out = append(out, deviceOf(d, KindAudio))
	}
	return out
}

func deviceOf(d driver.Driver, kind string) Device {
	info := d.Info()
	label := info.Label
	if info.Name != "" {
		label = info.Name
	}
	return Device{ID: stableID(info, kind), Label: label, Kind: kind, Default: kind == KindAudio && isDefault(info)}
}

// devicesOf returns the drivers of one kind, real devices only, highest priority first.
func devicesOf(kind string) []driver.Driver {
	filter := driver.FilterAnd(driver.FilterVideoRecorder(), driver.FilterNot(driver.FilterDeviceType(driver.Screen)))
	if kind == KindAudio {
		filter = driver.FilterAudioRecorder()
	}
	var out []driver.Driver
	for _, d := range driver.GetManager().Query(filter) {
		if kind == KindAudio && isMonitor(d.Info()) {
			continue
		}
		out = append(out, d)
	}
	// Stable sort by priority, highest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Info().Priority > out[j-1].Info().Priority; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// pickDevice returns the device of kind whose ID or label is want ("" = the first).
func pickDevice(kind, want string) (driver.Driver, error) {
	devs := devicesOf(kind)
	if len(devs) == 0 {
		if kind == KindVideo {
			return nil, ErrNoCamera
		}
		return nil, ErrNoMicrophone
	}
	if want == "" {
		return devs[0], nil
	}
	for _, d := range devs {
		dev := deviceOf(d, kind)
		if dev.ID == want || dev.Label == want || d.Info().Label == want || d.ID() == want {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no %s device %q", kind, want)
}
