package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/kvsviewer/kvsviewer/assets"
	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// AppID is the app's unique id (as in app/FyneApp.toml); Fyne keys the
// preferences with it.
const AppID = "io.github.kvsviewer"

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
//
// The window composes three hosts, each with its own file and lock: the
// interactive call (callhost.go), the demo (demohost.go) and a QA run
// (qarun.go).
type Window struct {
	Window   fyne.Window
	View     *MainView
	Settings *SettingsForm
	QA       *QAView
	Logs     *LogBuffer

	app    fyne.App
	log    *slog.Logger
	ctx    context.Context // ends when the window closes
	cancel context.CancelFunc
	o      Options
	wg     sync.WaitGroup // every goroutine the window starts

	logPane *LogPane

	calls callHost
	demo  demoHost
	qaRun qaHost
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
		Window: a.NewWindow("KVS Viewer"),
		Logs:   o.Logs,
		app:    a,
		log:    logger,
		ctx:    ctx,
		cancel: cancel,
		o:      o,
		calls:  callHost{},
	}
	settings := o.startSettings(LoadSettings(a.Preferences()))
	w.calls.settings = settings

	cams, mics := DeviceChoices(capture.ListDevices())
	var profiles []string
	if cfgFile, credFile := SharedConfigFiles(); cfgFile != "" || credFile != "" {
		profiles = ListProfiles(cfgFile, credFile)
	}
	w.Settings = NewSettingsForm(settings, profiles, cams, mics)
	if outs, err := audioout.ListDevices(); err == nil {
		w.Settings.SetSpeakers(SpeakerChoices(outs))
		w.Settings.selectSpeaker(settings.Speaker)
	} else {
		w.log.Info("no audio outputs to offer", "err", err)
	}
	w.Settings.OnApply = w.applySettings
	w.QA = NewQAView(w.Window)
	w.QA.CheckFaults = demo.CheckFaults
	w.QA.OnStart = w.startQA
	w.QA.OnStop = w.stopQA
	w.logPane = NewLogPane(o.Logs, w.Window)
	w.View = NewMainView(w.Window, w, w.Settings, w.logPane, w.QA)
	w.Window.SetContent(w.View.Content())
	w.Window.Resize(fyne.NewSize(1280, 800))
	w.View.InstallShortcuts()

	if settings.Mode == call.ModeDemo {
		w.startDemo()
	}
	w.wg.Add(2)
	go w.ticker()
	go w.micMeter()
	w.log.Info("window ready", "mode", settings.Mode, "connect", o.Connect)
	return w, nil
}

// Close ends the call, a QA run and the demo, and waits for the window's
// goroutines. Run calls it after the window closes.
func (w *Window) Close() error {
	w.logPane.Detach()
	w.cancel()
	w.stopQA()
	var errs []error
	if err := release(w.calls.take()); err != nil {
		errs = append(errs, fmt.Errorf("close controller: %w", err))
	}
	w.wg.Wait()
	for _, v := range []*VideoView{w.View.Remote, w.View.Local} {
		if err := v.CloseSurface(); err != nil {
			w.log.Debug("close video surface", "err", err)
		}
	}
	if err := w.closeDemo(); err != nil {
		errs = append(errs, fmt.Errorf("close demo: %w", err))
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

// ticker updates the view's clocks every second and logs the render
// figures every ten.
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
	c := w.calls.current()
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
