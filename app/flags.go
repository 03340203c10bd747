package main

import (
	"flag"
	"strconv"

	"github.com/kvsviewer/kvsviewer/call"
)

// bindSettings defines the call flags shared by the window, `call` and `qa`,
// each writing into one field of s; the flags' defaults are s's values. This
// is the only place flags meet settings: Settings.Config does the rest.
func bindSettings(fs *flag.FlagSet, s *call.Settings) {
	fs.Var(demoFlag{s: s, on: new(bool)}, "demo", "use the built-in KVS emulator and demo master on 127.0.0.1 (no AWS account needed)")
	fs.StringVar(&s.Channel, "channel", s.Channel, "signaling channel name or ARN (selects AWS mode unless --demo)")
	fs.StringVar(&s.Region, "region", s.Region, "AWS region (default: AWS_REGION or the profile's)")
	fs.StringVar(&s.Profile, "profile", s.Profile, "AWS shared config profile (default: AWS_PROFILE)")
	fs.StringVar(&s.EndpointURL, "endpoint", s.EndpointURL, "KVS control plane endpoint override (AWS_ENDPOINT_URL_KINESIS_VIDEO works too)")
	fs.StringVar(&s.CAFile, "ca-file", s.CAFile, "PEM CA bundle to trust for the KVS endpoints (e.g. the emulator's ca.pem)")
	fs.StringVar(&s.ClientID, "client-id", s.ClientID, "viewer ClientId: the id with --client-id-policy fixed, else a prefix")
	fs.Var(textFlag[call.IDPolicy]{&s.ClientIDPolicy}, "client-id-policy", "ClientId policy: pool, fixed or fresh")
	fs.StringVar(&s.Video, "video", s.Video, "local video: auto, camera, test or none")
	fs.StringVar(&s.VideoDevice, "camera", s.VideoDevice, "with --video camera: the camera's id (default: the first camera)")
	fs.StringVar(&s.Audio, "audio", s.Audio, "local audio: auto, mic, tone or none")
	fs.StringVar(&s.AudioDevice, "mic", s.AudioDevice, "with --audio mic: the microphone's id or name (default: the system's default)")
	fs.StringVar(&s.Speaker, "speaker", s.Speaker, "the audio output's id or name (default: the system's default)")
	fs.StringVar(&s.Codec, "codec", s.Codec, "video codec preference: auto (H.264 first), h264 or vp8")
	fs.Var(textFlag[call.NATMode]{&s.NAT}, "nat", "NAT traversal: all (STUN+TURN), relay (TURN only) or stun")
	fs.Var(textFlag[call.CandidateTypes]{&s.SendCandidates}, "send-candidates", "local ICE candidate types sent: host,srflx,relay (comma-separated)")
	fs.Var(textFlag[call.CandidateTypes]{&s.AcceptCandidates}, "accept-candidates", "the master's ICE candidate types accepted: host,srflx,relay")
	fs.BoolVar(&s.Trickle, "trickle", s.Trickle, "trickle ICE candidates (false: gather them all and send them in the offer)")
	fs.BoolVar(&s.DataChannel, "data-channel", s.DataChannel, "open a data channel to the master (messages and its round trip)")
	fs.BoolVar(&s.DualStack, "dualstack", s.DualStack, "use the region's dual-stack (IPv4+IPv6) endpoints (also use_dualstack_endpoint, AWS_USE_DUALSTACK_ENDPOINT)")
	fs.BoolVar(&s.FIPS, "fips", s.FIPS, "use the region's FIPS endpoints (also use_fips_endpoint, AWS_USE_FIPS_ENDPOINT)")
	fs.IntVar(&s.MaxBitrate, "max-bitrate", s.MaxBitrate, "the most the video sent may use, in kbit/s (0: chosen from its size)")
	fs.IntVar(&s.Width, "width", s.Width, "local video width")
	fs.IntVar(&s.Height, "height", s.Height, "local video height")
	fs.IntVar(&s.FPS, "fps", s.FPS, "local video frame rate")
	fs.DurationVar(&s.AnswerTimeout, "answer-timeout", s.AnswerTimeout, "give up on an SDP offer with no answer after this long (it grows for a slow master)")
	fs.DurationVar(&s.MaxAnswerTimeout, "max-answer-timeout", s.MaxAnswerTimeout, "how far the answer timeout may grow")
	fs.IntVar(&s.Retries, "retries", s.Retries, "automatic retries after a failed attempt (0: none)")
	fs.StringVar(&s.Faults, "fault", s.Faults, "demo only: emulator faults, e.g. drop-offer-every=3,delay-answer=1s")
}

// settleMode picks the mode from the flags given: --channel alone means AWS
// mode, --demo always means Demo mode.
func settleMode(fs *flag.FlagSet, s *call.Settings) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	demo := given["demo"] && fs.Lookup("demo").Value.String() == "true"
	switch {
	case demo:
		s.Mode = call.ModeDemo
	case given["channel"]:
		s.Mode = call.ModeAWS
	}
}

// givenSettings returns a function that applies the settings flags given on
// fs's command line (and only those) to other settings: the window's saved
// settings, which the flags override for this run.
func givenSettings(fs *flag.FlagSet) func(*call.Settings) {
	return func(dst *call.Settings) {
		re := flag.NewFlagSet("", flag.ContinueOnError)
		bindSettings(re, dst)
		fs.Visit(func(f *flag.Flag) {
			if re.Lookup(f.Name) != nil {
				_ = re.Set(f.Name, f.Value.String()) // valid: it was parsed once already
			}
		})
		settleMode(re, dst)
	}
}

// demoFlag is --demo: true selects Demo mode.
type demoFlag struct {
	s  *call.Settings
	on *bool // the value given
}

func (d demoFlag) String() string { return strconv.FormatBool(d.on != nil && *d.on) }

func (d demoFlag) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*d.on = on
	if on {
		d.s.Mode = call.ModeDemo
	}
	return nil
}

func (demoFlag) IsBoolFlag() bool { return true }

// textFlag is a flag whose value is a string type of its own (a policy, a
// NAT mode); Settings.Validate checks the value.
type textFlag[T ~string] struct{ p *T }

func (f textFlag[T]) String() string {
	if f.p == nil {
		return ""
	}
	return string(*f.p)
}

func (f textFlag[T]) Set(v string) error {
	*f.p = T(v)
	return nil
}
