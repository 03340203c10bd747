// Package decode is a small cgo binding to FFmpeg 5.1 (libavcodec,
// libswscale, libavutil) for H.264, H.265, VP8 and VP9 video, and to libopus
// for Opus audio. It is decode-only. The Makefile links a static FFmpeg with
// just these decoders, built from Debian 12's source by scripts/ffmpeg.sh;
// pkg-config finds it through the PKG_CONFIG_PATH the Makefile sets.
//
// A VideoDecoder turns one encoded frame (an Annex-B access unit for
// H.264/H.265, one whole frame for VP8/VP9) into an *image.RGBA or a
// Picture (4:2:0 planes), and a Scaler converts and scales pictures for
// display. Decoders and scalers are not safe for concurrent use: one
// goroutine owns each.
package decode

// #cgo pkg-config: libavcodec libavutil libswscale opus
// #include "bridge.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Codec names a video codec as the MIME subtype pion uses ("H264", "VP8", ...).
type Codec string

// Supported video codecs.
const (
	H264 Codec = "H264"
	H265 Codec = "H265"
	VP8  Codec = "VP8"
	VP9  Codec = "VP9"
)

var (
	// ErrNeedKeyframe is returned while the decoder waits for a keyframe: at the
	// start, after Reset and after a decode error. The caller should ask the
	// sender for one (RTCP PLI) and keep feeding frames.
	ErrNeedKeyframe = errors.New("decode: waiting for a keyframe")
	// ErrDecode wraps every failure reported by the codec library.
	ErrDecode = errors.New("decode: codec error")
	// ErrClosed is returned by Decode after Close.
	ErrClosed = errors.New("decode: decoder closed")
	// ErrUnsupportedCodec is returned for codecs this package cannot decode.
	ErrUnsupportedCodec = errors.New("decode: unsupported codec")
	// ErrPictureTooLarge is wrapped by the *SizeError a decoder returns for
	// a stream whose pictures exceed its size cap. Unlike ErrDecode it does
	// not pass: the sender keeps sending that size, so the caller should stop
	// decoding the stream and tell the user (SizeError has the sizes).
	ErrPictureTooLarge = errors.New("decode: picture too large")
)

// The size cap of NewVideoDecoder: 4K UHD at 16:9 (4096x2304), each side
// and so the pixel count. Video calls do not send more; the cap keeps a
// sender from making the decoder allocate gigabytes for huge pictures.
const (
	DefaultMaxWidth  = 4096
	DefaultMaxHeight = 2304
)

// SizeError reports a picture larger than a decoder's cap: the size the
// stream declared (or a decoded picture had) and the cap. It wraps
// ErrPictureTooLarge.
type SizeError struct {
	Codec               Codec
	Width, Height       int // the stream's picture size
	MaxWidth, MaxHeight int // the decoder's cap
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%v: %s picture of %dx%d exceeds the %dx%d cap",
		ErrPictureTooLarge, e.Codec, e.Width, e.Height, e.MaxWidth, e.MaxHeight)
}

// Unwrap returns ErrPictureTooLarge.
func (e *SizeError) Unwrap() error { return ErrPictureTooLarge }

var quietOnce sync.Once

func quiet() { quietOnce.Do(func() { C.kv_quiet() }) }

// CodecFromMime maps a MIME type such as webrtc.MimeTypeH264 ("video/H264")
// or a bare subtype ("h264") to a Codec, case-insensitively.
func CodecFromMime(mime string) (Codec, error) {
	sub := mime
	if i := strings.IndexByte(mime, '/'); i >= 0 {
		if !strings.EqualFold(mime[:i], "video") {
			return "", fmt.Errorf("%w: %q is not video", ErrUnsupportedCodec, mime)
		}
		sub = mime[i+1:]
	}
	for _, c := range []Codec{H264, H265, VP8, VP9} {
		if strings.EqualFold(sub, string(c)) {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedCodec, mime)
}

func (c Codec) avID() (C.int, bool) {
	switch c {
	case H264:
		return C.AV_CODEC_ID_H264, true
	case H265:
		return C.AV_CODEC_ID_HEVC, true
	case VP8:
		return C.AV_CODEC_ID_VP8, true
	case VP9:
		return C.AV_CODEC_ID_VP9, true
	}
	return 0, false
}

// VideoDecoder decodes one video stream to RGBA. Create it with NewVideoDecoder.
type VideoDecoder struct {
	serial  uint64
	codec   Codec
	maxW    int
	maxH    int
	c       *C.kv_vdec
	img     *image.RGBA
	pic     *Picture
	rgba    *Scaler // Decode's conversion, made on first use
	needKey bool
}

// NewVideoDecoder opens a libavcodec decoder for c that accepts pictures up
// to DefaultMaxWidth x DefaultMaxHeight. It decodes on one thread.
func NewVideoDecoder(c Codec) (*VideoDecoder, error) {
	return NewVideoDecoderMax(c, DefaultMaxWidth, DefaultMaxHeight)
}

// NewVideoDecoderMax opens a decoder for c that accepts pictures up to
// maxW x maxH (each 1..16384). A stream that declares a larger picture makes
// Decode return a *SizeError before anything is allocated for that picture:
// libavcodec is limited to as many pixels (AVCodecContext.max_pixels) and
// each side is checked before the picture is copied out.
func NewVideoDecoderMax(c Codec, maxW, maxH int) (*VideoDecoder, error) {
	id, ok := c.avID()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedCodec, string(c))
	}
	if maxW <= 0 || maxH <= 0 || maxW > maxSide || maxH > maxSide {
		return nil, fmt.Errorf("decode: open %s decoder: size cap %dx%d (each side must be 1..%d)", c, maxW, maxH, maxSide)
	}
	quiet()
	d := C.kv_vdec_new(id, C.int(maxW), C.int(maxH))
	if d == nil {
		return nil, fmt.Errorf("decode: open %s decoder: libavcodec has no usable decoder", c)
	}
	return &VideoDecoder{serial: serials.Add(1), codec: c, maxW: maxW, maxH: maxH, c: d, needKey: true}, nil
}

// serials numbers the decoders (video and Opus) opened in this process.
var serials atomic.Uint64

// Serial is the decoder's number, unique among the decoders (video and Opus)
// this process opened: it tells one decoder from another in logs and tests.
func (d *VideoDecoder) Serial() uint64 { return d.serial }

// MaxSize is the largest picture the decoder accepts.
func (d *VideoDecoder) MaxSize() (w, h int) { return d.maxW, d.maxH }

// Codec reports the codec the decoder was opened for.
func (d *VideoDecoder) Codec() Codec { return d.codec }

// Reset makes the decoder drop frames until the next keyframe, e.g. after the
// caller lost a frame that later frames reference. Decode then returns
// ErrNeedKeyframe for delta frames instead of pictures with artefacts.
func (d *VideoDecoder) Reset() { d.needKey = true }

// Decode decodes one encoded frame. It returns (nil, nil) when the decoder
// produced no picture for this input. The returned image is owned by the
// decoder and valid until the next Decode or Close; it is reallocated only
// when the picture size changes. Before the first keyframe (and after an
// error, until the next keyframe) it returns ErrNeedKeyframe; codec failures
// wrap ErrDecode; a picture larger than the decoder's cap gives a *SizeError
// (ErrPictureTooLarge), again for every keyframe of that size.
func (d *VideoDecoder) Decode(frame []byte) (*image.RGBA, error) {
	pic, err := d.DecodePicture(frame)
	if err != nil || pic == nil {
		return nil, err
	}
	if d.rgba == nil {
		d.rgba = NewScaler()
	}
	img, err := d.rgba.ToRGBA(d.img, pic)
	if err != nil {
		d.needKey = true
		return nil, fmt.Errorf("%w: %s: convert to RGBA: %v", ErrDecode, d.codec, err)
	}
	d.img = img
	return img, nil
}

// DecodePicture is Decode without the conversion to RGBA: it returns the
// picture in 4:2:0 planes (converted to 4:2:0 if the stream uses another
// layout), which costs less than half the memory traffic and lets a display
// convert and scale in one pass (Scaler). Ownership is as for Decode.
func (d *VideoDecoder) DecodePicture(frame []byte) (*Picture, error) {
	w, h, err := d.decode(frame)
	if err != nil || w == 0 {
		return nil, err
	}
	if w > d.maxW || h > d.maxH { // checked in C already; nothing is allocated past the cap
		d.needKey = true
		return nil, &SizeError{Codec: d.codec, Width: w, Height: h, MaxWidth: d.maxW, MaxHeight: d.maxH}
	}
	if d.pic == nil || d.pic.Rect.Dx() != w || d.pic.Rect.Dy() != h {
		d.pic = &Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)}
	}
	p := d.pic
	// kv_vdec_yuv checks the picture it copies against these lengths too.
	cl := min(len(p.Cb), len(p.Cr))
	if p.YStride < w || len(p.Y) < p.YStride*h || p.CStride < (w+1)/2 || cl < p.CStride*((h+1)/2) {
		return nil, fmt.Errorf("%w: %s: picture buffers too small for %dx%d", ErrDecode, d.codec, w, h)
	}
	rc := C.kv_vdec_yuv(d.c, (*C.uint8_t)(unsafe.Pointer(&p.Y[0])), C.int(p.YStride), C.size_t(len(p.Y)),
		(*C.uint8_t)(unsafe.Pointer(&p.Cb[0])), (*C.uint8_t)(unsafe.Pointer(&p.Cr[0])), C.int(p.CStride), C.size_t(cl))
	runtime.KeepAlive(p) // cgo keeps the planes alive during the call anyway; explicit
	if rc < 0 {
		d.needKey = true
		return nil, fmt.Errorf("%w: %s: convert to 4:2:0: %s", ErrDecode, d.codec, C.GoString(C.kv_errstr(d.c)))
	}
	p.FullRange, p.BT709 = d.c.full != 0, d.c.bt709 != 0
	return p, nil
}

// decode feeds one frame to the codec and returns the size of the picture it
// produced, (0, 0) for none.
func (d *VideoDecoder) decode(frame []byte) (w, h int, err error) {
	if d.c == nil {
		return 0, 0, ErrClosed
	}
	if len(frame) == 0 {
		return 0, 0, fmt.Errorf("%w: %s: empty frame", ErrDecode, d.codec)
	}
	if len(frame) > 1<<28 {
		return 0, 0, fmt.Errorf("%w: %s: frame of %d bytes is too large", ErrDecode, d.codec, len(frame))
	}
	if d.needKey {
		if !IsKeyframe(d.codec, frame) {
			return 0, 0, ErrNeedKeyframe
		}
		C.kv_vdec_flush(d.c)
	}
	rc := C.kv_vdec_decode(d.c, (*C.uint8_t)(unsafe.Pointer(&frame[0])), C.int(len(frame)))
	runtime.KeepAlive(frame) // FFmpeg copies the data during the call; explicit
	if rc == C.KV_TOO_LARGE {
		d.needKey = true
		return 0, 0, &SizeError{Codec: d.codec, Width: int(d.c.big_w), Height: int(d.c.big_h), MaxWidth: d.maxW, MaxHeight: d.maxH}
	}
	if rc < 0 {
		d.needKey = true
		return 0, 0, fmt.Errorf("%w: %s: %s", ErrDecode, d.codec, C.GoString(C.kv_errstr(d.c)))
	}
	if rc == 0 {
		return 0, 0, nil
	}
	d.needKey = false
	return int(d.c.width), int(d.c.height), nil
}

// Close frees the decoder's C memory. It is idempotent.
func (d *VideoDecoder) Close() {
	if d.c != nil {
		C.kv_vdec_free(d.c)
		d.c = nil
	}
	if d.rgba != nil {
		d.rgba.Close()
	}
	d.img, d.pic, d.rgba = nil, nil, nil
}

// IsKeyframe reports whether frame starts a picture that decodes on its own:
// an IDR for H.264, an IRAP picture for H.265, a key frame for VP8/VP9.
// Input is as for VideoDecoder.Decode; garbage yields false.
func IsKeyframe(c Codec, frame []byte) bool {
	switch c {
	case H264:
		return annexBHas(frame, func(hdr byte) bool { return hdr&0x1f == 5 })
	case H265:
		return annexBHas(frame, func(hdr byte) bool { t := (hdr >> 1) & 0x3f; return t >= 16 && t <= 21 })
	case VP8:
		// RFC 6386 9.1: frame tag bit 0 is 0 for key frames, followed at byte 3 by the start code.
		return len(frame) >= 10 && frame[0]&1 == 0 && frame[3] == 0x9d && frame[4] == 0x01 && frame[5] == 0x2a
	case VP9:
		return vp9Keyframe(frame)
	}
	return false
}

// annexBHas reports whether any NAL unit after a 00 00 01 start code has a
// first header byte accepted by match.
func annexBHas(b []byte, match func(byte) bool) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if match(b[i+3]) {
				return true
			}
			i += 2
		}
	}
	return false
}

// vp9Keyframe reads the start of the VP9 uncompressed header (VP9 spec 6.2).
func vp9Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	bits := b[0]
	if bits>>6 != 2 { // frame_marker
		return false
	}
	profile := (bits>>5)&1 | ((bits>>4)&1)<<1
	pos := 4 // next bit index counted from the MSB
	if profile == 3 {
		pos++ // reserved_zero
	}
	bit := func(p int) byte { return (bits >> (7 - p)) & 1 }
	if bit(pos) == 1 { // show_existing_frame
		return false
	}
	return bit(pos+1) == 0 // frame_type: 0 = KEY_FRAME
}
