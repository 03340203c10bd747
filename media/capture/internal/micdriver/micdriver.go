// Package micdriver registers the machine's microphones with mediadevices'
// driver manager, through miniaudio (malgo). It adapts mediadevices' own
// driver (github.com/pion/mediadevices/pkg/driver/microphone v0.9.4, MIT
// licence, Copyright (c) 2019 The Pion community) in three ways:
//
//   - The microphones are listed when Register is called, not in a package
//     init. The upstream driver probes every miniaudio backend when the
//     process starts: on a machine without a sound server that is libasound
//     reading its configuration once for every PCM plugin, 48 ms of every
//     start of the program (--version and --help included), and libpulse,
//     libasound and libjack with their own libraries in every process (4.3 MB
//     of a headless call's RSS), even one that sends a test tone.
//   - Only the backends sounddev.Backends deems worth trying are asked: none
//     on a machine with neither a sound card nor a sound server, so miniaudio's
//     null backend (a "microphone" that records silence) is never registered.
//   - A microphone's reader ends with io.EOF once the microphone is closed.
//     Upstream, Close set the driver's chunk channel to nil after closing it,
//     so a read that came after the close waited for ever, and its goroutine
//     with it.
package micdriver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gen2brain/malgo"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"

	"github.com/kvsviewer/kvsviewer/media/internal/sounddev"
)

// sampleRate is the only rate the driver offers, as upstream: mediadevices
// has no resampler.
const sampleRate = 48000

// latency is the period the driver asks miniaudio for, as upstream.
const latency = 20 * time.Millisecond

// Register lists the microphones of the first backend that works and
// registers them with the driver manager, in place of the microphones
// registered before. As upstream, the audio context of an earlier Register
// is left open: a microphone lost mid-call and abandoned by its user (see
// capture's micGuard) may still hold a device in it. Register returns
// sounddev.ErrNoSoundSystem, having registered none, where there is nothing
// to ask.
func Register() error {
	m := driver.GetManager()
	for _, d := range m.Query(driver.FilterDeviceType(driver.Microphone)) {
		m.Delete(d.ID())
	}
	backends, err := sounddev.Backends()
	if err != nil {
		return err
	}
	ctx, err := malgo.InitContext(backends, malgo.ContextConfig{}, nil)
	if err != nil {
		return fmt.Errorf("microphones: audio context: %w", err)
	}
	devices, err := ctx.Devices(malgo.Capture)
	if err != nil {
		_ = ctx.Uninit()
		ctx.Free()
		return fmt.Errorf("microphones: list: %w", err)
	}
	for _, d := range devices {
		info, err := ctx.DeviceInfo(malgo.Capture, d.ID, malgo.Shared)
		if err != nil {
			continue // as upstream: a device that cannot say what it is, is left out
		}
		priority := driver.PriorityNormal
		if info.IsDefault > 0 {
			priority = driver.PriorityHigh
		}
		_ = m.Register(&microphone{DeviceInfo: info, ctx: ctx.Context}, driver.Info{ // always nil
			Label: d.ID.String(), DeviceType: driver.Microphone, Priority: priority, Name: info.Name(),
		})
	}
	return nil
}

// microphone is one capture device of a miniaudio context.
type microphone struct {
	malgo.DeviceInfo
	ctx malgo.Context

	chunks chan []byte // the device's periods, from Open; closed by Close
	stop   func()      // stops the device, closes chunks; nil until AudioRecord
}

// errUnsupportedFormat: a format other than 32-bit float or 16-bit integer.
var errUnsupportedFormat = errors.New("the provided audio format is not supported")

func (m *microphone) Open() error {
	m.chunks = make(chan []byte, 1)
	return nil
}

func (m *microphone) Close() error {
	if m.stop != nil {
		m.stop()
	}
	return nil
}

// AudioRecord starts the device in the format of p and returns its reader,
// which ends with io.EOF once the device is closed.
func (m *microphone) AudioRecord(p prop.Media) (audio.Reader, error) {
	decoder, err := wave.NewDecoder(&wave.RawFormat{SampleSize: p.SampleSize, IsFloat: p.IsFloat, Interleaved: p.IsInterleaved})
	if err != nil {
		return nil, fmt.Errorf("microphone %q: %w", m.Name(), err)
	}
	config, err := m.config(p)
	if err != nil {
		return nil, err
	}
	chunks := m.chunks
	stopped, cancel := context.WithCancel(context.Background())
	device, err := malgo.InitDevice(m.ctx, config, malgo.DeviceCallbacks{
		Data: func(_, chunk []byte, _ uint32) {
			select {
			case <-stopped.Done():
			case chunks <- chunk:
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("microphone %q: %w", m.Name(), err)
	}
	if err := device.Start(); err != nil {
		cancel()
		device.Uninit()
		return nil, fmt.Errorf("microphone %q: start: %w", m.Name(), err)
	}
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			cancel() // unblocks a period waiting to be read
			device.Uninit()
			close(chunks)
		})
	}
	return audio.ReaderFunc(func() (wave.Audio, func(), error) {
		chunk, ok := <-chunks
		if !ok {
			return nil, func() {}, io.EOF
		}
		decoded, err := decoder.Decode(binary.NativeEndian, chunk, p.ChannelCount)
		if err != nil {
			return nil, func() {}, fmt.Errorf("microphone %q: %w", m.Name(), err)
		}
		switch a := decoded.(type) {
		case *wave.Float32Interleaved:
			a.Size.SamplingRate = p.SampleRate
		case *wave.Int16Interleaved:
			a.Size.SamplingRate = p.SampleRate
		}
		return decoded, func() {}, nil
	}), nil
}

// config is the miniaudio configuration that records the device in the format of p.
func (m *microphone) config(p prop.Media) (malgo.DeviceConfig, error) {
	var config malgo.DeviceConfig // zero, as upstream: miniaudio's defaults
	config.DeviceType = malgo.Capture
	config.PerformanceProfile = malgo.LowLatency
	config.Capture.Channels = uint32(p.ChannelCount)
	config.SampleRate = uint32(p.SampleRate)
	config.PeriodSizeInMilliseconds = uint32(p.Latency.Milliseconds())
	config.Capture.DeviceID = m.ID.Pointer()
	switch {
	case p.SampleSize == 4 && p.IsFloat:
		config.Capture.Format = malgo.FormatF32
	case p.SampleSize == 2 && !p.IsFloat:
		config.Capture.Format = malgo.FormatS16
	default:
		return config, fmt.Errorf("microphone %q: %w", m.Name(), errUnsupportedFormat)
	}
	return config, nil
}

// Properties are the device's formats miniaudio can convert to: 32-bit float
// and 16-bit integer, interleaved, at 48 kHz.
func (m *microphone) Properties() []prop.Media {
	var out []prop.Media
	for _, f := range m.Formats {
		p := prop.Media{Audio: prop.Audio{
			ChannelCount:  int(f.Channels),
			SampleRate:    sampleRate,
			IsBigEndian:   binary.NativeEndian.Uint16([]byte{0, 1}) == 1,
			IsInterleaved: true,
			Latency:       latency,
		}}
		switch malgo.FormatType(f.Format) {
		case malgo.FormatF32:
			p.SampleSize, p.IsFloat = 4, true
		case malgo.FormatS16:
			p.SampleSize = 2
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}
