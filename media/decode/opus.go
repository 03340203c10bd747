package decode

// #include "bridge.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// OpusDecoder decodes Opus packets to interleaved 16-bit PCM with libopus.
// It is not safe for concurrent use.
type OpusDecoder struct {
	serial   uint64
	d        *C.OpusDecoder
	rate     int
	channels int
}

// ErrOpus wraps failures reported by libopus.
var ErrOpus = errors.New("decode: opus error")

// NewOpusDecoder creates a decoder producing sampleRate Hz (8000, 12000,
// 16000, 24000 or 48000) with 1 or 2 channels.
func NewOpusDecoder(sampleRate, channels int) (*OpusDecoder, error) {
	switch sampleRate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return nil, fmt.Errorf("%w: unsupported sample rate %d", ErrOpus, sampleRate)
	}
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("%w: unsupported channel count %d", ErrOpus, channels)
	}
	var cerr C.int
	d := C.kv_opus_new(C.int(sampleRate), C.int(channels), &cerr)
	if d == nil || cerr != C.OPUS_OK {
		return nil, fmt.Errorf("%w: create decoder: %s", ErrOpus, C.GoString(C.opus_strerror(cerr)))
	}
	return &OpusDecoder{serial: serials.Add(1), d: d, rate: sampleRate, channels: channels}, nil
}

// Serial is the decoder's number, unique among the decoders (video and Opus)
// this process opened.
func (d *OpusDecoder) Serial() uint64 { return d.serial }

// SampleRate is the output rate in Hz.
func (d *OpusDecoder) SampleRate() int { return d.rate }

// Channels is the number of interleaved output channels.
func (d *OpusDecoder) Channels() int { return d.channels }

// Decode decodes one packet into pcm (interleaved) and returns the number of
// samples per channel written. An empty pkt conceals one lost packet (PLC)
// of len(pcm)/channels samples, so size pcm to the expected frame then. pcm
// must hold the whole frame: 120 ms at 48 kHz stereo is 11520 samples.
func (d *OpusDecoder) Decode(pkt []byte, pcm []int16) (int, error) {
	if d.d == nil {
		return 0, ErrClosed
	}
	frameSize := len(pcm) / d.channels
	if frameSize == 0 {
		return 0, fmt.Errorf("%w: pcm buffer too small", ErrOpus)
	}
	var data *C.uint8_t
	if len(pkt) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&pkt[0]))
	}
	n := C.kv_opus_decode(d.d, data, C.int(len(pkt)), (*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(frameSize))
	if n < 0 {
		return 0, fmt.Errorf("%w: decode %d bytes: %s", ErrOpus, len(pkt), C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Close frees the decoder. It is idempotent.
func (d *OpusDecoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}
