package ui

import (
	"context"
	"log/slog"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// Options configure Run.
type Options struct {
	// Overrides, when set, changes the saved settings for this run only: the
	// command line's settings flags (app/flags.go), the same as the headless
	// commands take.
	Overrides func(*call.Settings)

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

// startSettings are the settings the window opens with: the saved ones with
// the command line's overrides.
func (o Options) startSettings(saved call.Settings) call.Settings {
	if o.Overrides != nil {
		o.Overrides(&saved)
	}
	return saved
}

// DeviceChoices splits capture devices into camera and microphone choices; the system's
// default microphone is marked "(default)".
func DeviceChoices(devs []capture.Device) (cameras, mics []DeviceChoice) {
	for _, d := range devs {
		label := d.Label
		if label == "" {
			label = d.ID
		}
		if d.Default {
			label += " (default)"
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

// SpeakerChoices are the audio outputs for Settings, the system's default marked "(default)".
func SpeakerChoices(outs []audioout.Device) []DeviceChoice {
	out := make([]DeviceChoice, 0, len(outs))
	for _, d := range outs {
		label := d.Name
		if d.Default {
			label += " (default)"
		}
		out = append(out, DeviceChoice{Value: DevicePrefix + d.ID, Label: label})
	}
	return out
}
