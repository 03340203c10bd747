package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// DeviceChoice is one entry of a selection: a value and what the user sees.
type DeviceChoice struct {
	Value string
	Label string
}

var (
	natChoices   = []DeviceChoice{{string(call.NATAll), "STUN + TURN"}, {string(call.NATRelay), "TURN only"}, {string(call.NATSTUN), "STUN only"}}
	codecChoices = []DeviceChoice{{capture.CodecAuto, "Auto"}, {capture.CodecH264, "H.264"}, {capture.CodecVP8, "VP8"}}
	sizeChoices  = []DeviceChoice{{"640x360", "640x360"}, {"960x540", "960x540"}, {"1280x720", "1280x720 (HD)"}, {"1920x1080", "1920x1080 (Full HD)"}}
	fpsChoices   = []DeviceChoice{{"15", "15 fps"}, {"24", "24 fps"}, {"30", "30 fps"}, {"60", "60 fps"}}

	candidateTypeLabels = []string{call.CandidateHost, call.CandidateSrflx, call.CandidateRelay}
)

// SettingsForm edits call.Settings. Bad input is reported next to its field
// when the user presses Save (through call.Settings.Validate, the check the
// commands use too); valid settings are handed to OnApply. Call its methods
// on the Fyne goroutine only.
type SettingsForm struct {
	widget.BaseWidget

	// OnApply receives valid settings when the user presses Save.
	OnApply func(call.Settings)

	Mode             *widget.RadioGroup
	Profile          *widget.SelectEntry
	Region           *widget.Entry
	Channel          *widget.Entry
	Endpoint         *widget.Entry
	CAFile           *widget.Entry
	ClientPolicy     *widget.Select
	ClientID         *widget.Entry
	AnswerTimeout    *widget.Entry
	MaxAnswerTimeout *widget.Entry
	Retries          *widget.Entry
	Camera           *widget.Select
	Microphone       *widget.Select
	Speaker          *widget.Select // the audio output (SetSpeakers)
	SendVideo        *widget.Check
	SendAudio        *widget.Check
	VideoSize        *widget.Select
	FPS              *widget.Select
	MaxBitrate       *widget.Entry
	Codec            *widget.Select
	NAT              *widget.Select
	SendTypes        *widget.CheckGroup // candidate types sent
	AcceptTypes      *widget.CheckGroup // candidate types accepted
	Trickle          *widget.Check
	DataChannel      *widget.Check
	DualStack        *widget.Check
	FIPS             *widget.Check
	Save             *widget.Button
	Status           *widget.Label

	cameras, mics, sizes, rates []DeviceChoice
	speakers                    []DeviceChoice
	shown                       call.Settings // what SetSettings showed: the fields the form has no widget for
	errLabels                   map[string]*widget.Label
	content                     fyne.CanvasObject
	scroll                      *container.Scroll
}

// NewSettingsForm returns a form showing s, offering profiles and the
// cameras and microphones (without the automatic and test choices, which are
// added).
func NewSettingsForm(s call.Settings, profiles []string, cameras, mics []DeviceChoice) *SettingsForm {
	f := &SettingsForm{
		Profile:          widget.NewSelectEntry(profiles),
		Region:           widget.NewEntry(),
		Channel:          widget.NewEntry(),
		Endpoint:         widget.NewEntry(),
		CAFile:           widget.NewEntry(),
		ClientPolicy:     widget.NewSelect([]string{string(call.PolicyPool), string(call.PolicyFixed), string(call.PolicyFresh)}, nil),
		ClientID:         widget.NewEntry(),
		AnswerTimeout:    widget.NewEntry(),
		MaxAnswerTimeout: widget.NewEntry(),
		Retries:          widget.NewEntry(),
		Camera:           widget.NewSelect(nil, nil),
		Microphone:       widget.NewSelect(nil, nil),
		Speaker:          widget.NewSelect(nil, nil),
		SendVideo:        widget.NewCheck("Send my camera", nil),
		SendAudio:        widget.NewCheck("Send my microphone", nil),
		VideoSize:        widget.NewSelect(nil, nil),
		FPS:              widget.NewSelect(nil, nil),
		MaxBitrate:       widget.NewEntry(),
		SendTypes:        widget.NewCheckGroup(candidateTypeLabels, nil),
		AcceptTypes:      widget.NewCheckGroup(candidateTypeLabels, nil),
		Trickle:          widget.NewCheck("Trickle ICE (off: every candidate in the offer)", nil),
		DataChannel:      widget.NewCheck("Open a data channel (messages, round trip)", nil),
		DualStack:        widget.NewCheck("Dual-stack endpoints (IPv4 and IPv6)", nil),
		FIPS:             widget.NewCheck("FIPS endpoints", nil),
		Codec:            widget.NewSelect(labels(codecChoices), nil),
		NAT:              widget.NewSelect(labels(natChoices), nil),
		Status:           widget.NewLabel(""),
		errLabels:        map[string]*widget.Label{},
		sizes:            append([]DeviceChoice(nil), sizeChoices...),
		rates:            append([]DeviceChoice(nil), fpsChoices...),
	}
	f.VideoSize.SetOptions(labels(f.sizes))
	f.FPS.SetOptions(labels(f.rates))
	f.SendTypes.Horizontal, f.AcceptTypes.Horizontal = true, true
	f.MaxBitrate.SetPlaceHolder("0: chosen from the size")
	f.Mode = widget.NewRadioGroup([]string{"Demo", "AWS"}, func(string) { f.updateEnabled() })
	f.Mode.Horizontal = true
	f.Mode.Required = true
	f.Profile.SetPlaceHolder("default credential chain")
	f.Region.SetPlaceHolder("from the profile, AWS_REGION or the ARN")
	f.Channel.SetPlaceHolder("channel name or arn:aws:kinesisvideo:...")
	f.Endpoint.SetPlaceHolder("optional, https://...")
	f.CAFile.SetPlaceHolder("optional PEM file to trust for the endpoint")
	f.ClientID.SetPlaceHolder("optional with pool/fresh")
	f.Save = widget.NewButton("Save", f.submit)
	f.Save.Importance = widget.HighImportance
	f.SetDevices(cameras, mics)
	f.SetSpeakers(nil)
	f.SetSettings(s)

	f.scroll = container.NewVScroll(f.newForm())
	f.content = container.NewBorder(container.NewHBox(f.Save, f.Status), nil, nil, nil, f.scroll)
	f.ExtendBaseWidget(f)
	return f
}

// newForm returns the form of the settings fields, each with a hidden label
// under it for its error.
func (f *SettingsForm) newForm() *widget.Form {
	item := func(label, field string, w fyne.CanvasObject, hint string) *widget.FormItem {
		e := widget.NewLabel("")
		e.Importance = widget.DangerImportance
		e.Wrapping = fyne.TextWrapWord
		e.Hide()
		f.errLabels[field] = e
		return &widget.FormItem{Text: label, Widget: container.NewVBox(w, e), HintText: hint}
	}
	return widget.NewForm(
		item("Mode", call.FieldMode, f.Mode, "Demo runs a local KVS emulator and camera; AWS joins a real channel"),
		item("AWS profile", call.FieldProfile, f.Profile, ""),
		item("Region", call.FieldRegion, f.Region, ""),
		item("Channel", call.FieldChannel, f.Channel, ""),
		item("Endpoint override", call.FieldEndpoint, f.Endpoint, ""),
		item("CA file", call.FieldCAFile, f.CAFile, ""),
		item("ClientId policy", call.FieldClientIDPolicy, f.ClientPolicy, "pool: up to 64 ids, each reused only 60 s after its call closed; fresh: a new id per attempt"),
		item("ClientId", call.FieldClientID, f.ClientID, ""),
		item("Answer timeout", call.FieldAnswerTimeout, f.AnswerTimeout, "like 5s; doubles after each unanswered offer"),
		item("Longest answer wait", call.FieldMaxAnswerTimeout, f.MaxAnswerTimeout, "how far the answer timeout may grow for a slow master"),
		item("Retries", call.FieldRetries, f.Retries, "0 = no automatic retries"),
		item("Camera", call.FieldVideo, container.NewBorder(nil, nil, nil, f.SendVideo, f.Camera), ""),
		item("Microphone", call.FieldAudio, container.NewBorder(nil, nil, nil, f.SendAudio, f.Microphone), ""),
		item("Speaker", "speaker", f.Speaker, "takes effect at the next Connect"),
		item("Video sent", call.FieldVideoFormat, container.NewGridWithColumns(2, f.VideoSize, f.FPS), "the camera gives the closest format it has"),
		item("Maximum bitrate", call.FieldMaxBitrate, f.MaxBitrate, "kbit/s of the video sent"),
		item("Codec", call.FieldCodec, f.Codec, "sent, and preferred to receive"),
		item("NAT traversal", call.FieldNAT, f.NAT, ""),
		item("Send candidates", call.FieldSendCandidates, f.SendTypes, "the local ICE candidate types offered to the master"),
		item("Accept candidates", call.FieldAcceptCandidates, f.AcceptTypes, "the master's ICE candidate types used"),
		item("ICE", "trickle", f.Trickle, ""),
		item("Data channel", "data_channel", f.DataChannel, ""),
		item("Endpoints", "endpoints", container.NewHBox(f.DualStack, f.FIPS), "also use_dualstack_endpoint / use_fips_endpoint in the AWS config"),
	)
}

// CreateRenderer implements fyne.Widget.
func (f *SettingsForm) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(f.content)
}

// SetDevices replaces the camera and microphone lists (devices only; the
// automatic, any-device and test choices are always offered), keeping the
// selection.
func (f *SettingsForm) SetDevices(cameras, mics []DeviceChoice) {
	camSel, micSel := valueOf(f.Camera, f.cameras), valueOf(f.Microphone, f.mics)
	f.cameras = append([]DeviceChoice{{capture.SourceAuto, "Auto (camera, else test pattern)"},
		{capture.SourceCamera, "First camera found"}, {capture.SourceTest, "Test pattern"}}, cameras...)
	f.mics = append([]DeviceChoice{{capture.SourceAuto, "Auto (microphone, else tone)"},
		{capture.SourceMic, "First microphone found"}, {capture.SourceTone, "Tone"}}, mics...)
	f.Camera.SetOptions(labels(f.cameras))
	f.Microphone.SetOptions(labels(f.mics))
	if camSel != "" {
		selectValue(f.Camera, &f.cameras, camSel)
	}
	if micSel != "" {
		selectValue(f.Microphone, &f.mics, micSel)
	}
}

// SetSpeakers replaces the audio outputs offered (the system default is always offered first),
// keeping the selection.
func (f *SettingsForm) SetSpeakers(outputs []DeviceChoice) {
	sel := valueOf(f.Speaker, f.speakers)
	f.speakers = append([]DeviceChoice{{"", "System default"}}, outputs...)
	f.Speaker.SetOptions(labels(f.speakers))
	selectValue(f.Speaker, &f.speakers, sel)
}

// ShowErrors puts each error next to its field and clears the others.
func (f *SettingsForm) ShowErrors(errs []*call.FieldError) {
	msgs := map[string][]string{}
	for _, e := range errs {
		field := e.Field
		if _, ok := f.errLabels[field]; !ok {
			field = call.FieldMode // a setting without a field here (--fault): show it at the top
		}
		msgs[field] = append(msgs[field], e.Message)
	}
	for field, l := range f.errLabels {
		if m := msgs[field]; len(m) > 0 {
			l.SetText(strings.Join(m, "; "))
			l.Show()
		} else {
			l.SetText("")
			l.Hide()
		}
	}
	switch {
	case len(errs) == 1:
		f.Status.SetText("1 field needs attention")
	case len(errs) > 1:
		f.Status.SetText(fmt.Sprintf("%d fields need attention", len(errs)))
	default:
		f.Status.SetText("")
	}
}

// Error returns the message shown next to field, or "".
func (f *SettingsForm) Error(field string) string {
	if l, ok := f.errLabels[field]; ok && l.Visible() {
		return l.Text
	}
	return ""
}

func (f *SettingsForm) submit() {
	s, errs := f.Settings()
	f.ShowErrors(errs)
	if len(errs) > 0 {
		return
	}
	f.Status.SetText("Saved; used from the next Connect")
	if f.OnApply != nil {
		f.OnApply(s)
	}
}

func (f *SettingsForm) updateEnabled() {
	aws := f.Mode.Selected == "AWS"
	for _, w := range []fyne.Disableable{f.Profile, f.Region, f.Channel, f.Endpoint, f.CAFile, f.DualStack, f.FIPS} {
		if aws {
			w.Enable()
		} else {
			w.Disable()
		}
	}
}

// selectValue selects the choice with value v, adding it when it is not
// offered now (a device that is gone, a size given on the command line).
func selectValue(sel *widget.Select, choices *[]DeviceChoice, v string) {
	for _, c := range *choices {
		if c.Value == v {
			sel.SetSelected(c.Label)
			return
		}
	}
	if v == "" {
		sel.ClearSelected()
		return
	}
	label := v
	if id, ok := strings.CutPrefix(v, DevicePrefix); ok {
		label = id + " (not found)"
	}
	*choices = append(*choices, DeviceChoice{Value: v, Label: label})
	sel.SetOptions(labels(*choices))
	sel.SetSelected(label)
}

func valueOf(sel *widget.Select, choices []DeviceChoice) string {
	for _, c := range choices {
		if c.Label == sel.Selected {
			return c.Value
		}
	}
	return ""
}

func labels(cs []DeviceChoice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Label
	}
	return out
}

// ShowCallOptions scrolls the form to its end, where the call options are.
func (f *SettingsForm) ShowCallOptions() {
	f.scroll.ScrollToBottom()
}
