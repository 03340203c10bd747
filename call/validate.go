package call

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// FieldError is a problem with one setting, worded for the user.
type FieldError struct {
	Field   string // one of the Field* names
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// The setting names of FieldError.Field: the flags' names, with '-' as '_'.
const (
	FieldMode             = "mode"
	FieldProfile          = "profile"
	FieldRegion           = "region"
	FieldChannel          = "channel"
	FieldEndpoint         = "endpoint"
	FieldCAFile           = "ca_file"
	FieldClientIDPolicy   = "client_id_policy"
	FieldClientID         = "client_id"
	FieldPoolSize         = "pool_size"
	FieldAnswerTimeout    = "answer_timeout"
	FieldMaxAnswerTimeout = "max_answer_timeout"
	FieldRetries          = "retries"
	FieldVideo            = "video"
	FieldAudio            = "audio"
	FieldVideoFormat      = "video_format"
	FieldCodec            = "codec"
	FieldNAT              = "nat"
	FieldFaults           = "faults"
	FieldSendCandidates   = "send_candidates"
	FieldAcceptCandidates = "accept_candidates"
	FieldMaxBitrate       = "max_bitrate"
)

// The limits Validate enforces.
const (
	MinAnswerTimeout = 100 * time.Millisecond
	MaxAnswerTimeout = 2 * time.Minute
	MaxRetries       = 100
)

// The longest channel name (KVS's limit) and profile name.
const (
	maxChannelName = 256
	maxProfileName = 128
)

// The patterns leave the lengths to the functions below: a counted repetition
// such as {1,256} compiles to 256 copies of its class, which took 3,400
// allocations for each of these patterns when every process started.
var (
	reRegion      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	reChannelName = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	reChannelARN  = regexp.MustCompile(`^arn:aws[a-z-]*:kinesisvideo:([a-z0-9-]+):[0-9]{12}:channel/([a-zA-Z0-9_.-]+)/[0-9]+$`)
	reProfile     = regexp.MustCompile(`^[A-Za-z0-9_.@+-]+$`)
)

// ChannelRegion returns the region of a channel ARN, or "" for a channel name.
func ChannelRegion(channel string) string {
	if m := reChannelARN.FindStringSubmatch(channel); m != nil {
		return m[1]
	}
	return ""
}

// validChannelName reports whether name is a channel name: 1-256 letters,
// digits, '_', '.' or '-'.
func validChannelName(name string) bool {
	return len(name) <= maxChannelName && reChannelName.MatchString(name)
}

// validChannelARN reports whether arn is a signaling channel's ARN.
func validChannelARN(arn string) bool {
	m := reChannelARN.FindStringSubmatch(arn)
	return m != nil && len(m[2]) <= maxChannelName
}

// ValidProfileName reports whether name can be an AWS shared-config profile.
func ValidProfileName(name string) bool {
	return len(name) <= maxProfileName && reProfile.MatchString(name)
}

// fieldErrors collects FieldErrors.
type fieldErrors []error

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks everything a user can get wrong and returns every problem
// found, joined; each is a *FieldError. The window shows them next to their
// fields, the commands print them.
func (c Config) Validate() error {
	var errs fieldErrors
	c.check(&errs)
	return errors.Join(errs...)
}

func (c Config) check(errs *fieldErrors) {
	c.validateAWS(errs)
	c.ClientIDs.validate(errs)
	if c.AnswerTimeout != 0 && (c.AnswerTimeout < MinAnswerTimeout || c.AnswerTimeout > MaxAnswerTimeout) {
		errs.add(FieldAnswerTimeout, "between %s and %s", MinAnswerTimeout, MaxAnswerTimeout)
	}
	if c.MaxAnswerTimeout != 0 && (c.MaxAnswerTimeout < c.AnswerTimeout || c.MaxAnswerTimeout > MaxAnswerTimeout) {
		errs.add(FieldMaxAnswerTimeout, "between the answer timeout and %s", MaxAnswerTimeout)
	}
	if c.RetryLimit < 0 || c.RetryLimit > MaxRetries {
		errs.add(FieldRetries, "between 0 and %d", MaxRetries)
	}
	switch c.NAT {
	case "", NATAll, NATRelay, NATSTUN:
	default:
		errs.add(FieldNAT, "choose all (STUN+TURN), relay (TURN only) or stun (STUN only)")
	}
	validateMedia(c.Media, errs)
	c.validateCandidates(errs)
}

func (c Config) validateAWS(errs *fieldErrors) {
	a := c.AWS
	if a.Profile != "" && !ValidProfileName(a.Profile) {
		errs.add(FieldProfile, "not a valid profile name")
	}
	if a.Region != "" && !reRegion.MatchString(a.Region) {
		errs.add(FieldRegion, "not an AWS region (like us-west-2)")
	}
	ch := c.Channel
	switch {
	case strings.TrimSpace(ch) == "":
		errs.add(FieldChannel, "enter the signaling channel's name or ARN")
	case strings.HasPrefix(ch, "arn:"):
		if !validChannelARN(ch) {
			errs.add(FieldChannel, "not a signaling channel ARN (arn:aws:kinesisvideo:REGION:ACCOUNT:channel/NAME/ID)")
		} else if r := ChannelRegion(ch); a.Region != "" && r != a.Region {
			errs.add(FieldRegion, "the channel ARN is in %s", r)
		}
	case !validChannelName(ch):
		errs.add(FieldChannel, "a channel name has 1-256 letters, digits, '_', '.' or '-'")
	}
	if a.EndpointURL != "" {
		if u, err := url.Parse(a.EndpointURL); err != nil || u.Host == "" || u.Scheme != "https" {
			errs.add(FieldEndpoint, "must be an https:// URL")
		}
	}
	if a.CAFile != "" {
		if msg := checkCAFile(a.CAFile); msg != "" {
			errs.add(FieldCAFile, "%s", msg)
		}
	}
}

func (c ClientIDConfig) validate(errs *fieldErrors) {
	switch c.Policy {
	case "", PolicyPool, PolicyFresh:
		if c.ID == "" {
			break
		}
		if len(c.ID) > 200 {
			errs.add(FieldClientID, "prefix too long (at most 200 characters)")
		} else if err := kvs.ValidateClientID(c.ID); err != nil {
			errs.add(FieldClientID, "%s", clientIDProblem(err))
		}
	case PolicyFixed:
		if c.ID == "" {
			errs.add(FieldClientID, "enter the ClientId to use")
		} else if err := kvs.ValidateClientID(c.ID); err != nil {
			errs.add(FieldClientID, "%s", clientIDProblem(err))
		}
	default:
		errs.add(FieldClientIDPolicy, "choose pool, fixed or fresh")
	}
	if c.PoolSize < 0 || c.PoolSize > 64 {
		errs.add(FieldPoolSize, "between 1 and 64")
	}
}

func validateMedia(m capture.Options, errs *fieldErrors) {
	switch m.Codec {
	case "", capture.CodecAuto, capture.CodecH264, capture.CodecVP8:
	default:
		errs.add(FieldCodec, "choose auto, H.264 or VP8")
	}
	switch m.Video {
	case "", capture.SourceAuto, capture.SourceCamera, capture.SourceTest, capture.SourceNone:
	default:
		errs.add(FieldVideo, "choose auto, camera, test or none")
	}
	switch m.Audio {
	case "", capture.SourceAuto, capture.SourceMic, capture.SourceTone, capture.SourceNone:
	default:
		errs.add(FieldAudio, "choose auto, mic, tone or none")
	}
	if m.Width < 0 || m.Width > 3840 || m.Height < 0 || m.Height > 2160 || m.Width%2 != 0 || m.Height%2 != 0 {
		errs.add(FieldVideoFormat, "the picture must be at most 3840x2160, in even numbers of pixels")
	}
	if m.FPS < 0 || m.FPS > 60 {
		errs.add(FieldVideoFormat, "the frame rate must be between 1 and 60")
	}
	if m.VideoBitrate < 0 || (m.VideoBitrate > 0 && m.VideoBitrate < 50_000) || m.VideoBitrate > 20_000_000 {
		errs.add(FieldMaxBitrate, "between 50 and 20000 kbit/s (0: chosen from the picture size)")
	}
}

func clientIDProblem(err error) string {
	return strings.TrimPrefix(err.Error(), kvs.ErrInvalidClientID.Error()+": ")
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

func (c Config) validateCandidates(errs *fieldErrors) {
	for field, t := range map[string]CandidateTypes{FieldSendCandidates: c.SendCandidates, FieldAcceptCandidates: c.AcceptCandidates} {
		if err := t.check(); err != nil {
			errs.add(field, "%v", err)
		}
	}
	if c.NAT == NATRelay && !c.SendCandidates.Has(CandidateRelay) {
		errs.add(FieldSendCandidates, "TURN only has nothing but relay candidates to send: allow relay")
	}
}
