package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// DeviceChoice is one camera or microphone the user can pick.
type DeviceChoice struct {
	Value string // SourceAuto, SourceTest or DevicePrefix+id
	Label string
}

var natChoices = []DeviceChoice{{"all", "STUN + TURN"}, {"relay", "TURN only"}, {"stun", "STUN only"}}
var codecChoices = []DeviceChoice{{"auto", "Auto"}, {"h264", "H.264"}, {"vp8", "VP8"}}

// SettingsForm edits Settings. Bad input is reported next to its field when
// the user presses Save; valid settings are handed to OnApply. Call its
// methods on the Fyne goroutine only.
type SettingsForm struct {
	widget.BaseWidget

	// OnApply receives valid settings when the user presses Save.
	OnApply func(Settings)
	// ExtraCheck, when set, adds checks beyond Settings.Validate (for
	// example the controller's own configuration check).
	ExtraCheck func(Settings) []FieldError

	Mode          *widget.RadioGroup
	Profile       *widget.SelectEntry
	Region        *widget.Entry
	Channel       *widget.Entry
	Endpoint      *widget.Entry
	CAFile        *widget.Entry
	ClientPolicy  *widget.Select
	ClientID      *widget.Entry
	AnswerTimeout *widget.Entry
	RetryLimit    *widget.Entry
	Camera        *widget.Select
	Microphone    *widget.Select
	Codec         *widget.Select
	SendVideo     *widget.Check
	SendAudio     *widget.Check
	NAT           *widget.Select
	Save          *widget.Button
	Status        *widget.Label

	cameras, mics []DeviceChoice
	errLabels     map[string]*widget.Label
	content       fyne.CanvasObject
}

// NewSettingsForm returns a form showing s, offering profiles and the
// cameras and microphones (without the auto/test choices, which are added).
func NewSettingsForm(s Settings, profiles []string, cameras, mics []DeviceChoice) *SettingsForm {
	f := &SettingsForm{
		Profile:       widget.NewSelectEntry(profiles),
		Region:        widget.NewEntry(),
		Channel:       widget.NewEntry(),
		Endpoint:      widget.NewEntry(),
		CAFile:        widget.NewEntry(),
		ClientPolicy:  widget.NewSelect([]string{"pool", "fixed", "fresh"}, nil),
		ClientID:      widget.NewEntry(),
		AnswerTimeout: widget.NewEntry(),
		RetryLimit:    widget.NewEntry(),
		Camera:        widget.NewSelect(nil, nil),
		Microphone:    widget.NewSelect(nil, nil),
		Codec:         widget.NewSelect(labels(codecChoices), nil),
		SendVideo:     widget.NewCheck("Send my camera", nil),
		SendAudio:     widget.NewCheck("Send my microphone", nil),
		NAT:           widget.NewSelect(labels(natChoices), nil),
		Status:        widget.NewLabel(""),
		errLabels:     map[string]*widget.Label{},
	}
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
	f.SetSettings(s)

	f.content = container.NewBorder(container.NewHBox(f.Save, f.Status), nil, nil, nil, container.NewVScroll(f.newForm()))
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
		item("Mode", FieldMode, f.Mode, "Demo runs a local KVS emulator and camera; AWS joins a real channel"),
		item("AWS profile", FieldProfile, f.Profile, ""),
		item("Region", FieldRegion, f.Region, ""),
		item("Channel", FieldChannel, f.Channel, ""),
		item("Endpoint override", FieldEndpoint, f.Endpoint, ""),
		item("CA file", FieldCAFile, f.CAFile, ""),
		item("ClientId policy", FieldClientPolicy, f.ClientPolicy, "pool reuses ids after a 60 s cooldown; fresh makes a new id per attempt"),
		item("ClientId", FieldClientID, f.ClientID, ""),
		item("Answer timeout", FieldAnswerTimeout, f.AnswerTimeout, "like 5s"),
		item("Retry limit", FieldRetryLimit, f.RetryLimit, "0 = no automatic retries"),
		item("Camera", FieldCamera, f.Camera, ""),
		item("Microphone", FieldMicrophone, f.Microphone, ""),
		item("Codec", FieldCodec, f.Codec, ""),
		item("Send", "send", container.NewHBox(f.SendVideo, f.SendAudio), ""),
		item("NAT traversal", FieldNAT, f.NAT, ""),
	)
}

// CreateRenderer implements fyne.Widget.
func (f *SettingsForm) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(f.content)
}

// SetDevices replaces the camera and microphone lists (devices only; the
// automatic and test choices are always offered), keeping the selection.
func (f *SettingsForm) SetDevices(cameras, mics []DeviceChoice) {
	camSel, micSel := f.valueOf(f.Camera, f.cameras), f.valueOf(f.Microphone, f.mics)
	f.cameras = append([]DeviceChoice{{SourceAuto, "Auto (camera, else test pattern)"}, {SourceTest, "Test pattern"}}, cameras...)
	f.mics = append([]DeviceChoice{{SourceAuto, "Auto (microphone, else tone)"}, {SourceTest, "Tone"}}, mics...)
	f.Camera.SetOptions(labels(f.cameras))
	f.Microphone.SetOptions(labels(f.mics))
	if camSel != "" {
		f.selectValue(f.Camera, &f.cameras, camSel)
	}
	if micSel != "" {
		f.selectValue(f.Microphone, &f.mics, micSel)
	}
}

// SetSettings shows s in the form and clears the error messages.
func (f *SettingsForm) SetSettings(s Settings) {
	if s.Mode == ModeAWS {
		f.Mode.SetSelected("AWS")
	} else {
		f.Mode.SetSelected("Demo")
	}
	f.Profile.SetText(s.Profile)
	f.Region.SetText(s.Region)
	f.Channel.SetText(s.Channel)
	f.Endpoint.SetText(s.EndpointURL)
	f.CAFile.SetText(s.CAFile)
	f.ClientPolicy.SetSelected(s.ClientIDPolicy)
	f.ClientID.SetText(s.ClientID)
	f.AnswerTimeout.SetText(s.AnswerTimeout.String())
	f.RetryLimit.SetText(strconv.Itoa(s.RetryLimit))
	f.selectValue(f.Camera, &f.cameras, s.Camera)
	f.selectValue(f.Microphone, &f.mics, s.Microphone)
	f.selectValue(f.Codec, &codecChoices, s.Codec)
	f.SendVideo.SetChecked(s.SendVideo)
	f.SendAudio.SetChecked(s.SendAudio)
	f.selectValue(f.NAT, &natChoices, s.NAT)
	f.ShowErrors(nil)
	f.updateEnabled()
}

// Settings reads the form and validates it: the settings and one error per bad field.
func (f *SettingsForm) Settings() (Settings, []FieldError) {
	var errs []FieldError
	s := Settings{
		Mode:           ModeDemo,
		Profile:        strings.TrimSpace(f.Profile.Text),
		Region:         strings.TrimSpace(f.Region.Text),
		Channel:        strings.TrimSpace(f.Channel.Text),
		EndpointURL:    strings.TrimSpace(f.Endpoint.Text),
		CAFile:         strings.TrimSpace(f.CAFile.Text),
		ClientIDPolicy: f.ClientPolicy.Selected,
		ClientID:       strings.TrimSpace(f.ClientID.Text),
		Camera:         f.valueOf(f.Camera, f.cameras),
		Microphone:     f.valueOf(f.Microphone, f.mics),
		Codec:          f.valueOf(f.Codec, codecChoices),
		SendVideo:      f.SendVideo.Checked,
		SendAudio:      f.SendAudio.Checked,
		NAT:            f.valueOf(f.NAT, natChoices),
	}
	if f.Mode.Selected == "AWS" {
		s.Mode = ModeAWS
	}
	timeoutOK, retryOK := true, true
	if d, err := parseSeconds(f.AnswerTimeout.Text); err != nil {
		errs = append(errs, FieldError{FieldAnswerTimeout, "not a duration (like 5s or 1500ms)"})
		timeoutOK = false
	} else {
		s.AnswerTimeout = d
	}
	if n, err := strconv.Atoi(strings.TrimSpace(f.RetryLimit.Text)); err != nil {
		errs = append(errs, FieldError{FieldRetryLimit, "not a whole number"})
		retryOK = false
	} else {
		s.RetryLimit = n
	}
	for _, e := range s.Validate() {
		if (e.Field == FieldAnswerTimeout && !timeoutOK) || (e.Field == FieldRetryLimit && !retryOK) {
			continue
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 && f.ExtraCheck != nil {
		errs = append(errs, f.ExtraCheck(s)...)
	}
	return s, errs
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

// ShowErrors puts each error next to its field and clears the others.
func (f *SettingsForm) ShowErrors(errs []FieldError) {
	msgs := map[string][]string{}
	for _, e := range errs {
		field := e.Field
		if _, ok := f.errLabels[field]; !ok {
			field = FieldMode // an unknown field: show it at the top
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
	for _, w := range []fyne.Disableable{f.Profile, f.Region, f.Channel, f.Endpoint, f.CAFile} {
		if aws {
			w.Enable()
		} else {
			w.Disable()
		}
	}
}

// selectValue selects the choice with value v, adding it when it is a device
// that is not present now.
func (f *SettingsForm) selectValue(sel *widget.Select, choices *[]DeviceChoice, v string) {
	for _, c := range *choices {
		if c.Value == v {
			sel.SetSelected(c.Label)
			return
		}
	}
	if strings.HasPrefix(v, DevicePrefix) {
		c := DeviceChoice{Value: v, Label: strings.TrimPrefix(v, DevicePrefix) + " (not found)"}
		*choices = append(*choices, c)
		sel.SetOptions(labels(*choices))
		sel.SetSelected(c.Label)
		return
	}
	sel.ClearSelected()
}

func (f *SettingsForm) valueOf(sel *widget.Select, choices []DeviceChoice) string {
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
