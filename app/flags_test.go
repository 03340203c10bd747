package main

import (
	"flag"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
)

// TestEveryWindowFlagReachesTheSettings: each settings flag the window
// accepts changes its setting (the window used to accept --nat, --width,
// --height, --fps, --answer-timeout and --retries and ignore them). A new
// settings flag fails this test until it is listed here.
func TestEveryWindowFlagReachesTheSettings(t *testing.T) {
	values := map[string]string{
		"demo": "false", "channel": "door", "region": "eu-west-1", "profile": "dev", "endpoint": "https://kvs.test",
		"ca-file": "/tmp/ca.pem", "client-id": "viewer-7", "client-id-policy": "fixed", "video": "camera",
		"camera": "/dev/video1", "audio": "mic", "mic": "hw:1", "speaker": "alsa_output.usb", "codec": "vp8", "nat": "relay", "width": "640",
		"height": "360", "fps": "15", "answer-timeout": "2s", "max-answer-timeout": "20s", "retries": "0",
		"fault": "drop-offers=1", "send-candidates": "host,relay", "accept-candidates": "relay", "trickle": "false",
		"data-channel": "false", "dualstack": "true", "fips": "true", "max-bitrate": "900",
	}
	probe := flag.NewFlagSet("probe", flag.ContinueOnError)
	var scratch call.Settings
	bindSettings(probe, &scratch)
	probe.VisitAll(func(f *flag.Flag) {
		if _, ok := values[f.Name]; !ok {
			t.Errorf("settings flag --%s has no value in this test", f.Name)
		}
	})
	var args []string
	for name, v := range values {
		args = append(args, "--"+name+"="+v)
	}
	wf := newWindowFlags()
	if err := wf.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	got := call.DefaultSettings() // as saved
	givenSettings(wf.fs)(&got)
	want := call.Settings{
		Mode: call.ModeAWS, Channel: "door", Region: "eu-west-1", Profile: "dev", EndpointURL: "https://kvs.test",
		CAFile: "/tmp/ca.pem", ClientID: "viewer-7", ClientIDPolicy: call.PolicyFixed, Video: "camera",
		VideoDevice: "/dev/video1", Audio: "mic", AudioDevice: "hw:1", Speaker: "alsa_output.usb", Codec: "vp8", NAT: call.NATRelay, Width: 640,
		Height: 360, FPS: 15, AnswerTimeout: 2 * time.Second, MaxAnswerTimeout: 20 * time.Second, Retries: 0,
		Faults: "drop-offers=1", SendCandidates: "host,relay", AcceptCandidates: "relay", Trickle: false,
		DataChannel: false, DualStack: true, FIPS: true, MaxBitrate: 900,
	}
	if got != want {
		t.Errorf("window settings from every flag\n got %+v\nwant %+v", got, want)
	}

	// Flags not given leave the saved settings alone; --demo wins over --channel.
	wf = newWindowFlags()
	if err := wf.fs.Parse([]string{"--channel", "x", "--demo"}); err != nil {
		t.Fatal(err)
	}
	saved := call.DefaultSettings()
	saved.Mode, saved.Region, saved.Width = call.ModeAWS, "us-east-1", 1920
	givenSettings(wf.fs)(&saved)
	if saved.Mode != call.ModeDemo || saved.Channel != "x" || saved.Region != "us-east-1" || saved.Width != 1920 {
		t.Errorf("partial flags: %+v", saved)
	}
}
