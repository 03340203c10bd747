package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/kvsviewer/kvsviewer/assets"
	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// AppID is the app's unique id (as in app/FyneApp.toml); Fyne keys the
// preferences with it.
const AppID = "io.github.kvsviewer"

// Options configure Run. The settings fields override the saved settings
// for this run only (empty / false keeps the saved value); setting Channel
// without Demo selects AWS mode.
type Options struct {
	Demo           bool   // --demo: use the built-in emulator and demo master
	Channel        string // --channel NAME|ARN
	Region         string // --region
	Profile        string // --profile
	EndpointURL    string // --endpoint-url
	CAFile         string // --ca-file
	ClientID       string // --client-id (selects the fixed policy)
	ClientIDPolicy string // --client-id-policy pool|fixed|fresh
	Codec          string // --codec auto|h264|vp8
	Video          string // --video auto|camera|test|none|device:<id>
	Audio          string // --audio auto|mic|tone|test|none|device:<id>
	Faults         string // --fault SPEC: emulator faults in Demo mode

	Connect bool // --connect: connect as soon as the window is open
	// GLVideo (--gl-video) draws the video through Fyne's OpenGL canvas even
	// where X11 child windows would do (they cost far less without a GPU).
	GLVideo bool

	// Context, when set, closes the window (and ends Run) when it is done.
	Context context.Context

	// Logger is where the app's own components log; nil logs into Logs only.
	Logger *slog.Logger
	// Logs is the buffer the log pane shows (app/ tees its logger into it);
	// nil makes one.
	Logs *LogBuffer

	// Tour, when set, is a directory: the window walks through the states
	// the README's screenshots show and waits at each for a screenshot
	// (see scripts/screenshots.sh): it writes NAME.ready into the directory,
	// waits for NAME.done, and quits after the last one.
	Tour string
	// TourQACycles is the length of the tour's QA run (default 50).
	TourQACycles int
}

// ApplyOptions returns s with the option overrides applied.
func ApplyOptions(s Settings, o Options) Settings {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	if o.Channel != "" {
		s.Mode = ModeAWS
	}
	if o.Demo {
		s.Mode = ModeDemo
	}
	set(&s.Channel, o.Channel)
	set(&s.Region, o.Region)
	set(&s.Profile, o.Profile)
	set(&s.EndpointURL, o.EndpointURL)
	set(&s.CAFile, o.CAFile)
	if o.ClientID != "" {
		s.ClientID = o.ClientID
		s.ClientIDPolicy = "fixed"
	}
	set(&s.ClientIDPolicy, o.ClientIDPolicy)
	set(&s.Codec, o.Codec)
	switch o.Video {
	case "":
	case "none":
		s.SendVideo = false
	case "camera":
		s.Camera, s.SendVideo = SourceAuto, true
	default:
		s.Camera, s.SendVideo = o.Video, true
	}
	switch o.Audio {
	case "":
	case "none":
		s.SendAudio = false
	case "mic":
		s.Microphone, s.SendAudio = SourceAuto, true
	case "tone":
		s.Microphone, s.SendAudio = SourceTest, true
	default:
		s.Microphone, s.SendAudio = o.Audio, true
	}
	return s
}

// BuildConfig turns settings into a controller configuration. aws and
// channel replace the settings' AWS fields (Demo mode passes the demo's);
// storeDir, when set, keeps the ClientId pool between runs.
func BuildConfig(s Settings, aws *kvs.AWSOptions, channel, storeDir string, logger *slog.Logger) call.Config {
	cfg := call.Config{
		AWS:     kvs.AWSOptions{Region: s.Region, Profile: s.Profile, EndpointURL: s.EndpointURL, CAFile: s.CAFile},
		Channel: s.Channel,
		ClientIDs: call.ClientIDConfig{
			Policy: s.ClientIDPolicy,
			ID:     s.ClientID,
		},
		AnswerTimeout: s.AnswerTimeout,
		RetryLimit:    s.RetryLimit,
		Media:         capture.Options{Codec: s.Codec, PatternStyle: pattern.StyleViewer},
		NAT:           s.NAT,
		Logger:        logger,
	}
	if cfg.RetryLimit == 0 {
		cfg.RetryLimit = -1 // the form's 0 means no retries; the controller's 0 means its default
	}
	if aws != nil {
		cfg.AWS = *aws
		cfg.Channel = channel
	}
	if storeDir != "" {
		cfg.ClientIDs.StorePath = filepath.Join(storeDir, "clientids.json")
	}
	switch {
	case !s.SendVideo:
		cfg.Media.Video = capture.SourceNone
	case s.Camera == SourceTest:
		cfg.Media.Video = capture.SourceTest
	case strings.HasPrefix(s.Camera, DevicePrefix):
		cfg.Media.Video = capture.SourceCamera
		cfg.Media.VideoDevice = strings.TrimPrefix(s.Camera, DevicePrefix)
	default:
		cfg.Media.Video = capture.SourceAuto
	}
	switch {
	case !s.SendAudio:
		cfg.Media.Audio = capture.SourceNone
	case s.Microphone == SourceTest:
		cfg.Media.Audio = capture.SourceTone
	case strings.HasPrefix(s.Microphone, DevicePrefix):
		cfg.Media.Audio = capture.SourceMic
		cfg.Media.AudioDevice = strings.TrimPrefix(s.Microphone, DevicePrefix)
	default:
		cfg.Media.Audio = capture.SourceAuto
	}
	return cfg
}

// ConfigErrors maps the controller's configuration errors to form fields.
func ConfigErrors(err error) []FieldError {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []FieldError
	for _, e := range list {
		var fe *call.FieldError
		if !errors.As(e, &fe) {
			out = append(out, FieldError{Field: FieldMode, Message: e.Error()})
			continue
		}
		field := fe.Field
		switch field {
		case "video":
			field = FieldCamera
		case "audio":
			field = FieldMicrophone
		}
		out = append(out, FieldError{Field: field, Message: fe.Message})
	}
	return out
}

// DeviceChoices splits capture devices into camera and microphone choices.
func DeviceChoices(devs []capture.Device) (cameras, mics []DeviceChoice) {
	for _, d := range devs {
		label := d.Label
		if label == "" {
			label = d.ID
		}
		c := DeviceChoice{Value: DevicePrefix + d.ID, Label: label}
		switch d.Kind {
		case capture.KindVideo:
			cameras = append(cameras, c)
		case capture.KindAudio:
			mics = append(mics, c)
		}
	}
	return cameras, mics
}

// Run opens the viewer window and returns when it is closed, after the call,
// any QA run and the demo have been shut down.
func Run(o Options) error {
	a := fyneapp.NewWithID(AppID)
	w, err := NewWindow(a, o)
	if err != nil {
		return err
	}
	skipDepthBuffer()
	a.Lifecycle().SetOnStarted(w.started)
	if o.Context != nil {
		// SIGINT/SIGTERM (app/ cancels the context): quit like a window close.
		stop := context.AfterFunc(o.Context, func() { fyne.Do(a.Quit) })
		defer stop()
	}
	w.Window.ShowAndRun()
	return w.Close()
}

// Window is the running viewer: the Fyne window, its view and the
// connection to the controller. NewWindow builds it; Run shows it.
type Window struct {
	Window   fyne.Window
	View     *MainView
	Settings *SettingsForm
	QA       *QAView
	Logs     *LogBuffer

	app    fyne.App
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	o      Options
	wg     sync.WaitGroup

	mu         sync.Mutex
	settings   Settings
	dirty      bool // settings changed since ctrl was built
	ctrl       *call.Controller
	unsub      func()
	demo       *demo.Demo
	demoErr    error
	demoDone   chan struct{}
	muted      bool
	camOff     bool
	qaCancel   context.CancelFunc
	state      call.State
	stateSeq   uint64        // counts state events
	maxSession uint64        // the highest session id shown
	stateCh    chan struct{} // closed and replaced on each state event
}

// NewWindow builds the viewer window in app a (without showing it). In Demo
// mode it starts the emulator and demo master in the background.
func NewWindow(a fyne.App, o Options) (*Window, error) {
	if o.Logs == nil {
		o.Logs = NewLogBuffer(5000, slog.LevelDebug)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(o.Logs)
	}
	a.SetIcon(assets.Icon)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Window{
		Window:  a.NewWindow("KVS Viewer"),
		Logs:    o.Logs,
		app:     a,
		log:     logger,
		ctx:     ctx,
		cancel:  cancel,
		o:       o,
		stateCh: make(chan struct{}),
	}
	w.settings = ApplyOptions(LoadSettings(a.Preferences()), o)

	cams, mics := DeviceChoices(capture.ListDevices())
	var profiles []string
	if cfgFile, credFile := SharedConfigFiles(); cfgFile != "" || credFile != "" {
		profiles = ListProfiles(cfgFile, credFile)
	}
	w.Settings = NewSettingsForm(w.settings, profiles, cams, mics)
	w.Settings.ExtraCheck = func(s Settings) []FieldError {
		if s.Mode == ModeDemo {
			return nil
		}
		return ConfigErrors(BuildConfig(s, nil, "", "", logger).Validate())
	}
	w.Settings.OnApply = w.applySettings
	w.QA = NewQAView(w.Window)
	w.QA.CheckFaults = func(spec string) error {
		_, err := emulator.ParseFaults(spec)
		return err
	}
	w.QA.OnStart = w.startQA
	w.QA.OnStop = w.stopQA
	w.View = NewMainView(w.Window, w, w.Settings, NewLogPane(o.Logs, w.Window), w.QA)
	w.Window.SetContent(w.View.Content())
	w.Window.Resize(fyne.NewSize(1280, 800))
	w.View.InstallShortcuts()

	if w.settings.Mode == ModeDemo {
		w.startDemo()
	}
	w.wg.Add(1)
	go w.ticker()
	w.log.Info("window ready", "mode", w.settings.Mode, "connect", o.Connect)
	return w, nil
}

// Close ends the call, a QA run and the demo, and waits for the window's
// goroutines. Run calls it after the window closes.
func (w *Window) Close() error {
	w.cancel()
	w.mu.Lock()
	ctrl, unsub, d, done := w.ctrl, w.unsub, w.demo, w.demoDone
	w.ctrl, w.unsub = nil, nil
	if w.qaCancel != nil {
		w.qaCancel()
	}
	w.mu.Unlock()
	var errs []error
	if ctrl != nil {
		ctrl.RemoteVideo().OnFrame(nil)
		ctrl.LocalVideo().OnFrame(nil)
		unsub()
		if err := ctrl.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close controller: %w", err))
		}
	}
	w.wg.Wait()
	for _, v := range []*VideoView{w.View.Remote, w.View.Local} {
		if err := v.CloseSurface(); err != nil {
			w.log.Debug("close video surface", "err", err)
		}
	}
	if done != nil {
		<-done
		w.mu.Lock()
		d = w.demo
		w.demo = nil
		w.mu.Unlock()
	}
	if d != nil {
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close demo: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Show shows the window in an app that is already running, like Run does
// for a new app. Call it on the Fyne goroutine.
func (w *Window) Show() {
	w.Window.Show()
	w.started()
}

// started runs once the window is on screen: the video surfaces, then
// --connect or the screenshot tour.
func (w *Window) started() {
	w.attachSurfaces()
	switch {
	case w.o.Tour != "":
		w.wg.Add(1)
		go w.tour()
	case w.o.Connect:
		w.Connect()
	}
}

// attachSurfaces makes the remote picture and the preview draw into X11
// child windows instead of through Fyne's OpenGL painter, which without a GPU
// costs far more than the whole call (see ui/native.go); it keeps the OpenGL
// path where that is not possible or Options.GLVideo asks for it. Call it on
// the Fyne goroutine once the window is shown.
func (w *Window) attachSurfaces() {
	if w.o.GLVideo {
		w.log.Info("video drawn by OpenGL (--gl-video)")
		return
	}
	surfaces, err := openSurfaces(w.Window, 2)
	if err != nil {
		w.log.Info("video drawn by OpenGL", "reason", err)
		return
	}
	callShown := func() bool {
		return (w.View.FullScreen() || w.View.Tabs.Selected() == w.View.Tabs.Items[0]) &&
			w.Window.Canvas().Overlays().Top() == nil
	}
	w.View.Remote.UseSurface(surfaces[0], callShown)
	w.View.Local.UseSurface(surfaces[1], callShown)
	w.log.Info("video drawn into X11 child windows")
}

// startDemo starts the emulator and demo master in the background, once.
func (w *Window) startDemo() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.demoDone != nil {
		return
	}
	done := make(chan struct{})
	w.demoDone = done
	go func() {
		defer close(done)
		faults, err := emulator.ParseFaults(w.o.Faults)
		if err != nil {
			w.mu.Lock()
			w.demoErr = fmt.Errorf("demo faults: %w", err)
			w.mu.Unlock()
			return
		}
		d, err := demo.Start(w.ctx, demo.Options{Faults: faults, Logger: w.log.With("component", "demo")})
		w.mu.Lock()
		w.demo, w.demoErr = d, err
		w.mu.Unlock()
		if err != nil {
			w.log.Error("demo did not start", "err", err)
			return
		}
		w.log.Info("demo running", "channel", d.Channel())
	}()
}

// waitDemo waits for the demo to be up.
func (w *Window) waitDemo() (*demo.Demo, error) {
	w.startDemo()
	w.mu.Lock()
	done := w.demoDone
	w.mu.Unlock()
	select {
	case <-done:
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.demo, w.demoErr
}

// config builds the controller configuration for the current settings.
func (w *Window) config(s Settings) (call.Config, error) {
	store := ""
	if root := w.app.Storage().RootURI(); root != nil {
		store = root.Path()
	}
	if s.Mode != ModeDemo {
		cfg := BuildConfig(s, nil, "", store, w.log)
		return cfg, cfg.Validate()
	}
	d, err := w.waitDemo()
	if err != nil {
		return call.Config{}, fmt.Errorf("demo mode: %w", err)
	}
	aws := d.AWSOptions()
	cfg := BuildConfig(s, &aws, d.Channel(), "", w.log)
	faults, _ := emulator.ParseFaults(w.o.Faults)
	cfg.ClientIDs.Cooldown = demo.ClientIDCooldown(faults)
	return cfg, cfg.Validate()
}

// controller returns the controller for the current settings, building a
// new one (and closing the old) when there is none or the settings changed.
func (w *Window) controller() (*call.Controller, error) {
	w.mu.Lock()
	if w.ctrl != nil && !w.dirty {
		c := w.ctrl
		w.mu.Unlock()
		return c, nil
	}
	old, oldUnsub := w.ctrl, w.unsub
	w.ctrl, w.unsub = nil, nil
	s := w.settings
	w.dirty = false
	w.mu.Unlock()
	if old != nil {
		old.RemoteVideo().OnFrame(nil)
		old.LocalVideo().OnFrame(nil)
		oldUnsub()
		if err := old.Close(); err != nil {
			w.log.Warn("closing the previous controller", "err", err)
		}
	}
	cfg, err := w.config(s)
	if err != nil {
		return nil, err
	}
	c, err := call.NewController(cfg)
	if err != nil {
		return nil, fmt.Errorf("new controller: %w", err)
	}
	events, unsub := c.Subscribe()
	w.wg.Add(1)
	go w.pump(events, w.sessionBase())
	c.SetMicMuted(w.muted)
	c.SetCameraOff(w.camOff)
	remote, local := c.RemoteVideo(), c.LocalVideo()
	// Queued before any frame's refresh (fyne.Do runs in order); not waited
	// for, so that a window closing meanwhile cannot block this goroutine.
	fyne.Do(func() {
		w.View.Remote.SetSource(remote)
		w.View.Local.SetSource(local)
	})
	remote.OnFrame(w.View.Remote.FrameReady)
	local.OnFrame(w.View.Local.FrameReady)
	w.mu.Lock()
	if w.ctx.Err() != nil { // the window closed meanwhile
		w.mu.Unlock()
		unsub()
		_ = c.Close()
		return nil, w.ctx.Err()
	}
	w.ctrl, w.unsub = c, unsub
	w.mu.Unlock()
	return c, nil
}

// pump hands controller events to the view until the subscription ends.
// base is added to the session ids (see sessionBase).
func (w *Window) pump(events <-chan call.Event, base uint64) {
	defer w.wg.Done()
	for ev := range events {
		w.event(ev, base)
	}
}

// sessionBase returns an offset for the session ids of a new controller:
// each controller (a settings change, a QA run) counts its sessions from 1,
// and the timeline must not merge them with earlier ones.
func (w *Window) sessionBase() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxSession
}

func (w *Window) event(ev call.Event, base uint64) {
	if ev.SessionID != 0 {
		ev.SessionID += base
	}
	w.mu.Lock()
	w.maxSession = max(w.maxSession, ev.SessionID)
	w.mu.Unlock()
	if ev.Kind == call.EventState {
		w.mu.Lock()
		w.state = ev.State
		w.stateSeq++
		close(w.stateCh)
		w.stateCh = make(chan struct{})
		w.mu.Unlock()
	}
	fyne.Do(func() { w.View.Apply(ev) })
}

func (w *Window) ticker() {
	defer w.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-w.ctx.Done():
			return
		case now := <-t.C:
			fyne.Do(func() { w.View.Tick(now) })
			if n%10 == 0 {
				w.logRender()
			}
		}
	}
}

// RenderStats count the remote video frames of the current session.
type RenderStats struct {
	Decoded uint64  // frames the call decoded
	Late    uint64  // frames replaced by a newer one before the window showed them
	FPS     float64 // frames decoded in the last second
}

// DropPercent is the share of decoded frames the window never showed.
func (r RenderStats) DropPercent() float64 {
	if r.Decoded == 0 {
		return 0
	}
	return 100 * float64(r.Late) / float64(r.Decoded)
}

// RenderStats returns the frame counts of the current session; ok is false
// without a controller.
func (w *Window) RenderStats() (RenderStats, bool) {
	w.mu.Lock()
	c := w.ctrl
	w.mu.Unlock()
	if c == nil {
		return RenderStats{}, false
	}
	st := c.RemoteVideo().Stats()
	return RenderStats{Decoded: st.Decoded, Late: st.Late, FPS: st.FPS}, true
}

// logRender logs how well rendering keeps up with the decoded video.
func (w *Window) logRender() {
	r, ok := w.RenderStats()
	if !ok || r.Decoded == 0 {
		return
	}
	shown, coalesced := w.View.Remote.Counts()
	w.log.Info("render", "decoded", r.Decoded, "late", r.Late, "drop_pct", fmt.Sprintf("%.2f", r.DropPercent()),
		"fps", r.FPS, "shown_total", shown, "coalesced_total", coalesced)
}

// act runs fn with the controller on a goroutine of its own (building the
// controller may wait for the demo), reporting failures in the window.
func (w *Window) act(name string, fn func(*call.Controller)) {
	w.mu.Lock()
	busy := w.qaCancel != nil
	w.mu.Unlock()
	if busy {
		fyne.Do(func() { w.View.SetNotice("A QA run is in progress: stop it first") })
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		c, err := w.controller()
		if err != nil {
			if w.ctx.Err() == nil {
				w.log.Error(name+" failed", "err", err)
				fyne.Do(func() {
					w.View.SetNotice(name + ": " + Redact(err.Error()))
					var fe *call.FieldError
					if errors.As(err, &fe) { // bad settings: show them next to their fields
						w.Settings.ShowErrors(ConfigErrors(err))
						w.View.SelectTab(TabSettings)
					}
				})
			}
			return
		}
		fn(c)
	}()
}

// Connect implements Actions.
func (w *Window) Connect() { w.act("Connect", (*call.Controller).Connect) }

// Reconnect implements Actions.
func (w *Window) Reconnect() { w.act("Reconnect", (*call.Controller).Reconnect) }

// Disconnect implements Actions.
func (w *Window) Disconnect() {
	w.mu.Lock()
	c := w.ctrl
	w.mu.Unlock()
	if c != nil {
		c.Disconnect()
	}
}

// SetMicMuted implements Actions.
func (w *Window) SetMicMuted(m bool) {
	w.mu.Lock()
	w.muted = m
	c := w.ctrl
	w.mu.Unlock()
	if c != nil {
		c.SetMicMuted(m)
	}
}

// SetCameraOff implements Actions.
func (w *Window) SetCameraOff(off bool) {
	w.mu.Lock()
	w.camOff = off
	c := w.ctrl
	w.mu.Unlock()
	if c != nil {
		c.SetCameraOff(off)
	}
}

// State returns the last state the controller reported, the number of
// state events so far, and a channel closed at the next state event.
func (w *Window) State() (call.State, uint64, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state, w.stateSeq, w.stateCh
}

// WaitState waits until the controller reports state s in a state event
// after the first `after` ones, or ctx ends.
func (w *Window) WaitState(ctx context.Context, s call.State, after uint64) error {
	for {
		st, seq, ch := w.State()
		if st == s && seq > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (now %s): %w", s, st, ctx.Err())
		}
	}
}

// applySettings saves new settings; the next Connect uses them.
func (w *Window) applySettings(s Settings) {
	SaveSettings(w.app.Preferences(), s)
	w.mu.Lock()
	w.settings = s
	w.dirty = true
	w.mu.Unlock()
	if s.Mode == ModeDemo {
		w.startDemo()
	}
	w.log.Info("settings saved", "mode", s.Mode, "channel", s.Channel, "region", s.Region)
}

// startQA runs a QA session with its own controller; the interactive call
// is ended first.
func (w *Window) startQA(r QARequest) {
	w.mu.Lock()
	if w.qaCancel != nil {
		w.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.qaCancel = cancel
	old, oldUnsub := w.ctrl, w.unsub
	w.ctrl, w.unsub = nil, nil
	s := w.settings
	w.mu.Unlock()
	w.QA.Begin(r.Cycles)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() {
			w.mu.Lock()
			w.qaCancel = nil
			w.mu.Unlock()
			cancel()
		}()
		if old != nil {
			old.RemoteVideo().OnFrame(nil)
			old.LocalVideo().OnFrame(nil)
			oldUnsub()
			_ = old.Close()
		}
		rep, err := w.runQA(ctx, s, r)
		fyne.Do(func() { w.QA.Finish(rep, err) })
	}()
}

func (w *Window) runQA(ctx context.Context, s Settings, r QARequest) (qa.Report, error) {
	if r.Faults != "" && s.Mode != ModeDemo {
		return qa.Report{}, errors.New("fault profiles need Demo mode")
	}
	cfg, err := w.config(s)
	if err != nil {
		return qa.Report{}, err
	}
	if s.Mode == ModeDemo {
		d, _ := w.waitDemo()
		if err := d.SetFaults(r.Faults); err != nil {
			return qa.Report{}, fmt.Errorf("fault profile: %w", err)
		}
		defer func() {
			if err := d.SetFaults(w.o.Faults); err != nil {
				w.log.Warn("restoring demo faults", "err", err)
			}
		}()
		faults, _ := emulator.ParseFaults(r.Faults)
		cfg.ClientIDs.Cooldown = demo.ClientIDCooldown(faults)
	}
	base := w.sessionBase()
	w.log.Info("qa run", "cycles", r.Cycles, "hold", r.Hold, "gap", r.Gap, "faults", r.Faults)
	rep, err := qa.Run(ctx, qa.Options{
		Cycles: r.Cycles, Hold: r.Hold, Gap: r.Gap, Reconnect: r.Reconnect, Config: cfg,
		Progress: func(c qa.Cycle) { fyne.Do(func() { w.QA.AddCycle(c) }) },
		Event:    func(ev call.Event) { w.event(ev, base) },
	})
	if errors.Is(err, context.Canceled) && w.ctx.Err() == nil {
		err = errors.New("stopped by the user")
	}
	return rep, err
}

func (w *Window) stopQA() {
	w.mu.Lock()
	cancel := w.qaCancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
