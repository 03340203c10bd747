package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/kvsviewer/kvsviewer/call"
)

// Actions are the call controls the window's buttons and shortcuts drive;
// the controller (through the app's wiring) implements them. Each must
// return at once.
type Actions interface {
	Connect()
	Disconnect()
	Reconnect()
	SetMicMuted(bool)
	SetCameraOff(bool)
	// SendMessage sends text to the master on the call's data channel.
	SendMessage(text string) error
}

// previewPace is the interval between the local preview's frames.
const previewPace = 100 * time.Millisecond

// Tab names, in order (also the Ctrl+1..5 shortcuts).
const (
	TabCall     = "Call"
	TabSettings = "Settings"
	TabTimeline = "Timeline"
	TabLog      = "Log"
	TabQA       = "QA"
)

// Keyboard shortcuts (also listed in the README).
var (
	ShortcutConnect    = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}
	ShortcutReconnect  = &desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}
	ShortcutDisconnect = &desktop.CustomShortcut{KeyName: fyne.KeyD, Modifier: fyne.KeyModifierShortcutDefault}
	ShortcutFullScreen = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	ShortcutMute       = &desktop.CustomShortcut{KeyName: fyne.KeyM, Modifier: fyne.KeyModifierShortcutDefault}
	ShortcutCameraOff  = &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault}
)

// MainView is the window content: a toolbar (Connect, Disconnect,
// Reconnect, mute, camera off, state badge) above tabs for the call (remote
// video with the local preview inset and a stats line), settings, timeline,
// log and QA. Feed it controller events with Apply; call its methods on the
// Fyne goroutine only.
type MainView struct {
	Connect    *widget.Button
	Disconnect *widget.Button
	Reconnect  *widget.Button
	Mute       *widget.Check
	MicLevel   *MicMeter // what the microphone captures (SetMicLevel)
	CameraOff  *widget.Check
	About      *widget.Button // the build's version, commit and library versions
	ShowMsgs   *widget.Button // shows or hides the message panel
	Messages   *MessagePanel
	Badge      *StateBadge
	Stats      *widget.Label
	Notice     *widget.Label
	Remote     *VideoView
	Local      *VideoView
	Tabs       *container.AppTabs
	Timeline   *Timeline

	win        fyne.Window
	act        Actions
	content    fyne.CanvasObject
	videoArea  fyne.CanvasObject
	fullscreen bool
}

// NewMainView builds the window content around act; settings, log and qa
// are placed in their tabs (nil leaves a tab empty).
func NewMainView(win fyne.Window, act Actions, settings, log, qa fyne.CanvasObject) *MainView {
	m := &MainView{
		win:      win,
		act:      act,
		Badge:    NewStateBadge(),
		MicLevel: NewMicMeter(),
		Stats:    widget.NewLabel(FormatStats(nil)),
		Notice:   widget.NewLabel(""),
		Remote:   NewVideoView("Press Connect to start a call"),
		Local:    NewVideoView("camera off"),
		Timeline: NewTimeline(),
		Messages: NewMessagePanel(),
	}
	m.Messages.OnSend = act.SendMessage
	m.Messages.Hide()
	m.Connect = widget.NewButtonWithIcon("Connect", theme.MediaPlayIcon(), act.Connect)
	m.Connect.Importance = widget.HighImportance
	m.Disconnect = widget.NewButtonWithIcon("Disconnect", theme.MediaStopIcon(), act.Disconnect)
	m.Reconnect = widget.NewButtonWithIcon("Reconnect", theme.ViewRefreshIcon(), act.Reconnect)
	m.Mute = widget.NewCheck("Mute mic", act.SetMicMuted)
	m.CameraOff = widget.NewCheck("Camera off", act.SetCameraOff)
	full := widget.NewButtonWithIcon("", theme.ViewFullScreenIcon(), m.ToggleFullScreen)
	m.About = widget.NewButtonWithIcon("", theme.InfoIcon(), m.ShowAbout)
	m.ShowMsgs = widget.NewButtonWithIcon("Messages", theme.MailComposeIcon(), m.ToggleMessages)
	m.Stats.TextStyle = fyne.TextStyle{Monospace: true}
	m.Stats.Truncation = fyne.TextTruncateEllipsis
	m.Notice.Importance = widget.WarningImportance
	m.Notice.Truncation = fyne.TextTruncateEllipsis
	m.Local.placeholder.TextSize = theme.CaptionTextSize()
	// The inset needs no more than ~10 fps, and its frames ride along with
	// the remote picture's repaints instead of causing their own.
	m.Local.SetPace(previewPace)
	m.Remote.OnShown(m.Local.ShowIfDue)

	toolbar := container.NewHBox(m.Connect, m.Disconnect, m.Reconnect, widget.NewSeparator(),
		m.Mute, container.NewGridWrap(fyne.NewSize(110, m.MicLevel.MinSize().Height), m.MicLevel), m.CameraOff, full, m.ShowMsgs, layout.NewSpacer(), m.Badge, m.About)
	m.videoArea = container.New(&insetLayout{}, m.Remote, m.Local)
	callTab := container.NewBorder(nil, container.NewVBox(m.Notice, m.Stats), nil, m.Messages, m.videoArea)
	orEmpty := func(o fyne.CanvasObject) fyne.CanvasObject {
		if o == nil {
			return layout.NewSpacer()
		}
		return o
	}
	m.Tabs = container.NewAppTabs(
		container.NewTabItem(TabCall, callTab),
		container.NewTabItem(TabSettings, orEmpty(settings)),
		container.NewTabItem(TabTimeline, m.Timeline),
		container.NewTabItem(TabLog, orEmpty(log)),
		container.NewTabItem(TabQA, orEmpty(qa)),
	)
	m.content = container.NewBorder(container.NewPadded(toolbar), nil, nil, nil, m.Tabs)
	// Video drawn into native surfaces must hide or move at once (see native.go).
	m.Tabs.OnSelected = func(*container.TabItem) { m.placeVideo() }
	m.updateButtons(call.StateIdle)
	m.SetNotice("")
	return m
}

// Content returns the window content.
func (m *MainView) Content() fyne.CanvasObject { return m.content }

// InstallShortcuts adds the keyboard shortcuts to the window's canvas:
// Ctrl+Enter Connect, Ctrl+R Reconnect, Ctrl+D Disconnect, Ctrl+F or F11
// full-screen video (Escape leaves it), Ctrl+M mute, Ctrl+E camera off,
// Ctrl+1..5 the tabs.
func (m *MainView) InstallShortcuts() {
	c := m.win.Canvas()
	c.AddShortcut(ShortcutConnect, func(fyne.Shortcut) { m.act.Connect() })
	c.AddShortcut(ShortcutReconnect, func(fyne.Shortcut) { m.act.Reconnect() })
	c.AddShortcut(ShortcutDisconnect, func(fyne.Shortcut) { m.act.Disconnect() })
	c.AddShortcut(ShortcutFullScreen, func(fyne.Shortcut) { m.ToggleFullScreen() })
	c.AddShortcut(ShortcutMute, func(fyne.Shortcut) { m.Mute.SetChecked(!m.Mute.Checked) })
	c.AddShortcut(ShortcutCameraOff, func(fyne.Shortcut) { m.CameraOff.SetChecked(!m.CameraOff.Checked) })
	for i, key := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5} {
		c.AddShortcut(&desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault},
			func(fyne.Shortcut) { m.Tabs.SelectIndex(i) })
	}
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		switch ev.Name {
		case fyne.KeyF11:
			m.ToggleFullScreen()
		case fyne.KeyEscape:
			if m.fullscreen {
				m.ToggleFullScreen()
			}
		}
	})
}

// ToggleFullScreen switches between the normal window and the remote video
// alone, full screen.
func (m *MainView) ToggleFullScreen() {
	m.fullscreen = !m.fullscreen
	if m.fullscreen {
		m.Tabs.Items[0].Content.(*fyne.Container).Remove(m.videoArea)
		m.win.SetContent(m.videoArea)
	} else {
		callTab := m.Tabs.Items[0].Content.(*fyne.Container)
		callTab.Add(m.videoArea)
		m.win.SetContent(m.content)
	}
	m.win.SetFullScreen(m.fullscreen)
	fyne.Do(m.placeVideo) // after the new content's layout
}

// placeVideo moves or hides the video surfaces now rather than at their next
// check (no-op for views drawn by Fyne).
func (m *MainView) placeVideo() {
	m.Remote.place()
	m.Local.place()
}

// ToggleMessages shows or hides the message panel beside the video (the
// video's surfaces follow the new size at once).
func (m *MainView) ToggleMessages() {
	if m.Messages.Visible() {
		m.Messages.Hide()
	} else {
		m.Messages.Show()
	}
	m.placeVideo()
}

// FullScreen reports whether the video is shown full screen.
func (m *MainView) FullScreen() bool { return m.fullscreen }

// SelectTab shows the tab with the given name.
func (m *MainView) SelectTab(name string) {
	for i, t := range m.Tabs.Items {
		if t.Text == name {
			m.Tabs.SelectIndex(i)
		}
	}
}

// Apply updates the badge, timeline, stats line, notices and buttons from
// one controller event.
func (m *MainView) Apply(ev call.Event) {
	m.Badge.Apply(ev)
	m.Timeline.Apply(ev)
	m.Messages.Apply(ev)
	switch ev.Kind {
	case call.EventState:
		m.updateButtons(ev.State)
		switch ev.State {
		case call.StateIdle:
			m.Remote.Clear()
			m.Local.Clear()
			m.Stats.SetText(FormatStats(nil))
			m.Remote.SetPlaceholder("Press Connect to start a call")
		case call.StateConnecting, call.StateOffering, call.StateConnectingMedia:
			m.Remote.SetPlaceholder("Connecting…")
			m.SetNotice("")
		case call.StateFailed:
			m.Remote.SetPlaceholder("Call failed: press Reconnect")
		}
	case call.EventStats:
		m.Stats.SetText(FormatStats(ev.Stats))
	case call.EventNotice:
		m.SetNotice(ev.Message)
	case call.EventError:
		m.SetNotice(FailureReason(ev.Class, ev.Message))
	}
}

// SetNotice shows a one-line message under the video ("" hides it).
func (m *MainView) SetNotice(text string) {
	m.Notice.SetText(text)
	if text == "" {
		m.Notice.Hide()
	} else {
		m.Notice.Show()
	}
}

// Tick advances the badge's countdown; call it about once a second.
func (m *MainView) Tick(now time.Time) { m.Badge.Tick(now) }

// SetMicLevel shows the microphone's level (dBFS; -100 or less without a call).
func (m *MainView) SetMicLevel(dBFS float64) { m.MicLevel.SetLevel(dBFS) }

// updateButtons enables the buttons that make sense in state s. Reconnect
// is always available: it tears down whatever is there and starts again.
func (m *MainView) updateButtons(s call.State) {
	switch s {
	case call.StateIdle, call.StateFailed:
		m.Connect.Enable()
		m.Disconnect.Disable()
	default:
		m.Connect.Disable()
		m.Disconnect.Enable()
	}
	if s == call.StateFailed {
		m.Disconnect.Enable() // clears the failure back to Idle
	}
	m.Reconnect.Enable()
}

// insetLayout fills the area with the first object and puts the second
// (the local preview) in the bottom-right corner at a quarter of the width.
type insetLayout struct{}

func (insetLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(size)
	pad := theme.Padding() * 2
	w := fyne.Max(size.Width/4, 96)
	h := w * 9 / 16
	objs[1].Resize(fyne.NewSize(w, h))
	objs[1].Move(fyne.NewPos(size.Width-w-pad, size.Height-h-pad))
}

func (insetLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	return objs[0].MinSize()
}
