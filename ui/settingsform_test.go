package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

func TestSettingsFormShowsErrorsNextToFields(t *testing.T) {
	test.NewTempApp(t)
	cams := []DeviceChoice{{DevicePrefix + "/dev/video0", "USB camera"}}
	f := NewSettingsForm(call.DefaultSettings(), []string{"default", "dev"}, cams, nil)
	test.NewTempWindow(t, f)
	var applied []call.Settings
	f.OnApply = func(s call.Settings) { applied = append(applied, s) }

	// Demo defaults save as they are.
	test.Tap(f.Save)
	if len(applied) != 1 || applied[0] != call.DefaultSettings() {
		t.Fatalf("applied %+v, want the defaults", applied)
	}
	if !f.Region.Disabled() || !f.Channel.Disabled() {
		t.Error("AWS fields enabled in Demo mode")
	}

	// AWS with bad input: errors next to each bad field, nothing applied.
	f.Mode.SetSelected("AWS")
	if f.Channel.Disabled() {
		t.Fatal("channel disabled in AWS mode")
	}
	test.Type(f.Region, "moon-1")
	f.AnswerTimeout.SetText("")
	test.Type(f.AnswerTimeout, "soon")
	f.Retries.SetText("")
	test.Type(f.Retries, "-3")
	f.ClientPolicy.SetSelected("fixed")
	test.Tap(f.Save)
	if len(applied) != 1 {
		t.Fatalf("bad settings applied: %+v", applied[1:])
	}
	want := map[string]string{
		call.FieldChannel:       "name or ARN",
		call.FieldRegion:        "AWS region",
		call.FieldAnswerTimeout: "not a duration",
		call.FieldRetries:       "between 0 and 100",
		call.FieldClientID:      "enter the ClientId",
	}
	for field, sub := range want {
		if msg := f.Error(field); !strings.Contains(msg, sub) {
			t.Errorf("error next to %s: %q, want %q", field, msg, sub)
		}
	}
	if f.Error(call.FieldCodec) != "" || f.Error(call.FieldEndpoint) != "" {
		t.Error("errors shown next to good fields")
	}
	if f.Status.Text != "5 fields need attention" {
		t.Errorf("status %q", f.Status.Text)
	}

	// Fix them: the errors go away and the settings are applied.
	test.Type(f.Channel, "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/17")
	f.Region.SetText("eu-west-1")
	f.AnswerTimeout.SetText("2.5")
	f.Retries.SetText("3")
	f.ClientID.SetText("viewer-9")
	f.Camera.SetSelected("USB camera")
	f.Microphone.SetSelected("Tone")
	f.NAT.SetSelected("TURN only")
	f.VideoSize.SetSelected("640x360")
	f.FPS.SetSelected("15 fps")
	f.SendAudio.SetChecked(false)
	test.Tap(f.Save)
	if len(applied) != 2 {
		t.Fatalf("not applied; errors: ch=%q region=%q", f.Error(call.FieldChannel), f.Error(call.FieldRegion))
	}
	got := applied[1]
	if got.Mode != call.ModeAWS || got.AnswerTimeout != 2500*time.Millisecond || got.Retries != 3 || got.ClientID != "viewer-9" ||
		got.Video != capture.SourceCamera || got.VideoDevice != "/dev/video0" || got.Audio != capture.SourceNone ||
		got.NAT != call.NATRelay || got.Width != 640 || got.Height != 360 || got.FPS != 15 {
		t.Errorf("applied %+v", got)
	}
	for field := range want {
		if f.Error(field) != "" {
			t.Errorf("error still next to %s: %q", field, f.Error(field))
		}
	}

	// SetSettings round-trips, including a device that is gone now, a
	// picture size given on the command line, and demo faults (no field).
	s := got
	s.Mode, s.VideoDevice, s.Width, s.Height, s.Faults = call.ModeDemo, "/dev/video9", 800, 600, "drop-offers=1"
	f.SetSettings(s)
	back, errs := f.Settings()
	if errs != nil || back != s {
		t.Errorf("SetSettings/Settings: %+v %v, want %+v", back, errs, s)
	}
}

// TestSettingsFormCallOptions: the test page's options (data channel,
// trickle, candidate filters, dual-stack, FIPS, bitrate) go into the settings
// and back, and an empty candidate filter is refused next to its field.
func TestSettingsFormCallOptions(t *testing.T) {
	test.NewTempApp(t)
	s := call.DefaultSettings()
	s.Mode, s.Channel = call.ModeAWS, "door"
	f := NewSettingsForm(s, nil, nil, nil)
	test.NewTempWindow(t, f)
	f.DataChannel.SetChecked(false)
	f.Trickle.SetChecked(false)
	f.SendTypes.SetSelected([]string{call.CandidateRelay, call.CandidateHost})
	f.AcceptTypes.SetSelected([]string{call.CandidateRelay})
	f.DualStack.SetChecked(true)
	f.FIPS.SetChecked(true)
	f.MaxBitrate.SetText("1500")
	got, errs := f.Settings()
	if len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	if got.DataChannel || got.Trickle || got.SendCandidates != "host,relay" || got.AcceptCandidates != "relay" ||
		!got.DualStack || !got.FIPS || got.MaxBitrate != 1500 {
		t.Errorf("settings %+v", got)
	}
	f.SetSettings(got)
	if back, _ := f.Settings(); back != got {
		t.Errorf("round trip %+v, want %+v", back, got)
	}
	f.SendTypes.SetSelected(nil)
	test.Tap(f.Save)
	if !strings.Contains(f.Error(call.FieldSendCandidates), "at least one") {
		t.Errorf("no candidate type: %q", f.Error(call.FieldSendCandidates))
	}
}

// TestSettingsFormSpeaker: the audio outputs are offered after the system default, with the
// default marked; the choice is kept by its ID, and a saved output that is gone stays shown.
func TestSettingsFormSpeaker(t *testing.T) {
	test.NewTempApp(t)
	f := NewSettingsForm(call.DefaultSettings(), nil, nil, nil)
	test.NewTempWindow(t, f)
	f.SetSpeakers(SpeakerChoices([]audioout.Device{
		{ID: "alsa_output.pci.analog-stereo", Name: "Built-in Audio", Default: true},
		{ID: "bluez_sink.headset", Name: "Headset"},
	}))
	if got := f.Speaker.Options; strings.Join(got, "|") != "System default|Built-in Audio (default)|Headset" {
		t.Fatalf("speaker options %q", got)
	}
	if f.Speaker.Selected != "System default" {
		t.Errorf("selected %q, want the system default", f.Speaker.Selected)
	}
	f.Speaker.SetSelected("Headset")
	if s, errs := f.Settings(); len(errs) != 0 || s.Speaker != "bluez_sink.headset" {
		t.Errorf("speaker %q (errors %v)", s.Speaker, errs)
	}
	s := call.DefaultSettings()
	s.Speaker = "usb_gone"
	f.SetSettings(s)
	if got, _ := f.Settings(); f.Speaker.Selected != "usb_gone (not found)" || got.Speaker != "usb_gone" {
		t.Errorf("a saved output that is gone: shown %q, read %q", f.Speaker.Selected, got.Speaker)
	}
	f.SetSettings(call.DefaultSettings())
	if got, _ := f.Settings(); f.Speaker.Selected != "System default" || got.Speaker != "" {
		t.Errorf("default: shown %q, read %q", f.Speaker.Selected, got.Speaker)
	}
}
