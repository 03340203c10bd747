package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// SetSettings shows s in the form and clears the error messages. Settings
// the form has no field for (demo faults from the command line) are kept
// and handed back by Settings.
func (f *SettingsForm) SetSettings(s call.Settings) {
	f.shown = s
	if s.Mode == call.ModeAWS {
		f.Mode.SetSelected("AWS")
	} else {
		f.Mode.SetSelected("Demo")
	}
	f.Profile.SetText(s.Profile)
	f.Region.SetText(s.Region)
	f.Channel.SetText(s.Channel)
	f.Endpoint.SetText(s.EndpointURL)
	f.CAFile.SetText(s.CAFile)
	f.ClientPolicy.SetSelected(string(s.ClientIDPolicy))
	f.ClientID.SetText(s.ClientID)
	f.AnswerTimeout.SetText(s.AnswerTimeout.String())
	f.MaxAnswerTimeout.SetText(s.MaxAnswerTimeout.String())
	f.Retries.SetText(strconv.Itoa(s.Retries))
	selectValue(f.Camera, &f.cameras, videoChoice(s.Video, s.VideoDevice))
	selectValue(f.Microphone, &f.mics, audioChoice(s.Audio, s.AudioDevice))
	f.selectSpeaker(s.Speaker)
	f.SendVideo.SetChecked(s.Video != "none")
	f.SendAudio.SetChecked(s.Audio != "none")
	selectValue(f.VideoSize, &f.sizes, fmt.Sprintf("%dx%d", s.Width, s.Height))
	selectValue(f.FPS, &f.rates, strconv.Itoa(s.FPS))
	selectValue(f.Codec, &codecChoices, s.Codec)
	selectValue(f.NAT, &natChoices, string(s.NAT))
	f.MaxBitrate.SetText(strconv.Itoa(s.MaxBitrate))
	f.SendTypes.SetSelected(candidateSet(s.SendCandidates))
	f.AcceptTypes.SetSelected(candidateSet(s.AcceptCandidates))
	f.Trickle.SetChecked(s.Trickle)
	f.DataChannel.SetChecked(s.DataChannel)
	f.DualStack.SetChecked(s.DualStack)
	f.FIPS.SetChecked(s.FIPS)
	f.ShowErrors(nil)
	f.updateEnabled()
}

// Settings reads the form and validates it: the settings and one error per
// bad field.
func (f *SettingsForm) Settings() (call.Settings, []*call.FieldError) {
	s := f.shown
	s.Mode = call.ModeDemo
	if f.Mode.Selected == "AWS" {
		s.Mode = call.ModeAWS
	}
	s.Profile = strings.TrimSpace(f.Profile.Text)
	s.Region = strings.TrimSpace(f.Region.Text)
	s.Channel = strings.TrimSpace(f.Channel.Text)
	s.EndpointURL = strings.TrimSpace(f.Endpoint.Text)
	s.CAFile = strings.TrimSpace(f.CAFile.Text)
	s.ClientIDPolicy = call.IDPolicy(f.ClientPolicy.Selected)
	s.ClientID = strings.TrimSpace(f.ClientID.Text)
	s.Video, s.VideoDevice = videoSource(valueOf(f.Camera, f.cameras), f.SendVideo.Checked)
	s.Audio, s.AudioDevice = audioSource(valueOf(f.Microphone, f.mics), f.SendAudio.Checked)
	s.Speaker = strings.TrimPrefix(valueOf(f.Speaker, f.speakers), DevicePrefix)
	s.Codec = valueOf(f.Codec, codecChoices)
	s.NAT = call.NATMode(valueOf(f.NAT, natChoices))
	s.SendCandidates, s.AcceptCandidates = selectedTypes(f.SendTypes), selectedTypes(f.AcceptTypes)
	s.Trickle, s.DataChannel = f.Trickle.Checked, f.DataChannel.Checked
	s.DualStack, s.FIPS = f.DualStack.Checked, f.FIPS.Checked

	errs := f.parseText(&s)
	// Text that does not parse is reported as such, instead of what
	// validating its zero value would say.
	unparsed := map[string]bool{}
	for _, e := range errs {
		unparsed[e.Field] = true
	}
	s.Width, s.Height, s.FPS = f.videoFormat()
	for _, e := range call.FieldErrors(s.Validate()) {
		if !unparsed[e.Field] {
			errs = append(errs, e)
		}
	}
	return s, errs
}

// parseText reads the fields typed as text into s: one error per field
// that does not parse or is left empty.
func (f *SettingsForm) parseText(s *call.Settings) []*call.FieldError {
	var errs []*call.FieldError
	bad := func(field, msg string) {
		errs = append(errs, &call.FieldError{Field: field, Message: msg})
	}
	var err error
	if s.AnswerTimeout, err = parseSeconds(f.AnswerTimeout.Text); err != nil {
		bad(call.FieldAnswerTimeout, "not a duration (like 5s or 1500ms)")
	}
	if s.MaxAnswerTimeout, err = parseSeconds(f.MaxAnswerTimeout.Text); err != nil {
		bad(call.FieldMaxAnswerTimeout, "not a duration (like 30s)")
	}
	if s.Retries, err = strconv.Atoi(strings.TrimSpace(f.Retries.Text)); err != nil {
		bad(call.FieldRetries, "not a whole number")
	}
	if s.MaxBitrate, err = strconv.Atoi(strings.TrimSpace(f.MaxBitrate.Text)); err != nil {
		bad(call.FieldMaxBitrate, "not a whole number of kbit/s")
	}
	if len(f.SendTypes.Selected) == 0 {
		bad(call.FieldSendCandidates, "choose at least one type")
	}
	if len(f.AcceptTypes.Selected) == 0 {
		bad(call.FieldAcceptCandidates, "choose at least one type")
	}
	return errs
}

// videoFormat reads the size and frame rate selections.
func (f *SettingsForm) videoFormat() (width, height, fps int) {
	_, _ = fmt.Sscanf(valueOf(f.VideoSize, f.sizes), "%dx%d", &width, &height)
	fps, _ = strconv.Atoi(valueOf(f.FPS, f.rates))
	return width, height, fps
}

// parseSeconds reads "5s", "1500ms" or a plain number of seconds.
func parseSeconds(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	if n, err := strconv.ParseFloat(text, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", text, err)
	}
	return d, nil
}

// candidateSet lists the types of a candidate filter, in the form's order
// (an empty filter is all of them).
func candidateSet(t call.CandidateTypes) []string {
	var out []string
	for _, typ := range candidateTypeLabels {
		if t.Has(typ) {
			out = append(out, typ)
		}
	}
	return out
}

// selectedTypes is the candidate filter a check group shows.
func selectedTypes(g *widget.CheckGroup) call.CandidateTypes {
	var out []string
	for _, typ := range candidateTypeLabels {
		if slices.Contains(g.Selected, typ) {
			out = append(out, typ)
		}
	}
	return call.CandidateTypes(strings.Join(out, ","))
}

// selectSpeaker selects the output id ("" = the system default).
func (f *SettingsForm) selectSpeaker(id string) {
	if id == "" {
		f.Speaker.SetSelectedIndex(0)
		return
	}
	selectValue(f.Speaker, &f.speakers, DevicePrefix+id)
}
