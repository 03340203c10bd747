// Package x264 is the H.264 encoder of the calls: libx264 behind mediadevices'
// codec.VideoEncoderBuilder, set up like mediadevices' own x264 encoder
// (github.com/pion/mediadevices/pkg/codec/x264, MIT licence, which this
// package adapts) but with x264's log in the program's log.
//
// mediadevices v0.9.4 leaves x264's log at its defaults: level info, printed
// on stderr by libx264 itself. Every encoder therefore wrote "x264 [info]:
// using cpu capabilities", its profile and, when closed, a page of statistics
// to the terminal. Here x264 logs through a callback into a slog.Logger:
// errors and warnings at their levels, and the information lines (only when
// the logger wants debug) at debug. The process's stderr is not touched.
//
// Like mediadevices' encoder it uses preset ultrafast (by default) with tune
// zerolatency, profile high at most (ultrafast makes it Constrained Baseline),
// ABR rate control with a VBV of the target rate, SPS/PPS repeated on every
// IDR, Annex-B output, and IDRs on request (ForceKeyFrame, for PLI/FIR).
// Unlike it, it encodes pictures of up to 1280x720 on one thread (see
// bridge.c): x264's one thread per core cost 2.4 MB each for no speed here.
package x264

/*
#cgo pkg-config: x264
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// Preset is an x264 speed preset; faster presets use less CPU for lower quality.
type Preset string

// x264's presets. The zero Preset means PresetUltrafast.
const (
	PresetUltrafast Preset = "ultrafast"
	PresetSuperfast Preset = "superfast"
	PresetVeryfast  Preset = "veryfast"
	PresetFaster    Preset = "faster"
	PresetFast      Preset = "fast"
	PresetMedium    Preset = "medium"
	PresetSlow      Preset = "slow"
	PresetSlower    Preset = "slower"
	PresetVeryslow  Preset = "veryslow"
	PresetPlacebo   Preset = "placebo"
)

// Params are the encoder settings; they build encoders (codec.VideoEncoderBuilder).
type Params struct {
	// BaseParams.BitRate is the target in bit/s (required);
	// BaseParams.KeyFrameInterval the maximum distance between IDRs in frames
	// (0 means 60). Other BaseParams fields are not used.
	codec.BaseParams
	// Preset is the x264 preset; "" means PresetUltrafast.
	Preset Preset
	// Logger gets x264's errors and warnings at those levels, and its
	// information lines (the CPU features, the profile, the statistics at
	// close) at debug level when it has debug enabled; nil means slog.Default().
	Logger *slog.Logger
}

// NewParams returns the default settings: a keyframe at least every 60
// frames, preset ultrafast. Set BitRate before building.
func NewParams() (Params, error) {
	return Params{BaseParams: codec.BaseParams{KeyFrameInterval: 60}, Preset: PresetUltrafast}, nil
}

// RTPCodec describes H.264 for SDP and packetization (mediadevices' H.264
// description: payload type 125, profile-level-id 42e01f, packetization mode 1).
func (p *Params) RTPCodec() *codec.RTPCodec {
	return codec.NewRTPH264Codec(90000)
}

// BuildVideoEncoder opens an encoder for the frames of r, of the size in m.
func (p *Params) BuildVideoEncoder(r video.Reader, m prop.Media) (codec.ReadCloser, error) {
	return newEncoder(r, m, *p)
}

var (
	errClosed = errors.New("x264: encoder closed")
	openErrs  = map[C.int]string{
		C.KV_ERR_PRESET:  "unknown preset",
		C.KV_ERR_PROFILE: "cannot apply the profile",
		C.KV_ERR_OPEN:    "cannot open the encoder",
	}
)

// encoder is one libx264 encoder. Read, SetBitRate and Close are serialised;
// ForceKeyFrame only sets a flag, so it never waits for a frame.
type encoder struct {
	r    video.Reader
	w, h int
	log  cgo.Handle // the logger, for kvX264Log

	forceIDR atomic.Bool

	mu     sync.Mutex
	c      *C.kv_x264
	kbps   int
	closed bool
}

func newEncoder(r video.Reader, m prop.Media, p Params) (*encoder, error) {
	if m.Width <= 0 || m.Height <= 0 {
		return nil, fmt.Errorf("x264: bad frame size %dx%d", m.Width, m.Height)
	}
	keyint := p.KeyFrameInterval
	if keyint <= 0 {
		keyint = 60
	}
	preset := p.Preset
	if preset == "" {
		preset = PresetUltrafast
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// x264 formats a message only at or above its level: its information lines
	// (at open and close, none per frame) only when they would be logged.
	level := C.int(C.X264_LOG_WARNING)
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		level = C.X264_LOG_INFO
	}
	kbps := p.BitRate / 1000 // x264 counts in kbit/s
	e := &encoder{r: video.ToI420(r), w: m.Width, h: m.Height, log: cgo.NewHandle(logger), kbps: kbps}
	cPreset := C.CString(string(preset))
	defer C.free(unsafe.Pointer(cPreset))
	var rc C.int
	e.c = C.kv_x264_open(cPreset, C.int(m.Width), C.int(m.Height), C.int(keyint), C.int(kbps),
		level, C.uintptr_t(e.log), &rc)
	if e.c == nil {
		e.log.Delete()
		return nil, fmt.Errorf("x264: %s (%s, %dx%d, %d kbit/s)", openErrs[rc], preset, m.Width, m.Height, kbps)
	}
	return e, nil
}

// Read encodes the next frame of the source into one Annex-B access unit.
func (e *encoder) Read() ([]byte, func(), error) {
	noop := func() {}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, noop, io.EOF
	}
	img, release, err := e.r.Read()
	if err != nil {
		return nil, noop, err
	}
	defer release()
	yuv, ok := img.(*image.YCbCr)
	if !ok || yuv.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, noop, fmt.Errorf("x264: frame is %T, not I420", img)
	}
	if yuv.Rect.Dx() != e.w || yuv.Rect.Dy() != e.h {
		return nil, noop, fmt.Errorf("x264: frame is %dx%d, the encoder was opened for %dx%d", yuv.Rect.Dx(), yuv.Rect.Dy(), e.w, e.h)
	}
	x, y := yuv.Rect.Min.X, yuv.Rect.Min.Y
	idr := C.int(0)
	if e.forceIDR.Swap(false) {
		idr = 1
	}
	var out *C.uint8_t
	n := C.kv_x264_encode(e.c,
		(*C.uint8_t)(&yuv.Y[yuv.YOffset(x, y)]),
		(*C.uint8_t)(&yuv.Cb[yuv.COffset(x, y)]),
		(*C.uint8_t)(&yuv.Cr[yuv.COffset(x, y)]),
		C.int(yuv.YStride), C.int(yuv.CStride), idr, &out)
	if n <= 0 {
		return nil, noop, fmt.Errorf("x264: encoding failed (%d)", int(n))
	}
	return C.GoBytes(unsafe.Pointer(out), n), noop, nil
}

// Controller returns the encoder: it implements codec.KeyFrameController and
// codec.BitRateController.
func (e *encoder) Controller() codec.EncoderController { return e }

// ForceKeyFrame makes the next frame an IDR (with SPS and PPS).
func (e *encoder) ForceKeyFrame() error {
	e.forceIDR.Store(true)
	return nil
}

// SetBitRate changes the target bitrate (bit/s) from the next frame on, with
// the VBV scaled as at open. Targets of 1 kbit/s or less are ignored.
// (mediadevices' encoder instead raises the VBV maximum 5 Mbit/s above the
// target; nothing in this program changes the bitrate.)
func (e *encoder) SetBitRate(bitrate int) error {
	kbps := bitrate / 1000
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errClosed
	}
	if kbps <= 1 || kbps == e.kbps {
		return nil
	}
	if C.kv_x264_set_bitrate(e.c, C.int(kbps)) < 0 {
		return fmt.Errorf("x264: cannot change the bitrate to %d kbit/s", kbps)
	}
	e.kbps = kbps
	return nil
}

// Close frees the encoder; Read returns io.EOF afterwards.
func (e *encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	C.kv_x264_close(e.c) // may log (warnings), so the handle goes after
	e.c = nil
	e.log.Delete()
	return nil
}

// kvX264Log is x264's log callback (see bridge.c).
//
//export kvX264Log
func kvX264Log(h C.uintptr_t, level C.int, msg *C.char) {
	l, ok := cgo.Handle(h).Value().(*slog.Logger)
	if !ok {
		return
	}
	lv := slog.LevelDebug
	switch level {
	case C.X264_LOG_ERROR:
		lv = slog.LevelError
	case C.X264_LOG_WARNING:
		lv = slog.LevelWarn
	}
	l.Log(context.Background(), lv, "x264: "+C.GoString(msg))
}
