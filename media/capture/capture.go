// Package capture opens the local media of a call with pion/mediadevices: the camera and the
// microphone when there are some, else (or on request) the test pattern and the tone of
// media/pattern, encoded with x264 (media/capture/x264)/libvpx/libopus for a pion peer
// connection.
//
// Importing the package registers mediadevices' v4l2 camera driver, which copes with a machine
// without /dev/video*. The microphones are listed the first time they are needed, with an
// adaptation of mediadevices' malgo driver (internal/micdriver) that asks only the sound
// systems the machine has.
package capture

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/driver"
	// Registers the v4l2 camera driver.
	_ "github.com/pion/mediadevices/pkg/driver/camera"
	"github.com/pion/mediadevices/pkg/prop"

	// Keeps the sound libraries quiet while the microphones are listed.
	_ "github.com/kvsviewer/kvsviewer/internal/quietaudio"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

var (
	// ErrNoCamera is returned by Open when a camera is required and none is present.
	ErrNoCamera = errors.New("no camera found")
	// ErrNoMicrophone is returned by Open when a microphone is required and none is present.
	ErrNoMicrophone = errors.New("no microphone found")
)

// Video and audio source choices of Options.
const (
	SourceAuto   = "auto"   // the device if there is one, else the synthetic source
	SourceCamera = "camera" // a camera, or ErrNoCamera
	SourceMic    = "mic"    // a microphone, or ErrNoMicrophone
	SourceTest   = "test"   // the video test pattern
	SourceTone   = "tone"   // the audio test tone
	SourceNone   = "none"   // no track
)

// Defaults of Options.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 30
	// ToneHz is the frequency of the test tone.
	ToneHz = 440
	// toneRate and toneChannels are the test tone's format: what Opus codes natively.
	toneRate     = 48000
	toneChannels = 1
)

// Options selects and shapes the local media.
type Options struct {
	// Video is SourceAuto (camera if present, else test pattern), SourceCamera, SourceTest or
	// SourceNone; "" means SourceAuto.
	Video string
	// Audio is SourceAuto (microphone if present, else tone), SourceMic, SourceTone or
	// SourceNone; "" means SourceAuto.
	Audio string
	// VideoDevice and AudioDevice pick a device by ID or label from ListDevices; "" means the
	// default (the highest priority device).
	VideoDevice, AudioDevice string
	// Width, Height and FPS are the wanted video format; 0 means 1280x720 at 30 fps. A camera
	// gives the closest format it offers.
	Width, Height, FPS int
	// Codec is the codec preference for NewCodecSelector: CodecAuto, CodecH264 or CodecVP8.
	Codec string
	// VideoBitrate is the video target in bit/s; 0 means DefaultVideoBitrate.
	VideoBitrate int
	// PatternStyle is the look of the test pattern.
	PatternStyle pattern.Style
	// SyncMarks makes the test pattern flash and the tone beep on each whole second, for a
	// receiver's A/V sync meter (pattern.SetSyncMarks, pattern.SetBeeps); AVOffset shifts the
	// beeps on purpose: positive makes the audio late.
	SyncMarks bool
	AVOffset  time.Duration
	// StreamID is the stream id of VideoSend and AudioSend in the SDP; "" means a random one.
	StreamID string
	// Background marks media that a long-lived peer in this process holds (the in-process demo
	// master's, opened ahead of its viewers' offers): BackgroundCount counts them, OpenCount,
	// which tells whether a call left media open, leaves them out.
	Background bool
	// Logger gets the send tracks' debug messages (nil means discard them) and the H.264
	// encoder's log: x264's errors and warnings, and its information at debug level (nil means
	// slog.Default() for those).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Video == "" {
		o.Video = SourceAuto
	}
	if o.Audio == "" {
		o.Audio = SourceAuto
	}
	if o.Codec == "" {
		o.Codec = CodecAuto
	}
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = DefaultWidth, DefaultHeight
	}
	if o.FPS <= 0 {
		o.FPS = DefaultFPS
	}
	if o.VideoBitrate <= 0 {
		o.VideoBitrate = DefaultVideoBitrate(o.Width, o.Height, o.FPS)
	}
	return o
}

// Local is the local media of one call. Video and Audio are nil when absent.
//
// Add VideoSend and AudioSend, not Video and Audio, to peer connections (see SendTrack for why).
// Video and Audio stay available for other readers, e.g. a preview from
// Local.Video.(*mediadevices.VideoTrack).NewReader.
type Local struct {
	Video mediadevices.Track
	Audio mediadevices.Track
	// VideoSend and AudioSend wrap Video and Audio for pion (nil when absent); they share one
	// stream id, and their track ids are "<stream id>-video" and "<stream id>-audio".
	VideoSend, AudioSend *SendTrack
	// Selector holds the encoders the tracks use; Populate the MediaEngine with it.
	Selector *mediadevices.CodecSelector
	// Notes are human readable remarks on fallbacks, e.g. "no camera found: sending the test
	// pattern".
	Notes []string
	// VideoSource is "camera:<label>", "test" or "none"; AudioSource is "mic:<label>", "tone"
	// or "none".
	VideoSource, AudioSource string

	videoOn, audioOn atomic.Bool
	inLevel          levelMeter // what the audio source captures, before muting
	preview          atomic.Pointer[func(image.Image)]
	pattern          *pattern.Generator // the test pattern source, when that is the video
	tone             *pattern.Tone      // the test tone source, when that is the audio
	warm             *warmEncoder       // the video encoder built ahead (warm.go); nil without video
	mic              *micGuard          // the microphone's guard, when that is the audio
	closeOnce        sync.Once
	closeErr         error
	counted          bool // Open counted this Local in the open counters
	background       bool // Options.Background
}

// randomStreamID returns a fresh stream id.
func randomStreamID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "kvsviewer-" + hex.EncodeToString(b[:])
}

// Open opens the local media as o asks. SourceAuto falls back to the synthetic source with a
// note when there is no device or the device fails to open; an explicit SourceCamera or
// SourceMic fails with an error wrapping ErrNoCamera or ErrNoMicrophone when there is none.
// Nothing stays open when Open fails.
func Open(o Options) (*Local, error) {
	o = o.withDefaults()
	sel, builders, err := newCodecSelector(o.Codec, o)
	if err != nil {
		return nil, err
	}
	l := &Local{Selector: sel, VideoSource: SourceNone, AudioSource: SourceNone}
	l.videoOn.Store(true)
	l.audioOn.Store(true)
	if err := l.openVideo(o); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	if err := l.openAudio(o); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	if vt, ok := l.Video.(*mediadevices.VideoTrack); ok {
		vt.Transform(l.videoGate)
		// The preferred codec's encoder, built while the call is set up.
		var prepare func()
		if l.pattern != nil {
			prepare = l.pattern.Prepare
		}
		l.warm = warmUp(builders[0], vt, prepare)
		builders[0].warm = l.warm
	}
	if at, ok := l.Audio.(*mediadevices.AudioTrack); ok {
		if l.mic != nil {
			at.Transform(l.mic.transform) // before the gate: muting meters the silence too
		}
		at.Transform(l.audioGate)
	}
	stream := o.StreamID
	if stream == "" {
		stream = randomStreamID()
	}
	if l.Video != nil {
		l.VideoSend = NewSendTrack(l.Video, stream+"-video", stream, o.Logger)
		l.VideoSend.encodes = producedBy(builders) // bound in the background
		if l.pattern != nil {
			// A forced keyframe need not wait up to a frame interval for the next picture.
			l.VideoSend.kick = l.pattern.Kick
		}
	}
	if l.Audio != nil {
		l.AudioSend = NewSendTrack(l.Audio, stream+"-audio", stream, o.Logger)
		if l.tone != nil {
			l.AudioSend.kick = l.tone.Kick // an unbind need not wait for the next chunk
		}
		if l.mic != nil {
			l.AudioSend.release = l.mic.release // a lost microphone is not closed: see micGuard
		}
	}
	l.counted, l.background = true, o.Background
	l.count(1)
	return l, nil
}

func (l *Local) openVideo(o Options) error {
	switch o.Video {
	case SourceNone:
		return nil
	case SourceTest:
		l.openPattern(o)
		return nil
	case SourceCamera, SourceAuto:
	default:
		return fmt.Errorf("capture: unknown video source %q (want auto, camera, test or none)", o.Video)
	}
	d, err := pickDevice(KindVideo, o.VideoDevice)
	if err == nil {
		err = l.openCamera(d, o)
	}
	if err == nil {
		return nil
	}
	if o.Video == SourceCamera {
		return fmt.Errorf("capture: open camera: %w", err)
	}
	if errors.Is(err, ErrNoCamera) {
		l.Notes = append(l.Notes, "no camera found: sending the test pattern")
	} else {
		l.Notes = append(l.Notes, fmt.Sprintf("camera unusable (%v): sending the test pattern", err))
	}
	l.openPattern(o)
	return nil
}

func (l *Local) openPattern(o Options) {
	l.pattern = pattern.New(o.Width, o.Height, o.FPS, o.PatternStyle)
	l.pattern.SetSyncMarks(o.SyncMarks)
	l.Video = mediadevices.NewVideoTrack(l.pattern, l.Selector)
	l.VideoSource = SourceTest
}

func (l *Local) openCamera(d driver.Driver, o Options) error {
	stream, err := mediadevices.GetUserMedia(mediadevices.MediaStreamConstraints{
		Video: func(c *mediadevices.MediaTrackConstraints) {
			c.DeviceID = prop.StringExact(d.ID())
			c.Width = prop.Int(o.Width)
			c.Height = prop.Int(o.Height)
			c.FrameRate = prop.Float(o.FPS)
		},
		Codec: l.Selector,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", deviceOf(d, KindVideo).Label, err)
	}
	tracks := stream.GetVideoTracks()
	if len(tracks) == 0 {
		return fmt.Errorf("%s: no video track", deviceOf(d, KindVideo).Label)
	}
	l.Video = tracks[0]
	l.VideoSource = "camera:" + deviceOf(d, KindVideo).Label
	return nil
}

func (l *Local) openAudio(o Options) error {
	switch o.Audio {
	case SourceNone:
		return nil
	case SourceTone:
		l.openTone(o)
		return nil
	case SourceMic, SourceAuto:
	default:
		return fmt.Errorf("capture: unknown audio source %q (want auto, mic, tone or none)", o.Audio)
	}
	listMicrophones()
	micMu.Lock()
	d, err := pickDevice(KindAudio, o.AudioDevice)
	if err != nil && o.Audio == SourceMic {
		// A microphone is asked for: the sound server may have come up after the process.
		if ok, rerr := refreshMicrophones(); ok && rerr == nil {
			d, err = pickDevice(KindAudio, o.AudioDevice)
		}
	}
	if err == nil {
		err = l.openMic(d, o)
	}
	micMu.Unlock()
	if err == nil {
		return nil
	}
	if o.Audio == SourceMic {
		return fmt.Errorf("capture: open microphone: %w", err)
	}
	if errors.Is(err, ErrNoMicrophone) {
		l.Notes = append(l.Notes, "no microphone found: sending a tone")
	} else {
		l.Notes = append(l.Notes, fmt.Sprintf("microphone unusable (%v): sending a tone", err))
	}
	l.openTone(o)
	return nil
}

func (l *Local) openTone(o Options) {
	tone := pattern.NewTone(ToneHz, toneRate, toneChannels)
	if o.SyncMarks {
		tone.SetBeeps(o.AVOffset)
	}
	l.Audio = mediadevices.NewAudioTrack(tone, l.Selector)
	l.AudioSource, l.tone = SourceTone, tone
}

// HasDevice reports whether l holds a real camera or microphone (which another
// Local cannot open at the same time), as opposed to only synthetic sources.
func (l *Local) HasDevice() bool { return l.hasCamera() || l.hasMic() }

func (l *Local) hasCamera() bool { return strings.HasPrefix(l.VideoSource, "camera:") }
func (l *Local) hasMic() bool    { return strings.HasPrefix(l.AudioSource, "mic:") }
