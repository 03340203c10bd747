package call

import (
	"errors"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// Mode says what the app calls.
type Mode string

// The modes.
const (
	ModeDemo Mode = "demo" // the built-in emulator and demo master on 127.0.0.1
	ModeAWS  Mode = "aws"  // a real Kinesis Video Streams signaling channel
)

// Settings are what a user sets, in the window's form or as flags: flat,
// persistable, and never secret (credentials come from the AWS profile or the
// standard credential chain at connect time). Config maps them to a
// controller Config: the one mapping every command and the window use.
type Settings struct {
	Mode Mode

	Profile     string // AWS shared-config profile; "" = the default chain
	Region      string // "" = from the profile, AWS_REGION or the channel ARN
	Channel     string // channel name or ARN
	EndpointURL string // control-plane endpoint override (https://...)
	CAFile      string // PEM file of CAs to trust for the endpoints

	ClientIDPolicy IDPolicy
	ClientID       string // PolicyFixed: the id; otherwise a prefix

	AnswerTimeout    time.Duration // the first wait for an SDP answer
	MaxAnswerTimeout time.Duration // how far that wait grows for a slow master
	Retries          int           // automatic retries after a failed attempt; 0 = none

	Video       string // capture.SourceAuto, SourceCamera, SourceTest or SourceNone
	VideoDevice string // with SourceCamera: the camera's id ("" = the default camera)
	Audio       string // capture.SourceAuto, SourceMic, SourceTone or SourceNone
	AudioDevice string // with SourceMic: the microphone's id ("" = the default one)
	Speaker     string // the audio output's id or name from audioout.ListDevices ("" = the default one)
	Width       int    // the picture sent
	Height      int
	FPS         int
	MaxBitrate  int    // the most the video sent may use, in kbit/s (0: chosen from its size)
	Codec       string // capture.CodecAuto, CodecH264 or CodecVP8: sent, and preferred to receive
	NAT         NATMode

	DataChannel      bool           // open a data channel to the master (messages, round trip)
	Trickle          bool           // trickle ICE candidates (off: all of them in the offer)
	SendCandidates   CandidateTypes // local candidate types sent (all when empty)
	AcceptCandidates CandidateTypes // the master's candidate types accepted (all when empty)
	DualStack        bool           // the region's dual-stack (IPv4+IPv6) endpoints
	FIPS             bool           // the region's FIPS endpoints

	Faults string // Demo mode: emulator faults, e.g. "drop-offer-every=3,delay-answer=1s"
}

// DefaultSettings are the first-run settings: Demo mode.
func DefaultSettings() Settings {
	return Settings{
		Mode:             ModeDemo,
		ClientIDPolicy:   PolicyPool,
		AnswerTimeout:    DefaultAnswerTimeout,
		MaxAnswerTimeout: DefaultMaxAnswerTimeout,
		Retries:          DefaultRetryLimit,
		Video:            capture.SourceAuto,
		Audio:            capture.SourceAuto,
		Width:            1280,
		Height:           720,
		FPS:              30,
		Codec:            capture.CodecAuto,
		NAT:              NATAll,
		DataChannel:      true,
		Trickle:          true,
		SendCandidates:   AllCandidates,
		AcceptCandidates: AllCandidates,
	}
}

// Config maps the settings to a controller configuration. Outside AWS mode
// the AWS fields and the channel are left for the demo to fill
// (demo.Configure).
func (s Settings) Config() Config {
	c := Config{
		ClientIDs:        ClientIDConfig{Policy: s.ClientIDPolicy, ID: s.ClientID},
		AnswerTimeout:    s.AnswerTimeout,
		MaxAnswerTimeout: s.MaxAnswerTimeout,
		RetryLimit:       s.Retries,
		NoRetries:        s.Retries == 0,
		Media: capture.Options{
			Video: s.Video, VideoDevice: s.VideoDevice, Audio: s.Audio, AudioDevice: s.AudioDevice,
			Width: s.Width, Height: s.Height, FPS: s.FPS, Codec: s.Codec, VideoBitrate: s.MaxBitrate * 1000,
			PatternStyle: pattern.StyleViewer, // this end's look, told apart from the master's
		},
		NAT:         s.NAT,
		AudioOutput: s.Speaker,
		DataChannel: s.DataChannel, NoTrickle: !s.Trickle,
		SendCandidates: s.SendCandidates, AcceptCandidates: s.AcceptCandidates,
	}
	if s.Mode == ModeAWS {
		c.AWS = kvs.AWSOptions{Region: s.Region, Profile: s.Profile, EndpointURL: s.EndpointURL, CAFile: s.CAFile,
			DualStack: s.DualStack, FIPS: s.FIPS}
		c.Channel = s.Channel
	}
	return c
}

// Validate checks the settings through Config's validation and returns every
// problem, joined; each is a *FieldError. Demo mode ignores the AWS fields.
func (s Settings) Validate() error {
	var errs fieldErrors
	switch s.Mode {
	case ModeDemo, ModeAWS:
	default:
		errs.add(FieldMode, "choose demo or aws")
	}
	if s.Faults != "" && s.Mode != ModeDemo {
		errs.add(FieldFaults, "works only in Demo mode (faults are injected by the built-in emulator)")
	}
	c := s.Config()
	if s.Mode != ModeAWS {
		c.Channel = "demo" // filled by the demo
	}
	c.check(&errs)
	return errors.Join(errs...)
}

// FieldErrors lists the *FieldErrors in err (as Validate returns it); any
// other error in it is reported against FieldMode.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*FieldError
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		} else {
			out = append(out, &FieldError{Field: FieldMode, Message: e.Error()})
		}
	}
	return out
}
