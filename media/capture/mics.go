package capture

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"

	"github.com/kvsviewer/kvsviewer/media/capture/internal/micdriver"
	"github.com/kvsviewer/kvsviewer/media/internal/sounddev"
)

// isMonitor reports whether a microphone driver is a PulseAudio monitor source ("Monitor of
// Built-in Audio"): what a sink plays, which users do not take for a microphone. The malgo
// driver's label is the hex of miniaudio's device id, for PulseAudio the source's name.
func isMonitor(info driver.Info) bool {
	id, err := hex.DecodeString(info.Label)
	return err == nil && strings.HasSuffix(strings.TrimRight(string(id), "\x00"), ".monitor")
}

// stableID is a device's ID for Device: the driver's label, for a microphone decoded from the
// hex of miniaudio's device id when that is a name (PulseAudio, ALSA).
func stableID(info driver.Info, kind string) string {
	if kind != KindAudio {
		return info.Label
	}
	id, err := hex.DecodeString(info.Label)
	name := strings.TrimRight(string(id), "\x00")
	if err != nil || name == "" || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return info.Label
	}
	return name
}

// isDefault reports whether a driver is its kind's default device (the malgo driver gives the
// system's default microphone the high priority).
func isDefault(info driver.Info) bool { return info.Priority == driver.PriorityHigh }

// RefreshMicrophones lists the microphones again. They are listed once, the first time they are
// needed (listMicrophones): a sound server started since (a PulseAudio session that came up
// after the app, or a test's own daemon), or a device plugged in since, is only seen after this.
// It does nothing while a microphone is open (the driver's audio context is shared by its
// devices), and reports whether it listed them.
func RefreshMicrophones() (refreshed bool, err error) {
	micsListed.Do(func() {}) // what follows lists them
	micMu.Lock()
	defer micMu.Unlock()
	return refreshMicrophones()
}

// micMu is held while the microphones are listed anew or one is opened.
var micMu sync.Mutex

// micsListed is done once the microphones were first listed.
var micsListed sync.Once

// listMicrophones lists the microphones the first time it is called; later calls return at
// once. Listing asks miniaudio's backends (micdriver), which takes tens of milliseconds and
// maps the audio libraries: a process that never needs a microphone (a call with the test tone,
// --version) does not pay for it.
func listMicrophones() {
	micsListed.Do(func() {
		micMu.Lock()
		defer micMu.Unlock()
		if _, err := refreshMicrophones(); err != nil {
			slog.Warn("no microphones listed", "error", err)
		}
	})
}

// refreshMicrophones is RefreshMicrophones with micMu held.
func refreshMicrophones() (refreshed bool, err error) {
	if _, _, mics := OpenDevices(); mics > 0 {
		return false, nil
	}
	if err := micdriver.Register(); err != nil && !errors.Is(err, sounddev.ErrNoSoundSystem) {
		return true, fmt.Errorf("capture: list microphones: %w", err)
	}
	return true, nil
}

// MinLevel is the level InputLevel reports for silence, in dBFS.
const MinLevel = -100.0

// levelTimeConstant is the time constant of the input level's moving average, in seconds.
const levelTimeConstant = 0.3

// levelMeter is a moving mean square of captured audio (full scale 1), safe for concurrent use.
type levelMeter struct{ meanSquare atomic.Uint64 } // float64 bits

// add folds a chunk into the moving mean square.
func (m *levelMeter) add(chunk wave.Audio) {
	info := chunk.ChunkInfo()
	n := info.Len * info.Channels
	if n == 0 || info.SamplingRate <= 0 {
		return
	}
	var sum float64
	switch c := chunk.(type) {
	case *wave.Int16Interleaved:
		for _, s := range c.Data[:min(n, len(c.Data))] {
			v := float64(s) / 32768
			sum += v * v
		}
	case *wave.Float32Interleaved:
		for _, s := range c.Data[:min(n, len(c.Data))] {
			sum += float64(s) * float64(s)
		}
	default:
		for i := range info.Len {
			for ch := range info.Channels {
				v := float64(c.At(i, ch).Int()) / (1 << 31)
				sum += v * v
			}
		}
	}
	alpha := 1 - math.Exp(-float64(info.Len)/(levelTimeConstant*float64(info.SamplingRate)))
	for {
		old := m.meanSquare.Load()
		ms := math.Float64frombits(old)
		ms += alpha * (sum/float64(n) - ms)
		if m.meanSquare.CompareAndSwap(old, math.Float64bits(ms)) {
			return
		}
	}
}

// dBFS is the RMS level in dBFS (a full-scale sine is -3 dBFS), MinLevel for silence.
func (m *levelMeter) dBFS() float64 {
	ms := math.Float64frombits(m.meanSquare.Load())
	if ms <= 1e-10 {
		return MinLevel
	}
	return max(10*math.Log10(ms), MinLevel)
}

// InputLevel is the level of what the microphone (or the tone) captured in about the last
// 0.3 s, in dBFS, muted or not: a meter shows users the microphone is alive before they talk.
// MinLevel without audio.
func (l *Local) InputLevel() float64 { return l.inLevel.dBFS() }

// openMic opens microphone d, behind a guard against its vanishing mid-call (micguard.go).
func (l *Local) openMic(d driver.Driver, o Options) error {
	stream, err := mediadevices.GetUserMedia(mediadevices.MediaStreamConstraints{
		Audio: func(c *mediadevices.MediaTrackConstraints) {
			c.DeviceID = prop.StringExact(d.ID())
			c.SampleRate = prop.Int(toneRate)
			c.ChannelCount = prop.Int(toneChannels)
		},
		Codec: l.Selector,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", deviceOf(d, KindAudio).Label, err)
	}
	tracks := stream.GetAudioTracks()
	if len(tracks) == 0 {
		return fmt.Errorf("%s: no audio track", deviceOf(d, KindAudio).Label)
	}
	l.Audio = tracks[0]
	l.AudioSource = "mic:" + deviceOf(d, KindAudio).Label
	l.mic = newMicGuard(deviceOf(d, KindAudio).Label, o.Logger)
	return nil
}
