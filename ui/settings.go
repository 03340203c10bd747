package ui

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// Connection modes.
const (
	ModeDemo = "demo" // the built-in emulator and demo master on 127.0.0.1
	ModeAWS  = "aws"  // a real Kinesis Video Streams signaling channel
)

// Choices for the camera and microphone besides a device ("device:<id>").
const (
	SourceAuto = "auto" // a real device if there is one, else the test pattern / tone
	SourceTest = "test" // the video test pattern, or the audio tone
)

// DevicePrefix starts a Camera or Microphone value that names a device id.
const DevicePrefix = "device:"

// Field names used in FieldError.Field and by the settings form.
const (
	FieldMode          = "mode"
	FieldProfile       = "profile"
	FieldRegion        = "region"
	FieldChannel       = "channel"
	FieldEndpoint      = "endpoint"
	FieldCAFile        = "ca_file"
	FieldClientPolicy  = "client_id_policy"
	FieldClientID      = "client_id"
	FieldAnswerTimeout = "answer_timeout"
	FieldRetryLimit    = "retry_limit"
	FieldCamera        = "camera"
	FieldMicrophone    = "microphone"
	FieldCodec         = "codec"
	FieldNAT           = "nat"
)

// Settings are the connection settings the user edits in the settings form.
// They never hold secrets: credentials come from the AWS profile / the
// standard credential chain at connect time.
type Settings struct {
	Mode           string // ModeDemo or ModeAWS
	Profile        string // AWS shared-config profile; empty = default chain
	Region         string // empty = from the profile, AWS_REGION or the channel ARN
	Channel        string // channel name or ARN
	EndpointURL    string // optional control-plane endpoint override (https://...)
	CAFile         string // optional PEM file of CAs to trust for the endpoint
	ClientIDPolicy string // "pool", "fixed" or "fresh"
	ClientID       string // with "fixed": the ClientId to use
	AnswerTimeout  time.Duration
	RetryLimit     int
	Camera         string // SourceAuto, SourceTest or DevicePrefix+id
	Microphone     string // SourceAuto, SourceTest or DevicePrefix+id
	Codec          string // "auto", "h264" or "vp8"
	SendVideo      bool
	SendAudio      bool
	NAT            string // "all" (STUN+TURN), "relay" (TURN only) or "stun" (STUN only)
}

// DefaultSettings are the first-run settings: Demo mode.
func DefaultSettings() Settings {
	return Settings{
		Mode:           ModeDemo,
		ClientIDPolicy: "pool",
		AnswerTimeout:  5 * time.Second,
		RetryLimit:     5,
		Camera:         SourceAuto,
		Microphone:     SourceAuto,
		Codec:          "auto",
		SendVideo:      true,
		SendAudio:      true,
		NAT:            "all",
	}
}

// FieldError is a problem with one settings field, worded for the user.
type FieldError struct {
	Field   string // one of the Field* names
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

var (
	reRegion      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	reChannelName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,256}$`)
	reChannelARN  = regexp.MustCompile(`^arn:aws[a-z-]*:kinesisvideo:([a-z0-9-]+):[0-9]{12}:channel/([a-zA-Z0-9_.-]{1,256})/[0-9]+$`)
	reProfile     = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{1,128}$`)
)

// ChannelRegion returns the region of a channel ARN, or "" for a channel name.
func ChannelRegion(channel string) string {
	if m := reChannelARN.FindStringSubmatch(channel); m != nil {
		return m[1]
	}
	return ""
}

// Validate checks the settings and returns one error per bad field, in form
// order; nil means they are usable. Demo mode ignores the AWS fields.
func (s Settings) Validate() []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch s.Mode {
	case ModeDemo, ModeAWS:
	default:
		add(FieldMode, "choose Demo or AWS")
	}
	if s.Mode == ModeAWS {
		s.validateAWS(add)
	}
	switch s.ClientIDPolicy {
	case "pool", "fresh":
		if s.ClientID != "" {
			if err := kvs.ValidateClientID(s.ClientID); err != nil {
				add(FieldClientID, "%s", clientIDProblem(err))
			}
		}
	case "fixed":
		if s.ClientID == "" {
			add(FieldClientID, "enter the ClientId to use")
		} else if err := kvs.ValidateClientID(s.ClientID); err != nil {
			add(FieldClientID, "%s", clientIDProblem(err))
		}
	default:
		add(FieldClientPolicy, "choose pool, fixed or fresh")
	}
	if s.AnswerTimeout < time.Second || s.AnswerTimeout > time.Minute {
		add(FieldAnswerTimeout, "between 1s and 60s")
	}
	if s.RetryLimit < 0 || s.RetryLimit > 100 {
		add(FieldRetryLimit, "between 0 and 100")
	}
	if !validSource(s.Camera) {
		add(FieldCamera, "choose a camera")
	}
	if !validSource(s.Microphone) {
		add(FieldMicrophone, "choose a microphone")
	}
	switch s.Codec {
	case "auto", "h264", "vp8":
	default:
		add(FieldCodec, "choose auto, H.264 or VP8")
	}
	switch s.NAT {
	case "all", "relay", "stun":
	default:
		add(FieldNAT, "choose STUN+TURN, TURN only or STUN only")
	}
	return errs
}

// validateAWS checks the fields of AWS mode, reporting each bad one to add.
func (s Settings) validateAWS(add func(field, format string, args ...any)) {
	if s.Profile != "" && !reProfile.MatchString(s.Profile) {
		add(FieldProfile, "not a valid profile name")
	}
	if s.Region != "" && !reRegion.MatchString(s.Region) {
		add(FieldRegion, "not an AWS region (like us-west-2)")
	}
	ch := s.Channel
	switch {
	case strings.TrimSpace(ch) == "":
		add(FieldChannel, "enter the signaling channel's name or ARN")
	case strings.HasPrefix(ch, "arn:"):
		if !reChannelARN.MatchString(ch) {
			add(FieldChannel, "not a signaling channel ARN (arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/ID)")
		} else if r := ChannelRegion(ch); s.Region != "" && r != s.Region {
			add(FieldRegion, "the channel ARN is in %s", r)
		}
	case !reChannelName.MatchString(ch):
		add(FieldChannel, "a channel name has 1-256 letters, digits, '_', '.' or '-'")
	}
	if s.EndpointURL != "" {
		if u, err := url.Parse(s.EndpointURL); err != nil || u.Host == "" || u.Scheme != "https" {
			add(FieldEndpoint, "must be an https:// URL")
		}
	}
	if s.CAFile != "" {
		if msg := checkCAFile(s.CAFile); msg != "" {
			add(FieldCAFile, "%s", msg)
		}
	}
}

func clientIDProblem(err error) string {
	return strings.TrimPrefix(err.Error(), kvs.ErrInvalidClientID.Error()+": ")
}

func validSource(v string) bool {
	return v == SourceAuto || v == SourceTest || (strings.HasPrefix(v, DevicePrefix) && len(v) > len(DevicePrefix))
}

// checkCAFile returns why path is not a usable PEM CA file, or "".
func checkCAFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return "file not found"
		}
		return "cannot read the file"
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return "no PEM certificate in the file"
	}
	return ""
}

const prefPrefix = "settings."

// LoadSettings reads the settings saved by SaveSettings, with the defaults
// for anything not saved yet (so a first run is in Demo mode).
func LoadSettings(p fyne.Preferences) Settings {
	d := DefaultSettings()
	str := func(key, def string) string { return p.StringWithFallback(prefPrefix+key, def) }
	return Settings{
		Mode:           str("mode", d.Mode),
		Profile:        str("profile", d.Profile),
		Region:         str("region", d.Region),
		Channel:        str("channel", d.Channel),
		EndpointURL:    str("endpoint", d.EndpointURL),
		CAFile:         str("ca_file", d.CAFile),
		ClientIDPolicy: str("client_id_policy", d.ClientIDPolicy),
		ClientID:       str("client_id", d.ClientID),
		AnswerTimeout:  time.Duration(p.IntWithFallback(prefPrefix+"answer_timeout_ms", int(d.AnswerTimeout/time.Millisecond))) * time.Millisecond,
		RetryLimit:     p.IntWithFallback(prefPrefix+"retry_limit", d.RetryLimit),
		Camera:         str("camera", d.Camera),
		Microphone:     str("microphone", d.Microphone),
		Codec:          str("codec", d.Codec),
		SendVideo:      p.BoolWithFallback(prefPrefix+"send_video", d.SendVideo),
		SendAudio:      p.BoolWithFallback(prefPrefix+"send_audio", d.SendAudio),
		NAT:            str("nat", d.NAT),
	}
}

// SaveSettings stores s in the app's preferences. Settings hold no secrets.
func SaveSettings(p fyne.Preferences, s Settings) {
	p.SetString(prefPrefix+"mode", s.Mode)
	p.SetString(prefPrefix+"profile", s.Profile)
	p.SetString(prefPrefix+"region", s.Region)
	p.SetString(prefPrefix+"channel", s.Channel)
	p.SetString(prefPrefix+"endpoint", s.EndpointURL)
	p.SetString(prefPrefix+"ca_file", s.CAFile)
	p.SetString(prefPrefix+"client_id_policy", s.ClientIDPolicy)
	p.SetString(prefPrefix+"client_id", s.ClientID)
	p.SetInt(prefPrefix+"answer_timeout_ms", int(s.AnswerTimeout/time.Millisecond))
	p.SetInt(prefPrefix+"retry_limit", s.RetryLimit)
	p.SetString(prefPrefix+"camera", s.Camera)
	p.SetString(prefPrefix+"microphone", s.Microphone)
	p.SetString(prefPrefix+"codec", s.Codec)
	p.SetBool(prefPrefix+"send_video", s.SendVideo)
	p.SetBool(prefPrefix+"send_audio", s.SendAudio)
	p.SetString(prefPrefix+"nat", s.NAT)
}
