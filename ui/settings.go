package ui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// DevicePrefix starts a camera or microphone choice that names a device id;
// the other choices are capture's sources (auto, camera/mic, test/tone).
const DevicePrefix = "device:"

// videoChoice is the camera selection showing a video source and device.
// With no video sent, it shows the device that will be used when sending is
// turned on again.
func videoChoice(video, device string) string {
	return sourceChoice(video, device, capture.SourceCamera)
}

// audioChoice is the microphone selection showing an audio source and device.
func audioChoice(audio, device string) string {
	return sourceChoice(audio, device, capture.SourceMic)
}

func sourceChoice(source, device, deviceSource string) string {
	switch {
	case device != "" && (source == deviceSource || source == capture.SourceNone):
		return DevicePrefix + device
	case source == capture.SourceNone || source == "":
		return capture.SourceAuto
	}
	return source
}

// videoSource maps a camera selection and the "send" box to settings.
func videoSource(choice string, send bool) (video, device string) {
	return choiceSource(choice, send, capture.SourceCamera)
}

// audioSource maps a microphone selection and the "send" box to settings.
func audioSource(choice string, send bool) (audio, device string) {
	return choiceSource(choice, send, capture.SourceMic)
}

func choiceSource(choice string, send bool, deviceSource string) (source, device string) {
	id, isDevice := strings.CutPrefix(choice, DevicePrefix)
	switch {
	case !send && isDevice:
		return capture.SourceNone, id // kept for when sending is turned on again
	case !send:
		return capture.SourceNone, ""
	case isDevice:
		return deviceSource, id
	}
	return choice, ""
}

const prefPrefix = "settings."

// LoadSettings reads the settings saved by SaveSettings, with the defaults
// for anything not saved yet (so a first run is in Demo mode). Settings
// saved by earlier versions (camera/microphone choices, send boxes, retry
// limit) are read too.
func LoadSettings(p fyne.Preferences) call.Settings {
	d := call.DefaultSettings()
	str := func(key, def string) string { return p.StringWithFallback(prefPrefix+key, def) }
	num := func(key string, def int) int { return p.IntWithFallback(prefPrefix+key, def) }
	ms := func(key string, def time.Duration) time.Duration {
		return time.Duration(num(key, int(def/time.Millisecond))) * time.Millisecond
	}
	s := call.Settings{
		Mode:             call.Mode(str("mode", string(d.Mode))),
		Profile:          str("profile", d.Profile),
		Region:           str("region", d.Region),
		Channel:          str("channel", d.Channel),
		EndpointURL:      str("endpoint", d.EndpointURL),
		CAFile:           str("ca_file", d.CAFile),
		ClientIDPolicy:   call.IDPolicy(str("client_id_policy", string(d.ClientIDPolicy))),
		ClientID:         str("client_id", d.ClientID),
		AnswerTimeout:    ms("answer_timeout_ms", d.AnswerTimeout),
		MaxAnswerTimeout: ms("max_answer_timeout_ms", d.MaxAnswerTimeout),
		Retries:          num("retries", num("retry_limit", d.Retries)),
		Width:            num("width", d.Width),
		Height:           num("height", d.Height),
		FPS:              num("fps", d.FPS),
		Codec:            str("codec", d.Codec),
		NAT:              call.NATMode(str("nat", string(d.NAT))),
		MaxBitrate:       num("max_bitrate", d.MaxBitrate),
		SendCandidates:   call.CandidateTypes(str("send_candidates", string(d.SendCandidates))),
		AcceptCandidates: call.CandidateTypes(str("accept_candidates", string(d.AcceptCandidates))),
		Trickle:          p.BoolWithFallback(prefPrefix+"trickle", d.Trickle),
		DataChannel:      p.BoolWithFallback(prefPrefix+"data_channel", d.DataChannel),
		DualStack:        p.BoolWithFallback(prefPrefix+"dualstack", d.DualStack),
		FIPS:             p.BoolWithFallback(prefPrefix+"fips", d.FIPS),
	}
	s.Video, s.VideoDevice = str("video", ""), str("video_device", "")
	if s.Video == "" { // not saved by this version
		s.Video, s.VideoDevice = legacySource(p, "camera", "send_video", capture.SourceTest, capture.SourceCamera)
	}
	s.Audio, s.AudioDevice = str("audio", ""), str("audio_device", "")
	s.Speaker = str("speaker", "")
	if s.Audio == "" {
		s.Audio, s.AudioDevice = legacySource(p, "microphone", "send_audio", capture.SourceTone, capture.SourceMic)
	}
	return s
}

// legacySource reads an earlier version's device choice ("auto", "test" or
// "device:<id>") and send box.
func legacySource(p fyne.Preferences, choiceKey, sendKey, testSource, deviceSource string) (source, device string) {
	choice := p.StringWithFallback(prefPrefix+choiceKey, capture.SourceAuto)
	if choice == "test" {
		choice = testSource
	}
	return choiceSource(choice, p.BoolWithFallback(prefPrefix+sendKey, true), deviceSource)
}

// SaveSettings stores s in the app's preferences. Settings hold no secrets;
// demo faults come from the command line and are not kept.
func SaveSettings(p fyne.Preferences, s call.Settings) {
	for key, v := range map[string]string{
		"mode": string(s.Mode), "profile": s.Profile, "region": s.Region, "channel": s.Channel,
		"endpoint": s.EndpointURL, "ca_file": s.CAFile, "client_id_policy": string(s.ClientIDPolicy),
		"client_id": s.ClientID, "video": s.Video, "video_device": s.VideoDevice, "audio": s.Audio,
		"audio_device": s.AudioDevice, "speaker": s.Speaker, "codec": s.Codec, "nat": string(s.NAT),
		"send_candidates": string(s.SendCandidates), "accept_candidates": string(s.AcceptCandidates),
	} {
		p.SetString(prefPrefix+key, v)
	}
	for key, v := range map[string]bool{"trickle": s.Trickle, "data_channel": s.DataChannel, "dualstack": s.DualStack, "fips": s.FIPS} {
		p.SetBool(prefPrefix+key, v)
	}
	for key, v := range map[string]int{
		"answer_timeout_ms": int(s.AnswerTimeout / time.Millisecond), "max_answer_timeout_ms": int(s.MaxAnswerTimeout / time.Millisecond),
		"retries": s.Retries, "width": s.Width, "height": s.Height, "fps": s.FPS, "max_bitrate": s.MaxBitrate,
	} {
		p.SetInt(prefPrefix+key, v)
	}
}
