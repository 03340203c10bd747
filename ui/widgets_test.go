package ui

import (
	"image"
	"image/color"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/qa"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

func TestStateBadge(t *testing.T) {
	test.NewTempApp(t)
	b := NewStateBadge()
	test.NewTempWindow(t, b)
	if b.Text() != "Idle" {
		t.Fatalf("new badge %q", b.Text())
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		ev   call.Event
		want string
	}{
		{call.Event{Kind: call.EventState, State: call.StateConnecting, Time: t0}, "Connecting"},
		{call.Event{Kind: call.EventState, State: call.StateOffering, Time: t0}, "Offering"},
		{call.Event{Kind: call.EventPhase, Phase: call.PhaseAnswerReceived, Time: t0}, "Offering"}, // not a state event
		{call.Event{Kind: call.EventState, State: call.StateConnectingMedia, Time: t0}, "Connecting media"},
		{call.Event{Kind: call.EventState, State: call.StateLive, Time: t0}, "Live"},
		{call.Event{Kind: call.EventState, State: call.StateRetrying, Retry: 2, Backoff: 2500 * time.Millisecond, Time: t0}, "Retrying 2 in 3s"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassNoAnswer, Time: t0}, "Failed: the camera did not answer"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassAuth, Message: "403", Time: t0}, "Failed: AWS credentials were refused (403)"},
		{call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassControlPlane, Message: strings.Repeat("x", 100), Time: t0},
			"Failed: the channel could not be reached (" + strings.Repeat("x", 39) + "…)"},
		{call.Event{Kind: call.EventState, State: call.StateIdle, Time: t0}, "Idle"},
	}
	for _, s := range steps {
		b.Apply(s.ev)
		if b.Text() != s.want {
			t.Errorf("after %v %v: %q, want %q", s.ev.Kind, s.ev.State, b.Text(), s.want)
		}
		if b.label.Text != b.Text() {
			t.Errorf("label shows %q, Text %q", b.label.Text, b.Text())
		}
	}
	// The retry countdown runs down with Tick and stops at 0.
	b.Apply(call.Event{Kind: call.EventState, State: call.StateRetrying, Retry: 1, Backoff: 3 * time.Second, Time: t0})
	for _, c := range []struct {
		after time.Duration
		want  string
	}{{0, "Retrying 1 in 3s"}, {1100 * time.Millisecond, "Retrying 1 in 2s"}, {2900 * time.Millisecond, "Retrying 1 in 1s"}, {5 * time.Second, "Retrying 1 in 0s"}} {
		b.Tick(t0.Add(c.after))
		if b.Text() != c.want {
			t.Errorf("tick +%v: %q, want %q", c.after, b.Text(), c.want)
		}
	}
	if b.bg.FillColor != stateColor(call.StateRetrying) || stateColor(call.StateRetrying) == stateColor(call.StateLive) {
		t.Errorf("retrying colour %v", b.bg.FillColor)
	}
	b.Apply(call.Event{Kind: call.EventState, State: call.StateWaiting, Backoff: 58 * time.Second, Time: t0})
	if b.Text() != "Waiting 58s" {
		t.Errorf("waiting: %q", b.Text())
	}
}

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

// recorder is an Actions that records the calls the window makes.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }
func (r *recorder) Connect()     { r.add("connect") }
func (r *recorder) Disconnect()  { r.add("disconnect") }
func (r *recorder) Reconnect()   { r.add("reconnect") }
func (r *recorder) SetMicMuted(m bool) {
	r.add(map[bool]string{true: "mute", false: "unmute"}[m])
}
func (r *recorder) SetCameraOff(o bool) {
	r.add(map[bool]string{true: "camera-off", false: "camera-on"}[o])
}
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func TestMainViewButtonsAndShortcuts(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	rec := &recorder{}
	m := NewMainView(w, rec, nil, nil, nil)
	w.SetContent(m.Content())
	w.Resize(fyne.NewSize(1000, 700))
	m.InstallShortcuts()

	// Idle: Connect works, Disconnect is off, Reconnect always works.
	test.Tap(m.Disconnect)
	test.Tap(m.Connect)
	test.Tap(m.Reconnect)
	if got := rec.take(); !slices.Equal(got, []string{"connect", "reconnect"}) {
		t.Errorf("idle taps: %v", got)
	}
	m.Apply(call.Event{Kind: call.EventState, State: call.StateLive, SessionID: 1})
	if m.Badge.Text() != "Live" {
		t.Errorf("badge %q", m.Badge.Text())
	}
	test.Tap(m.Connect)
	test.Tap(m.Disconnect)
	test.Tap(m.Reconnect)
	test.Tap(m.Mute)
	test.Tap(m.CameraOff)
	test.Tap(m.Mute)
	if got := rec.take(); !slices.Equal(got, []string{"disconnect", "reconnect", "mute", "camera-off", "unmute"}) {
		t.Errorf("live taps: %v", got)
	}

	sc := w.Canvas().(fyne.Shortcutable)
	sc.TypedShortcut(ShortcutConnect)
	sc.TypedShortcut(ShortcutReconnect)
	sc.TypedShortcut(ShortcutDisconnect)
	sc.TypedShortcut(ShortcutMute)
	sc.TypedShortcut(ShortcutCameraOff)
	if got := rec.take(); !slices.Equal(got, []string{"connect", "reconnect", "disconnect", "mute", "camera-on"}) {
		t.Errorf("shortcuts: %v", got)
	}
	sc.TypedShortcut(ShortcutFullScreen)
	if !m.FullScreen() || !w.FullScreen() || w.Content() != m.videoArea {
		t.Error("Ctrl+F did not show the video full screen")
	}
	w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if m.FullScreen() || w.FullScreen() || w.Content() != m.Content() {
		t.Error("Escape did not leave full screen")
	}
	m.SelectTab(TabQA)
	if m.Tabs.Selected().Text != TabQA {
		t.Errorf("tab %q", m.Tabs.Selected().Text)
	}

	// Events reach the stats line, notices and the timeline.
	m.Apply(call.Event{Kind: call.EventStats, SessionID: 1, Stats: &call.Stats{Codec: "H264", Width: 1280, Height: 720, FPS: 29.97,
		InboundKbps: 2100, OutboundKbps: 800, RTT: 12 * time.Millisecond, LossPercent: 0.25, CandidateType: "host"}})
	if want := "1280x720 H264 · 30.0 fps · in 2.1 Mbps / out 800 kbps · RTT 12 ms · loss 0.2% · host"; m.Stats.Text != want {
		t.Errorf("stats %q, want %q", m.Stats.Text, want)
	}
	m.Apply(call.Event{Kind: call.EventNotice, Message: "no camera: sending the test pattern"})
	if m.Notice.Text != "no camera: sending the test pattern" {
		t.Errorf("notice %q", m.Notice.Text)
	}
	m.Apply(call.Event{Kind: call.EventState, State: call.StateFailed, Class: call.ClassICEFailed, SessionID: 1})
	if m.Connect.Disabled() || m.Disconnect.Disabled() || m.Reconnect.Disabled() {
		t.Error("after a failure Connect, Disconnect and Reconnect must all work")
	}
}

func phaseEv(id uint64, attempt int, click time.Time, p call.Phase, at time.Duration) call.Event {
	return call.Event{Kind: call.EventPhase, SessionID: id, Attempt: attempt, Phase: p, Elapsed: at, Time: click.Add(at)}
}

func TestTimelineWaterfall(t *testing.T) {
	test.NewTempApp(t)
	tl := NewTimeline()
	test.NewTempWindow(t, tl)
	click := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// Attempt 1 gets no answer; attempt 2 (after a backoff) goes live.
	tl.Apply(call.Event{Kind: call.EventState, State: call.StateConnecting, SessionID: 7, Attempt: 1, Time: click.Add(2 * ms)})
	tl.Apply(phaseEv(7, 1, click, call.PhaseControlPlane, 120*ms))
	tl.Apply(phaseEv(7, 1, click, call.PhaseSignalingOpen, 180*ms))
	tl.Apply(phaseEv(7, 1, click, call.PhaseOfferSent, 200*ms))
	tl.Apply(call.Event{Kind: call.EventError, SessionID: 7, Attempt: 1, Class: call.ClassNoAnswer, Message: "no answer in 5s", Time: click.Add(5200 * ms)})
	tl.Apply(call.Event{Kind: call.EventStats, SessionID: 7})
	tl.Apply(phaseEv(7, 1, click, call.PhaseTeardown, 30*ms))
	tl.Apply(call.Event{Kind: call.EventState, State: call.StateConnecting, SessionID: 8, Attempt: 2, ClientID: "viewer-2", Time: click.Add(5500 * ms)})
	for i, p := range []call.Phase{call.PhaseControlPlane, call.PhaseSignalingOpen, call.PhaseOfferSent, call.PhaseAnswerReceived, call.PhaseICEConnected, call.PhaseFirstRTP, call.PhaseFirstFrame} {
		tl.Apply(phaseEv(8, 2, click, p, 5500*ms+time.Duration(i+1)*50*ms))
	}
	ss := tl.Sessions()
	if len(ss) != 2 {
		t.Fatalf("%d sessions", len(ss))
	}
	a, b := ss[0], ss[1]
	if !a.Failed || a.Class != call.ClassNoAnswer || a.FailPhase != call.PhaseAnswerReceived || a.FailedAt != 5200*ms || !a.TornDown || a.Teardown != 30*ms {
		t.Errorf("attempt 1: %+v", a)
	}
	if len(a.Phases) != 3 || a.Phases[0].Start != 2*ms || a.Phases[0].End != 120*ms || a.Phases[2] != (PhaseTiming{call.PhaseOfferSent, 180 * ms, 200 * ms}) {
		t.Errorf("attempt 1 phases: %+v", a.Phases)
	}
	if b.Failed || !b.Live || b.Attempt != 2 || b.ClientID != "viewer-2" || b.Start != 5500*ms || len(b.Phases) != 7 || b.Duration() != 5850*ms {
		t.Errorf("attempt 2: %+v", b)
	}
	if b.Phases[0].Start != 5500*ms || b.Phases[6].Start != 5800*ms {
		t.Errorf("attempt 2 phases: %+v", b.Phases)
	}
	// Rendered newest first: the header of session 8, then its 7 bars.
	text := markupText(tl)
	if i, j := strings.Index(text, "Session 8"), strings.Index(text, "Session 7"); i < 0 || j < 0 || i > j {
		t.Errorf("order of sessions in:\n%s", text)
	}
	for _, s := range []string{"first frame at 5850 ms", "Answer received failed", "failed after 5200 ms: the camera did not answer", "teardown 30 ms"} {
		if !strings.Contains(text, s) {
			t.Errorf("missing %q in:\n%s", s, text)
		}
	}
	// Only the last MaxTimelineSessions are kept.
	for id := uint64(100); id < 110; id++ {
		tl.Apply(phaseEv(id, 1, click, call.PhaseControlPlane, 10*ms))
	}
	if ss := tl.Sessions(); len(ss) != MaxTimelineSessions || ss[0].ID != 110-MaxTimelineSessions {
		t.Errorf("kept %d sessions from %d", len(ss), ss[0].ID)
	}
}

// markupText returns the rendered markup of o, which holds every label's text.
func markupText(o fyne.CanvasObject) string { return test.RenderObjectToMarkup(o) }

func cycle(n int, ok, recovered bool, ttff time.Duration) qa.Cycle {
	c := qa.Cycle{N: n, OK: ok, Recovered: recovered, Attempts: 1, Phases: map[call.Phase]time.Duration{}, Goroutines: 40 + n, FDs: 20, RSSKB: 50000}
	if ok {
		c.Phases[call.PhaseFirstFrame] = ttff
		c.Phases[call.PhaseTeardown] = 40 * time.Millisecond
	} else {
		c.Failures = []call.Class{call.ClassNoAnswer}
		c.Err = "no first frame"
	}
	if recovered {
		c.Attempts = 2
		c.Failures = []call.Class{call.ClassICEFailed}
	}
	return c
}

func TestQAView(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	v := NewQAView(w)
	w.SetContent(v)
	w.Resize(fyne.NewSize(1200, 800))
	var started []QARequest
	stops := 0
	v.OnStart = func(r QARequest) { started = append(started, r) }
	v.OnStop = func() { stops++ }
	v.CheckFaults = func(s string) error {
		if s != "drop-offers=1" {
			return errFault
		}
		return nil
	}

	v.Cycles.SetText("0")
	v.Hold.SetText("forever")
	v.Faults.SetText("explode")
	test.Tap(v.Start)
	if len(started) != 0 || !strings.Contains(v.FormError.Text, "cycles") || !strings.Contains(v.FormError.Text, "hold") || !strings.Contains(v.FormError.Text, "fault profile") {
		t.Fatalf("bad form started %v; error %q", started, v.FormError.Text)
	}
	v.Cycles.SetText("4")
	v.Hold.SetText("1s")
	v.Gap.SetText("0")
	v.Faults.SetText("drop-offers=1")
	test.Tap(v.Reconnect)
	test.Tap(v.Start)
	if len(started) != 1 || started[0] != (QARequest{Cycles: 4, Hold: time.Second, Faults: "drop-offers=1", Reconnect: true}) || v.FormError.Text != "" {
		t.Fatalf("started %+v, error %q", started, v.FormError.Text)
	}

	v.Begin(4)
	if !v.Start.Disabled() || v.Stop.Disabled() || !v.ExportJSON.Disabled() {
		t.Error("buttons while running")
	}
	cs := []qa.Cycle{cycle(1, true, false, 300*time.Millisecond), cycle(2, true, true, 900*time.Millisecond), cycle(3, false, false, 0)}
	for _, c := range cs {
		v.AddCycle(c)
	}
	if v.Progress.Value != 3 || v.Progress.Max != 4 {
		t.Errorf("progress %v/%v", v.Progress.Value, v.Progress.Max)
	}
	if !strings.HasPrefix(v.Summary.Text, "3/4 cycles · 2 ok (1 after a retry) · 1 failed") {
		t.Errorf("summary %q", v.Summary.Text)
	}
	if v.Resources.Text != "Since cycle 1: goroutines +2 · open files +0 · RSS +0.0 MB" {
		t.Errorf("resources %q", v.Resources.Text)
	}
	if got := []string{QACell(cs[0], 1), QACell(cs[1], 1), QACell(cs[2], 1), QACell(cs[1], 3), QACell(cs[2], 3), QACell(cs[1], 5)}; !slices.Equal(got,
		[]string{"ok", "recovered", "failed", "900 ms", "–", "ice_failed"}) {
		t.Errorf("cells %v", got)
	}
	test.Tap(v.Stop)
	if stops != 1 {
		t.Errorf("stop taps %d", stops)
	}

	// The chart: bar heights follow TTFF, the failed cycle is a full red bar.
	img := v.drawChart(300, 100).(*image.RGBA)
	if got := img.RGBAAt(50, 99); got != chartOK {
		t.Errorf("cycle 1 bar bottom %v", got)
	}
	if got := img.RGBAAt(50, 100-100*300/900+2); got != chartOK {
		t.Errorf("cycle 1 bar top %v", got)
	}
	if got := img.RGBAAt(50, 100-100*300/900-3); got == chartOK {
		t.Error("cycle 1 bar too high")
	}
	if got := img.RGBAAt(150, 1); got != chartRetry {
		t.Errorf("cycle 2 (recovered, the tallest) %v", got)
	}
	if got := img.RGBAAt(250, 1); got != chartFail {
		t.Errorf("cycle 3 (failed) %v", got)
	}
	h := Histogram([]time.Duration{300 * time.Millisecond, 900 * time.Millisecond}, 0, 900*time.Millisecond, 3)
	if !slices.Equal(h, []int{0, 1, 1}) {
		t.Errorf("histogram %v", h)
	}
	h = Histogram([]time.Duration{250, 260, 299, 300, 100, 1000}, 250, 300, 5)
	if !slices.Equal(h, []int{2, 1, 0, 0, 3}) { // 100 clamps into the first bin, 300 and 1000 into the last
		t.Errorf("histogram with an offset %v", h)
	}
	if lo, hi, counts := v.histData(); lo != 300*time.Millisecond || hi != 900*time.Millisecond || len(counts) != histogramBins || counts[0] != 1 || counts[histogramBins-1] != 1 {
		t.Errorf("histogram data %v-%v %v", lo, hi, counts)
	}
	if v.histAxis.Text != "300 ms – 900 ms in 20 bins · tallest 1" {
		t.Errorf("histogram axis %q", v.histAxis.Text)
	}
	himg := DrawHistogram([]int{0, 2, 1}, 30, 10)
	if himg.RGBAAt(5, 9) != chartBG || himg.RGBAAt(15, 0) != chartBucket || himg.RGBAAt(25, 4) != chartBG || himg.RGBAAt(25, 6) != chartBucket {
		t.Error("histogram bars")
	}

	rep := qa.Report{Cycles: 3, OK: 2, Failed: 1, Recovered: 1, Failures: map[call.Class]int{call.ClassNoAnswer: 1, call.ClassICEFailed: 1},
		Phases:    map[call.Phase]qa.Percentiles{call.PhaseFirstFrame: {N: 2, P50: 300 * time.Millisecond, P95: 900 * time.Millisecond, Max: 900 * time.Millisecond}},
		Resources: qa.Resources{GoroutinesDelta: 1, GoroutinesMaxDelta: 3, FDsDelta: 0, FDsMaxDelta: 2, RSSBaselineKB: 204800, RSSEndKB: 205312, RSSDeltaKB: 512}, Results: cs}
	v.Finish(rep, nil)
	if v.Start.Disabled() || !v.Stop.Disabled() || v.ExportJSON.Disabled() || v.ExportCSV.Disabled() || v.Report() == nil {
		t.Error("buttons after the run")
	}
	wantSummary := "3 cycles · 2 ok · 1 recovered · 1 failed · failed attempts: ice_failed 1, no_answer 1\nFirst frame: p50 300 ms · p95 900 ms · max 900 ms"
	if v.Summary.Text != wantSummary {
		t.Errorf("summary %q", v.Summary.Text)
	}
	if want := "After teardown, against cycle 1: goroutines +1 (max +3) · open files +0 (max +2) · RSS 200.0 → 200.5 MB (+0.5 MB)"; v.Resources.Text != want {
		t.Errorf("resources %q", v.Resources.Text)
	}
	// Long texts wrap or truncate: the tab never forces the window wider than 1280.
	if min := v.MinSize(); min.Width > 1200 {
		t.Errorf("QA tab needs %v", min)
	}
}

type faultErr struct{}

func (faultErr) Error() string { return "unknown fault" }

var errFault = faultErr{}

// snapSource is a Source made of a snapshot function, for tests.
type snapSource func(dst *image.RGBA) (*image.RGBA, bool)

func (f snapSource) Snapshot(dst *image.RGBA) (*image.RGBA, sink.FrameInfo, bool) {
	img, ok := f(dst)
	return img, sink.FrameInfo{}, ok
}

func (f snapSource) Peek(fn func(image.Image, sink.FrameInfo)) bool {
	img, ok := f(nil)
	if ok {
		fn(img, sink.FrameInfo{Width: img.Rect.Dx(), Height: img.Rect.Dy()})
	}
	return ok
}

func TestVideoViewCoalescesFrames(t *testing.T) {
	test.NewTempApp(t)
	v := NewVideoView("waiting")
	test.NewTempWindow(t, v)
	src := image.NewRGBA(image.Rect(0, 0, 64, 36))
	frames := 0
	var bufs []*image.RGBA
	v.SetSource(snapSource(func(dst *image.RGBA) (*image.RGBA, bool) {
		if frames == 0 {
			return nil, false
		}
		if dst == nil || dst.Bounds() != src.Bounds() {
			dst = image.NewRGBA(src.Bounds())
		}
		copy(dst.Pix, src.Pix)
		bufs = append(bufs, dst)
		return dst, true
	}))
	v.FrameReady() // no frame yet: the placeholder stays
	if v.Image() != nil || !v.placeholder.Visible() {
		t.Fatal("showed a picture without a frame")
	}
	frames = 1
	src.SetRGBA(1, 1, color.RGBA{R: 255, A: 255})
	v.FrameReady()
	src.SetRGBA(1, 1, color.RGBA{G: 255, A: 255})
	v.FrameReady()
	if shown, _ := v.Counts(); shown != 2 {
		t.Fatalf("shown %d", shown)
	}
	if len(bufs) != 2 || bufs[0] != bufs[1] {
		t.Error("the frame buffer was not reused")
	}
	if got := v.Image().(*image.RGBA).RGBAAt(1, 1); got.G != 255 || v.placeholder.Visible() {
		t.Errorf("pixel %v, placeholder %v", got, v.placeholder.Visible())
	}
	// While a refresh is pending, more frames fold into it.
	v.pending.Store(true)
	v.FrameReady()
	v.FrameReady()
	if shown, coalesced := v.Counts(); shown != 2 || coalesced != 2 {
		t.Errorf("shown %d coalesced %d", shown, coalesced)
	}
	v.ShowLatest()
	if shown, _ := v.Counts(); shown != 3 || v.pending.Load() {
		t.Errorf("pending refresh not run: shown %d", shown)
	}
	v.SetSource(nil)
	if v.Image() != nil || !v.placeholder.Visible() {
		t.Error("detaching did not clear the picture")
	}
}

func TestLogPaneFiltersCopiesAndRedacts(t *testing.T) {
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	buf := NewLogBuffer(100, nil)
	p := NewLogPane(buf, w)
	w.SetContent(p)
	log := slog.New(buf)
	log.Debug("ice candidate", "type", "host")
	log.Info("signaling open", "url", "wss://h/?X-Amz-Signature="+testSignature+"&X-Amz-ClientId=v1")
	log.Warn("no answer yet")
	log.Error("attempt failed", "class", "no_answer")
	if got := p.Lines(); len(got) != 3 || !strings.Contains(got[0], "signaling open") {
		t.Fatalf("info lines %q", got)
	}
	if strings.Contains(p.Text(), testSignature) || !strings.Contains(p.Text(), "X-Amz-Signature="+Redacted) {
		t.Errorf("pane text not redacted: %s", p.Text())
	}
	p.Level.SetSelected("Warn")
	if got := p.Lines(); len(got) != 2 || !strings.Contains(got[1], "attempt failed") {
		t.Errorf("warn lines %q", got)
	}
	test.Tap(p.Copy)
	if got := a.Clipboard().Content(); got != p.Text() || !strings.HasSuffix(got, "class=no_answer\n") {
		t.Errorf("clipboard %q", got)
	}
	p.Level.SetSelected("Debug")
	if got := p.Lines(); len(got) != 4 || !strings.Contains(got[0], "ice candidate") {
		t.Errorf("debug lines %q", got)
	}
	log.Info("later")
	if got := p.Lines(); len(got) != 5 {
		t.Errorf("a new record did not reach the pane: %q", got)
	}
}

func TestVideoViewPacesPreview(t *testing.T) {
	test.NewTempApp(t)
	remote, local := NewVideoView(""), NewVideoView("")
	test.NewTempWindow(t, container.NewStack(remote, local))
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	local.now = func() time.Time { return now }
	local.SetPace(time.Hour)
	remote.OnShown(local.ShowIfDue)
	frame := image.NewRGBA(image.Rect(0, 0, 8, 8))
	src := snapSource(func(*image.RGBA) (*image.RGBA, bool) { return frame, true })
	remote.SetSource(src)
	local.SetSource(src)

	local.FrameReady() // nothing shown yet: due at once
	if shown, _ := local.Counts(); shown != 1 {
		t.Fatalf("first preview frame: shown %d", shown)
	}
	local.FrameReady() // within the pace: waits
	remote.FrameReady()
	if shown, _ := local.Counts(); shown != 1 || !local.pending.Load() {
		t.Fatalf("preview ran ahead of its pace: shown %d", shown)
	}
	now = now.Add(50 * time.Minute) // 4/5 of the pace: rides along with the remote picture
	remote.FrameReady()
	if shown, _ := local.Counts(); shown != 2 || local.pending.Load() {
		t.Fatalf("due preview frame not shown with the remote one: shown %d", shown)
	}
	if rs, _ := remote.Counts(); rs != 2 {
		t.Errorf("remote shown %d", rs)
	}

	// Without a remote picture to ride along, the frame comes on its own.
	alone := NewVideoView("")
	test.NewTempWindow(t, alone)
	alone.SetPace(time.Millisecond)
	alone.SetSource(src)
	alone.FrameReady()
	alone.FrameReady()
	deadline := time.Now().Add(10 * time.Second)
	for shown, _ := alone.Counts(); shown < 2; shown, _ = alone.Counts() {
		if time.Now().After(deadline) {
			t.Fatal("paced frame never shown on its own")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFitRect(t *testing.T) {
	for _, tc := range []struct {
		pos   fyne.Position
		size  fyne.Size
		scale float32
		w, h  int
		want  image.Rectangle
	}{
		// The window's video area: as high as it is, centred across.
		{fyne.NewPos(4, 92), fyne.NewSize(1272, 667.7), 1, 1280, 720, image.Rect(46, 92, 1234, 760)},
		// Wider than the picture's aspect allows: full width, centred down.
		{fyne.NewPos(0, 0), fyne.NewSize(640, 480), 1, 1280, 720, image.Rect(0, 60, 640, 420)},
		// HiDPI: Fyne units times the scale.
		{fyne.NewPos(10, 10), fyne.NewSize(320, 180), 2, 640, 360, image.Rect(20, 20, 660, 380)},
		{fyne.NewPos(0, 0), fyne.NewSize(0, 100), 1, 640, 360, image.Rectangle{}},
		{fyne.NewPos(0, 0), fyne.NewSize(100, 100), 1, 0, 360, image.Rectangle{}},
	} {
		if got := fitRect(tc.pos, tc.size, tc.scale, tc.w, tc.h); got != tc.want {
			t.Errorf("fitRect(%v, %v, %v, %dx%d) = %v, want %v", tc.pos, tc.size, tc.scale, tc.w, tc.h, got, tc.want)
		}
	}
}
