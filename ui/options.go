package ui

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// Options configure Run. The settings fields override the saved settings
// for this run only (empty / false keeps the saved value); setting Channel
// without Demo selects AWS mode.
type Options struct {
	Demo           bool   // --demo: use the built-in emulator and demo master
	Channel        string // --channel NAME|ARN
	Region         string // --region
	Profile        string // --profile
	EndpointURL    string // --endpoint-url
	CAFile         string // --ca-file
	ClientID       string // --client-id (selects the fixed policy)
	ClientIDPolicy string // --client-id-policy pool|fixed|fresh
	Codec          string // --codec auto|h264|vp8
	Video          string // --video auto|camera|test|none|device:<id>
	Audio          string // --audio auto|mic|tone|test|none|device:<id>
	Faults         string // --fault SPEC: emulator faults in Demo mode

	Connect bool // --connect: connect as soon as the window is open
	// GLVideo (--gl-video) draws the video through Fyne's OpenGL canvas even
	// where X11 child windows would do (they cost far less without a GPU).
	GLVideo bool

	// Context, when set, closes the window (and ends Run) when it is done.
	Context context.Context

	// Logger is where the app's own components log; nil logs into Logs only.
	Logger *slog.Logger
	// Logs is the buffer the log pane shows (app/ tees its logger into it);
	// nil makes one.
	Logs *LogBuffer

	// Tour, when set, is a directory: the window walks through the states
	// the README's screenshots show and waits at each for a screenshot
	// (see scripts/screenshots.sh): it writes NAME.ready into the directory,
	// waits for NAME.done, and quits after the last one.
	Tour string
	// TourQACycles is the length of the tour's QA run (default 50).
	TourQACycles int
}

// ApplyOptions returns s with the option overrides applied.
func ApplyOptions(s Settings, o Options) Settings {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if o.Channel != "" {
		s.Mode = ModeAWS
	}
	if o.Demo {
		s.Mode = ModeDemo
	}
	set(&s.Channel, o.Channel)
	set(&s.Region, o.Region)
	set(&s.Profile, o.Profile)
	set(&s.EndpointURL, o.EndpointURL)
	set(&s.CAFile, o.CAFile)
	if o.ClientID != "" {
		s.ClientID = o.ClientID
		s.ClientIDPolicy = "fixed"
	}
	set(&s.ClientIDPolicy, o.ClientIDPolicy)
	set(&s.Codec, o.Codec)
	switch o.Video {
	case "":
	case "none":
		s.SendVideo = false
	case "camera":
		s.Camera, s.SendVideo = SourceAuto, true
	default:
		s.Camera, s.SendVideo = o.Video, true
	}
	switch o.Audio {
	case "":
	case "none":
		s.SendAudio = false
	case "mic":
		s.Microphone, s.SendAudio = SourceAuto, true
	case "tone":
		s.Microphone, s.SendAudio = SourceTest, true
	default:
		s.Microphone, s.SendAudio = o.Audio, true
	}
	return s
}

// BuildConfig turns settings into a controller configuration. aws and
// channel replace the settings' AWS fields (Demo mode passes the demo's);
// storeDir, when set, keeps the ClientId pool between runs.
func BuildConfig(s Settings, aws *kvs.AWSOptions, channel, storeDir string, logger *slog.Logger) call.Config {
	cfg := call.Config{
		AWS:     kvs.AWSOptions{Region: s.Region, Profile: s.Profile, EndpointURL: s.EndpointURL, CAFile: s.CAFile},
		Channel: s.Channel,
		ClientIDs: call.ClientIDConfig{
			Policy: s.ClientIDPolicy,
			ID:     s.ClientID,
		},
		AnswerTimeout: s.AnswerTimeout,
		RetryLimit:    s.RetryLimit,
		Media:         capture.Options{Codec: s.Codec, PatternStyle: pattern.StyleViewer},
		NAT:           s.NAT,
		Logger:        logger,
	}
	if cfg.RetryLimit == 0 {
		cfg.RetryLimit = -1 // the form's 0 means no retries; the controller's 0 means its default
	}
	if aws != nil {
		cfg.AWS = *aws
		cfg.Channel = channel
	}
	if storeDir != "" {
		cfg.ClientIDs.StorePath = filepath.Join(storeDir, "clientids.json")
	}
	switch {
	case !s.SendVideo:
		cfg.Media.Video = capture.SourceNone
	case s.Camera == SourceTest:
		cfg.Media.Video = capture.SourceTest
	case strings.HasPrefix(s.Camera, DevicePrefix):
		cfg.Media.Video = capture.SourceCamera
		cfg.Media.VideoDevice = strings.TrimPrefix(s.Camera, DevicePrefix)
	default:
		cfg.Media.Video = capture.SourceAuto
	}
	switch {
	case !s.SendAudio:
		cfg.Media.Audio = capture.SourceNone
	case s.Microphone == SourceTest:
		cfg.Media.Audio = capture.SourceTone
	case strings.HasPrefix(s.Microphone, DevicePrefix):
		cfg.Media.Audio = capture.SourceMic
		cfg.Media.AudioDevice = strings.TrimPrefix(s.Microphone, DevicePrefix)
	default:
		cfg.Media.Audio = capture.SourceAuto
	}
	return cfg
}

// ConfigErrors maps the controller's configuration errors to form fields.
func ConfigErrors(err error) []FieldError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []FieldError
	for _, e := range list {
		var fe *call.FieldError
		if !errors.As(e, &fe) {
			out = append(out, FieldError{Field: FieldMode, Message: e.Error()})
			continue
		}
		field := fe.Field
		switch field {
		case "video":
			field = FieldCamera
		case "audio":
			field = FieldMicrophone
		}
		out = append(out, FieldError{Field: field, Message: fe.Message})
	}
	return out
}

// DeviceChoices splits capture devices into camera and microphone choices.
func DeviceChoices(devs []capture.Device) (cameras, mics []DeviceChoice) {
	for _, d := range devs {
		label := d.Label
		if label == "" {
			label = d.ID
		}
		c := DeviceChoice{Value: DevicePrefix + d.ID, Label: label}
		switch d.Kind {
		case capture.KindVideo:
			cameras = append(cameras, c)
		case capture.KindAudio:
			mics = append(mics, c)
		}
	}
	return cameras, mics
}
