package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// callFlags are the flags shared by the window, `call` and `qa`.
type callFlags struct {
	demo                  bool
	channel, region, prof string
	endpoint, caFile      string
	clientID, idPolicy    string
	video, audio, codec   string
	nat                   string
	width, height, fps    int
	answerTimeout         time.Duration
	retries               int
	faults                string
	verbose               bool
}

func (f *callFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.demo, "demo", false, "use the built-in KVS emulator and demo master on 127.0.0.1 (no AWS account needed)")
	fs.StringVar(&f.channel, "channel", "", "signaling channel name or ARN")
	fs.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	fs.StringVar(&f.prof, "profile", "", "AWS shared config profile (default: AWS_PROFILE)")
	fs.StringVar(&f.endpoint, "endpoint", "", "KVS control plane endpoint override (AWS_ENDPOINT_URL_KINESIS_VIDEO works too)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM CA bundle to trust for the KVS endpoints (e.g. the emulator's ca.pem)")
	fs.StringVar(&f.clientID, "client-id", "", "viewer ClientId: the id with --client-id-policy fixed, else a prefix")
	fs.StringVar(&f.idPolicy, "client-id-policy", "pool", "ClientId policy: pool, fixed or fresh")
	fs.StringVar(&f.video, "video", "auto", "local video: auto, camera, test or none")
	fs.StringVar(&f.audio, "audio", "auto", "local audio: auto, mic, tone or none")
	fs.StringVar(&f.codec, "codec", "auto", "video codec preference: auto (H.264 first), h264 or vp8")
	fs.StringVar(&f.nat, "nat", "all", "NAT traversal: all (STUN+TURN), relay (TURN only) or stun")
	fs.IntVar(&f.width, "width", 1280, "local video width")
	fs.IntVar(&f.height, "height", 720, "local video height")
	fs.IntVar(&f.fps, "fps", 30, "local video frame rate")
	fs.DurationVar(&f.answerTimeout, "answer-timeout", 5*time.Second, "give up on an SDP offer with no answer after this long")
	fs.IntVar(&f.retries, "retries", 5, "retries after a failed attempt")
	fs.StringVar(&f.faults, "fault", "", "demo only: emulator faults, e.g. drop-offer-every=3,delay-answer=1s")
	fs.BoolVar(&f.verbose, "v", false, "debug logs on stderr")
}

// config builds the controller configuration (AWS settings; demo mode fills
// its own in afterwards).
func (f *callFlags) config() call.Config {
	retries := f.retries
	if retries == 0 {
		retries = -1
	}
	return call.Config{
		AWS:     kvs.AWSOptions{Region: f.region, Profile: f.prof, EndpointURL: f.endpoint, CAFile: f.caFile},
		Channel: f.channel,
		ClientIDs: call.ClientIDConfig{
			Policy: f.idPolicy, ID: f.clientID, StorePath: clientIDStore(),
		},
		AnswerTimeout: f.answerTimeout,
		RetryLimit:    retries,
		Media: capture.Options{
			Video: f.video, Audio: f.audio, Codec: f.codec,
			Width: f.width, Height: f.height, FPS: f.fps,
		},
		NAT: f.nat,
	}
}

func (f *callFlags) check() error {
	if f.faults != "" && !f.demo {
		return fmt.Errorf("--fault works only with --demo (faults are injected by the built-in emulator)")
	}
	if !f.demo && f.channel == "" {
		return fmt.Errorf("no channel: pass --channel NAME (or --demo)")
	}
	return nil
}
