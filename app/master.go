package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/master"
)

// masterFlags are `kvsviewer master`'s flags.
type masterFlags struct {
	aws                    kvs.AWSOptions
	channel, codec         string
	width, height, fps     int
	noAudio, json, verbose bool
	avOffset               time.Duration
}

func (f *masterFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.channel, "channel", "", "signaling channel name or ARN to be the master of")
	fs.StringVar(&f.aws.Region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	fs.StringVar(&f.aws.Profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE)")
	fs.StringVar(&f.aws.EndpointURL, "endpoint", "", "KVS control plane endpoint override (AWS_ENDPOINT_URL_KINESIS_VIDEO works too)")
	fs.StringVar(&f.aws.CAFile, "ca-file", "", "PEM CA bundle to trust for the KVS endpoints (e.g. the emulator's ca.pem)")
	fs.BoolVar(&f.aws.DualStack, "dualstack", false, "use the region's dual-stack endpoints")
	fs.BoolVar(&f.aws.FIPS, "fips", false, "use the region's FIPS endpoints")
	fs.StringVar(&f.codec, "codec", "auto", "video codec preference: auto (H.264 first), h264 or vp8")
	fs.IntVar(&f.width, "width", 1280, "test pattern width")
	fs.IntVar(&f.height, "height", 720, "test pattern height")
	fs.IntVar(&f.fps, "fps", 30, "test pattern frame rate")
	fs.BoolVar(&f.noAudio, "no-audio", false, "send no tone")
	fs.DurationVar(&f.avOffset, "av-offset", 0, "make the audio late by this much on purpose (negative: early), to check a viewer's A/V sync meter: the beep comes this long after the flash")
	fs.BoolVar(&f.json, "json", false, "print one JSON event per viewer event on stdout")
	fs.BoolVar(&f.verbose, "v", false, "debug logs on stderr")
}

// runMaster runs the demo master (test pattern with frame counter and clock,
// tone, data channel echo) as the MASTER of a channel, AWS or the emulator,
// answering up to ten viewers until Ctrl+C.
func runMaster(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	var f masterFlags
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err, true}
	}
	if f.channel == "" {
		return usageError{error: fmt.Errorf("no channel: pass --channel NAME")}
	}
	log := newLogger(f.verbose)
	out := call.NewJSONWriter(os.Stdout, time.Now())
	m, err := master.Start(ctx, master.Options{
		AWS: f.aws, Channel: f.channel, Codec: f.codec, Width: f.width, Height: f.height, FPS: f.fps,
		NoAudio: f.noAudio, AVOffset: f.avOffset, Loopback: loopbackEndpoint(f.aws.EndpointURL), Logger: log,
		OnEvent: func(e master.Event) { printMasterEvent(out, f.json, e) },
	})
	if err != nil {
		return fmt.Errorf("start the master: %w", err)
	}
	if !f.json {
		fmt.Printf("master of %s: answering viewers; press Ctrl-C to stop\n", f.channel)
	}
	<-ctx.Done()
	if err := m.Close(); err != nil {
		return fmt.Errorf("stop the master: %w", err)
	}
	if !f.json {
		fmt.Println("master stopped")
	}
	return nil
}

// printMasterEvent prints a viewer event, as JSON or in words.
func printMasterEvent(out *call.JSONWriter, asJSON bool, e master.Event) {
	if asJSON {
		fields := map[string]any{"client_id": e.ClientID}
		if e.Kind == master.FirstFrame {
			fields["width"], fields["height"], fields["codec"] = e.Width, e.Height, e.Codec
		}
		if e.Detail != "" {
			fields["detail"] = e.Detail
		}
		out.Write(out.Since(e.Time), string(e.Kind), fields)
		return
	}
	extra := ""
	if e.Kind == master.FirstFrame {
		extra = fmt.Sprintf(" (%dx%d %s)", e.Width, e.Height, e.Codec)
	}
	fmt.Printf("%s  %-14s %s%s\n", e.Time.Format("15:04:05.000"), e.Kind, e.ClientID, extra)
}

// loopbackEndpoint reports whether the control plane endpoint (the flag, or
// AWS_ENDPOINT_URL_KINESIS_VIDEO) is on this machine: ICE then stays on loopback.
func loopbackEndpoint(flagURL string) bool {
	u := flagURL
	if u == "" {
		u = os.Getenv("AWS_ENDPOINT_URL_KINESIS_VIDEO")
	}
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" {
		return false
	}
	if p.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(p.Hostname())
	return ip != nil && ip.IsLoopback()
}
