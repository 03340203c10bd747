package ui

import (
	"reflect"
	"testing"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

func TestStartSettingsApplyTheOverrides(t *testing.T) {
	saved := call.DefaultSettings()
	saved.Mode, saved.Channel = call.ModeAWS, "saved"
	if got := (Options{}).startSettings(saved); got != saved {
		t.Errorf("no overrides changed the settings: %+v", got)
	}
	o := Options{Overrides: func(s *call.Settings) { s.Mode, s.Width, s.Faults = call.ModeDemo, 640, "drop-offers=1" }}
	got := o.startSettings(saved)
	if got.Mode != call.ModeDemo || got.Width != 640 || got.Faults != "drop-offers=1" || got.Channel != "saved" {
		t.Errorf("overridden: %+v", got)
	}
}

func TestDeviceChoices(t *testing.T) {
	cams, mics := DeviceChoices([]capture.Device{
		{ID: "/dev/video0", Label: "USB camera", Kind: capture.KindVideo},
		{ID: "hw:1", Kind: capture.KindAudio},
		{ID: "alsa_input.usb-headset", Label: "USB Headset", Kind: capture.KindAudio, Default: true},
	})
	wantMics := []DeviceChoice{{DevicePrefix + "hw:1", "hw:1"}, {DevicePrefix + "alsa_input.usb-headset", "USB Headset (default)"}}
	if !reflect.DeepEqual(cams, []DeviceChoice{{DevicePrefix + "/dev/video0", "USB camera"}}) || !reflect.DeepEqual(mics, wantMics) {
		t.Errorf("cams %v mics %v", cams, mics)
	}
}
