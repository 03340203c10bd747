package ui

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

func TestApplyOptions(t *testing.T) {
	saved := DefaultSettings()
	saved.Mode = ModeAWS
	saved.Channel = "saved"
	saved.Region = "eu-west-1"

	if got := ApplyOptions(saved, Options{}); got != saved {
		t.Errorf("no flags changed the settings: %+v", got)
	}
	got := ApplyOptions(saved, Options{Demo: true, Codec: "vp8", Video: "none", Audio: "tone"})
	if got.Mode != ModeDemo || got.Codec != "vp8" || got.SendVideo || got.Microphone != SourceTest || !got.SendAudio || got.Channel != "saved" {
		t.Errorf("demo flags: %+v", got)
	}
	got = ApplyOptions(DefaultSettings(), Options{Channel: "door", Region: "us-west-2", Profile: "dev", ClientID: "viewer-1", Video: "device:/dev/video2"})
	if got.Mode != ModeAWS || got.Channel != "door" || got.Region != "us-west-2" || got.Profile != "dev" ||
		got.ClientIDPolicy != "fixed" || got.ClientID != "viewer-1" || got.Camera != "device:/dev/video2" || !got.SendVideo {
		t.Errorf("aws flags: %+v", got)
	}
	if errs := got.Validate(); errs != nil {
		t.Errorf("flag settings invalid: %v", errs)
	}
}

func TestBuildConfig(t *testing.T) {
	s := DefaultSettings()
	s.Mode, s.Channel, s.Region, s.Profile = ModeAWS, "door", "eu-west-1", "dev"
	s.EndpointURL, s.CAFile = "https://127.0.0.1:4443", "/tmp/ca.pem"
	s.ClientIDPolicy, s.ClientID = "fixed", "viewer-1"
	s.AnswerTimeout, s.RetryLimit = 3*time.Second, 0
	s.Camera, s.Microphone, s.Codec, s.NAT = DevicePrefix+"/dev/video0", SourceTest, "h264", "relay"
	cfg := BuildConfig(s, nil, "", "/var/lib/kv", nil)
	want := call.Config{
		AWS:           kvs.AWSOptions{Region: "eu-west-1", Profile: "dev", EndpointURL: "https://127.0.0.1:4443", CAFile: "/tmp/ca.pem"},
		Channel:       "door",
		ClientIDs:     call.ClientIDConfig{Policy: "fixed", ID: "viewer-1", StorePath: "/var/lib/kv/clientids.json"},
		AnswerTimeout: 3 * time.Second,
		RetryLimit:    -1,
		Media:         capture.Options{Video: capture.SourceCamera, VideoDevice: "/dev/video0", Audio: capture.SourceTone, Codec: "h264", PatternStyle: pattern.StyleViewer},
		NAT:           "relay",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("controller rejects it: %v", err)
	}

	s.SendVideo, s.SendAudio = false, false
	demoAWS := kvs.AWSOptions{Region: "us-east-1", EndpointURL: "https://127.0.0.1:1"}
	cfg = BuildConfig(s, &demoAWS, "demo-channel", "", nil)
	if cfg.AWS != demoAWS || cfg.Channel != "demo-channel" || cfg.Media.Video != capture.SourceNone || cfg.Media.Audio != capture.SourceNone || cfg.ClientIDs.StorePath != "" {
		t.Errorf("demo config %+v", cfg)
	}
	s.SendVideo, s.SendAudio, s.Camera, s.Microphone, s.RetryLimit = true, true, SourceAuto, DevicePrefix+"hw:1", 4
	cfg = BuildConfig(s, nil, "", "", nil)
	if cfg.Media.Video != capture.SourceAuto || cfg.Media.Audio != capture.SourceMic || cfg.Media.AudioDevice != "hw:1" || cfg.RetryLimit != 4 {
		t.Errorf("auto/mic config %+v", cfg.Media)
	}
}

func TestConfigErrors(t *testing.T) {
	err := call.Config{Channel: "", NAT: "x", Media: capture.Options{Video: "webcam"}}.Validate()
	got := fields(ConfigErrors(err))
	for _, f := range []string{FieldChannel, FieldNAT, FieldCamera} {
		if got[f] == "" {
			t.Errorf("no error for %s in %v", f, got)
		}
	}
	if ConfigErrors(nil) != nil {
		t.Error("errors from nil")
	}
	if got := ConfigErrors(errors.New("boom")); len(got) != 1 || got[0].Field != FieldMode {
		t.Errorf("plain error: %v", got)
	}
}

func TestDeviceChoices(t *testing.T) {
	cams, mics := DeviceChoices([]capture.Device{
		{ID: "/dev/video0", Label: "USB camera", Kind: capture.KindVideo},
		{ID: "hw:1", Kind: capture.KindAudio},
	})
	if !reflect.DeepEqual(cams, []DeviceChoice{{DevicePrefix + "/dev/video0", "USB camera"}}) || !reflect.DeepEqual(mics, []DeviceChoice{{DevicePrefix + "hw:1", "hw:1"}}) {
		t.Errorf("cams %v mics %v", cams, mics)
	}
}
