package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

func TestSettingsFormShowsErrorsNextToFields(t *testing.T) {
	test.NewTempApp(t)
	cams := []DeviceChoice{{DevicePrefix + "/dev/video0", "USB camera"}}
	f := NewSettingsForm(DefaultSettings(), []string{"default", "dev"}, cams, nil)
	test.NewTempWindow(t, f)
	var applied []Settings
	f.OnApply = func(s Settings) { applied = append(applied, s) }

	// Demo defaults save as they are.
	test.Tap(f.Save)
	if len(applied) != 1 || applied[0].Mode != ModeDemo {
		t.Fatalf("applied %+v", applied)
	}
	if f.Region.Disabled() == false || f.Channel.Disabled() == false {
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
	f.RetryLimit.SetText("")
	test.Type(f.RetryLimit, "-3")
	f.ClientPolicy.SetSelected("fixed")
	test.Tap(f.Save)
	if len(applied) != 1 {
		t.Fatalf("bad settings applied: %+v", applied[1:])
	}
	want := map[string]string{
		FieldChannel:       "name or ARN",
		FieldRegion:        "AWS region",
		FieldAnswerTimeout: "not a duration",
		FieldRetryLimit:    "between 0 and 100",
		FieldClientID:      "enter the ClientId",
	}
	for field, sub := range want {
		if msg := f.Error(field); !strings.Contains(msg, sub) {
			t.Errorf("error next to %s: %q, want %q", field, msg, sub)
		}
	}
	if f.Error(FieldCodec) != "" || f.Error(FieldEndpoint) != "" {
		t.Error("errors shown next to good fields")
	}
	if f.Status.Text != "5 fields need attention" {
		t.Errorf("status %q", f.Status.Text)
	}

	// Fix them: the errors go away and the settings are applied.
	test.Type(f.Channel, "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/17")
	f.Region.SetText("eu-west-1")
	f.AnswerTimeout.SetText("2.5")
	f.RetryLimit.SetText("3")
	f.ClientID.SetText("viewer-9")
	f.Camera.SetSelected("USB camera")
	f.Microphone.SetSelected("Tone")
	f.NAT.SetSelected("TURN only")
	f.SendAudio.SetChecked(false)
	test.Tap(f.Save)
	if len(applied) != 2 {
		t.Fatalf("not applied; errors: ch=%q region=%q", f.Error(FieldChannel), f.Error(FieldRegion))
	}
	got := applied[1]
	if got.Mode != ModeAWS || got.AnswerTimeout != 2500*time.Millisecond || got.RetryLimit != 3 || got.ClientID != "viewer-9" ||
		got.Camera != DevicePrefix+"/dev/video0" || got.Microphone != SourceTest || got.NAT != "relay" || got.SendAudio || !got.SendVideo {
		t.Errorf("applied %+v", got)
	}
	for field := range want {
		if f.Error(field) != "" {
			t.Errorf("error still next to %s: %q", field, f.Error(field))
		}
	}

	// The controller's own check is shown too.
	f.ExtraCheck = func(Settings) []FieldError { return []FieldError{{FieldChannel, "channel not found"}} }
	test.Tap(f.Save)
	if len(applied) != 2 || f.Error(FieldChannel) != "channel not found" {
		t.Errorf("extra check: applied %d, error %q", len(applied), f.Error(FieldChannel))
	}

	// SetSettings round-trips, including a device that is gone now.
	f.ExtraCheck = nil
	s := got
	s.Camera = DevicePrefix + "/dev/video9"
	f.SetSettings(s)
	back, errs := f.Settings()
	if errs != nil || back != s {
		t.Errorf("SetSettings/Settings: %+v %v, want %+v", back, errs, s)
	}
}
