package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

func TestSettingsPreferencesRoundTrip(t *testing.T) {
	a := test.NewTempApp(t)
	p := a.Preferences()
	if got := LoadSettings(p); !reflect.DeepEqual(got, call.DefaultSettings()) {
		t.Fatalf("first run: %+v, want defaults", got)
	}
	s := call.Settings{Mode: call.ModeAWS, Profile: "dev", Region: "eu-west-1", Channel: "door", EndpointURL: "https://x.test",
		CAFile: "/tmp/ca.pem", ClientIDPolicy: call.PolicyFixed, ClientID: "viewer-7", AnswerTimeout: 2500 * time.Millisecond,
		MaxAnswerTimeout: 20 * time.Second, Retries: 9, Video: capture.SourceNone, VideoDevice: "/dev/video0",
		Audio: capture.SourceTone, Width: 640, Height: 360, FPS: 15, Codec: "vp8", NAT: call.NATRelay}
	SaveSettings(p, s)
	if got := LoadSettings(p); !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
	}
	// Demo faults come from the command line: never kept.
	s.Faults = "drop-offers=1"
	SaveSettings(p, s)
	if got := LoadSettings(p); got.Faults != "" {
		t.Errorf("faults kept between runs: %q", got.Faults)
	}
	// Settings are what gets stored: none of its fields may hold a credential.
	typ := reflect.TypeOf(call.Settings{})
	for i := range typ.NumField() {
		name := strings.ToLower(typ.Field(i).Name)
		for _, k := range []string{"secret", "token", "password", "accesskey", "credential"} {
			if strings.Contains(name, k) {
				t.Errorf("Settings.%s looks like a secret; the app must not store it", typ.Field(i).Name)
			}
		}
	}
}

// TestEarlierVersionsSettingsAreRead: a user's saved camera, microphone,
// send boxes and retry limit survive the update.
func TestEarlierVersionsSettingsAreRead(t *testing.T) {
	a := test.NewTempApp(t)
	p := a.Preferences()
	p.SetString(prefPrefix+"camera", DevicePrefix+"/dev/video2")
	p.SetBool(prefPrefix+"send_video", true)
	p.SetString(prefPrefix+"microphone", "test")
	p.SetBool(prefPrefix+"send_audio", false)
	p.SetInt(prefPrefix+"retry_limit", 7)
	s := LoadSettings(p)
	if s.Video != capture.SourceCamera || s.VideoDevice != "/dev/video2" || s.Audio != capture.SourceNone || s.Retries != 7 {
		t.Errorf("earlier settings read as %+v", s)
	}
}

// TestSourceChoices: the camera and microphone selections and send boxes
// map to settings and back.
func TestSourceChoices(t *testing.T) {
	for _, c := range []struct {
		choice  string
		send    bool
		video   string
		device  string
		showsAs string
	}{
		{capture.SourceAuto, true, capture.SourceAuto, "", capture.SourceAuto},
		{capture.SourceTest, true, capture.SourceTest, "", capture.SourceTest},
		{capture.SourceCamera, true, capture.SourceCamera, "", capture.SourceCamera},
		{DevicePrefix + "/dev/video1", true, capture.SourceCamera, "/dev/video1", DevicePrefix + "/dev/video1"},
		{DevicePrefix + "/dev/video1", false, capture.SourceNone, "/dev/video1", DevicePrefix + "/dev/video1"},
		{capture.SourceTest, false, capture.SourceNone, "", capture.SourceAuto},
	} {
		video, device := videoSource(c.choice, c.send)
		if video != c.video || device != c.device {
			t.Errorf("videoSource(%q, %v) = %q %q, want %q %q", c.choice, c.send, video, device, c.video, c.device)
		}
		if got := videoChoice(video, device); got != c.showsAs {
			t.Errorf("videoChoice(%q, %q) = %q, want %q", video, device, got, c.showsAs)
		}
	}
	if a, d := audioSource(DevicePrefix+"hw:1", true); a != capture.SourceMic || d != "hw:1" {
		t.Errorf("audioSource of a device: %q %q", a, d)
	}
}

func TestListProfiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	_ = os.WriteFile(cfg, []byte("[default]\nregion = us-west-2\n[profile dev]\nregion=eu-west-1\n[sso-session corp]\nsso_start_url=x\n"+
		"[profile   spaced  ]\n[profilex]\n[services s]\n  [profile prod] ; comment\n"), 0o600)
	_ = os.WriteFile(creds, []byte("[default]\naws_access_key_id=AKIA\naws_secret_access_key=SECRET\n[ci]\n[dev]\n"), 0o600)
	got := ListProfiles(cfg, creds)
	want := []string{"ci", "default", "dev", "prod", "spaced"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
	if got := ListProfiles(filepath.Join(dir, "missing"), ""); len(got) != 0 {
		t.Errorf("missing files gave %v", got)
	}
}

func FuzzParseProfileNames(f *testing.F) {
	f.Add("[default]\n[profile a]\n", true)
	f.Add("[x]\n[", false)
	f.Add("[profile]\n[profile\t b ]\n]", true)
	f.Fuzz(func(t *testing.T, data string, config bool) {
		for _, name := range parseProfileNames(bytes.NewBufferString(data), config) {
			if !call.ValidProfileName(name) {
				t.Fatalf("invalid profile name %q from %q", name, data)
			}
			if !strings.Contains(data, name) {
				t.Fatalf("name %q not in input", name)
			}
		}
	})
}
