package audioout

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/gen2brain/malgo"
)

// errNoSoundSystem says why Open did not even try a device.
var errNoSoundSystem = errors.New("no sound card (/dev/snd) and no PulseAudio/PipeWire server")

// linuxBackends picks the backends worth trying on Linux. Opening an ALSA device on a machine
// without sound card makes libasound print a screen of errors to stderr, so ALSA is only tried
// when /dev/snd exists, and nothing is tried when there is neither a card nor a PulseAudio
// (or PipeWire-pulse) server to talk to.
func linuxBackends() ([]malgo.Backend, error) {
	if runtime.GOOS != "linux" {
		return realBackends, nil
	}
	_, err := os.Stat("/dev/snd")
	card := err == nil
	switch {
	case card:
		return []malgo.Backend{malgo.BackendPulseaudio, malgo.BackendAlsa, malgo.BackendJack}, nil
	case pulseServer():
		return []malgo.Backend{malgo.BackendPulseaudio}, nil
	default:
		return nil, errNoSoundSystem
	}
}

// pulseServer reports whether a PulseAudio server seems reachable.
func pulseServer() bool {
	if os.Getenv("PULSE_SERVER") != "" {
		return true
	}
	candidates := []string{
		filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "pulse", "native"),
		"/var/run/pulse/native",
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
