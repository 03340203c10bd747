package call_test

import (
	"context"
	"image"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, ignoredGoroutines()...)
}

// ignoredGoroutines are process-wide goroutines that outlive any call by design.
func ignoredGoroutines() []goleak.Option {
	return []goleak.Option{
		// net/http keeps idle keep-alive connections of the AWS SDK client.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		// A microphone that vanished mid-call (TestMicrophoneVanishes) is abandoned, not
		// closed (capture's micGuard): its driver's read never returns.
		goleak.IgnoreTopFunction("github.com/kvsviewer/kvsviewer/media/capture/internal/micdriver.(*microphone).AudioRecord.func3"),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("CALL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// bugCatcher is a slog handler that keeps the controller's "bug:" records
// (an illegal state transition, for one): every rig fails its test on them.
type bugCatcher struct {
	slog.Handler
	mu   *sync.Mutex
	bugs *[]string
}

func newBugCatcher(next slog.Handler) bugCatcher {
	return bugCatcher{Handler: next, mu: &sync.Mutex{}, bugs: &[]string{}}
}

func (b bugCatcher) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || b.Handler.Enabled(ctx, l)
}

func (b bugCatcher) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "bug:") {
		b.mu.Lock()
		*b.bugs = append(*b.bugs, r.Message)
		b.mu.Unlock()
	}
	if !b.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return b.Handler.Handle(ctx, r)
}

func (b bugCatcher) WithAttrs(as []slog.Attr) slog.Handler {
	b.Handler = b.Handler.WithAttrs(as)
	return b
}

func (b bugCatcher) WithGroup(name string) slog.Handler {
	b.Handler = b.Handler.WithGroup(name)
	return b
}

func (b bugCatcher) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(*b.bugs)
}

// rig is a demo (emulator + master) and a controller pointed at it.
type rig struct {
	t      testing.TB
	demo   *demo.Demo
	ctrl   *call.Controller
	events <-chan call.Event
	log    []call.Event
	bugs   bugCatcher
}

func newRig(t *testing.T, faults emulator.Faults, tune func(*call.Config)) *rig {
	t.Helper()
	return newRigTB(t, faults, tune, 320, 240)
}

func newRigTB(t testing.TB, faults emulator.Faults, tune func(*call.Config), w, h int) *rig {
	t.Helper()
	return newRigWith(t, demo.Options{Faults: faults, Width: w, Height: h}, tune)
}

// newRigWith is newRig with the demo's options (320x240@30 unless set).
func newRigWith(t testing.TB, o demo.Options, tune func(*call.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	bugs := newBugCatcher(testLogger().Handler())
	log := slog.New(bugs)
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	o.FPS, o.Logger = 30, log
	faults := o.Faults
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	cfg := call.Config{
		AWS:           d.AWSOptions(),
		Channel:       d.Channel(),
		ClientIDs:     call.ClientIDConfig{Cooldown: demo.ClientIDCooldown(faults)},
		AnswerTimeout: time.Second,
		BackoffMin:    50 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		Media:         capture.Options{Video: "test", Audio: "tone", Width: 320, Height: 240, FPS: 30, PatternStyle: pattern.StyleViewer},
		Logger:        log,
	}
	if tune != nil {
		tune(&cfg)
	}
	ctrl, err := call.NewController(cfg)
	if err != nil {
		_ = d.Close()
		t.Fatalf("controller: %v", err)
	}
	events, _ := ctrl.Subscribe()
	r := &rig{t: t, demo: d, ctrl: ctrl, events: events, bugs: bugs}
	t.Cleanup(r.close)
	return r
}

func (r *rig) close() {
	if err := r.ctrl.Close(); err != nil {
		r.t.Errorf("controller close: %v", err)
	}
	for _, b := range r.bugs.seen() {
		r.t.Errorf("the controller logged a bug: %s", b)
	}
	if err := r.demo.Close(); err != nil {
		r.t.Errorf("demo close: %v", err)
	}
}

// waitFor returns the first event matching ok, failing the test after limit.
func (r *rig) waitFor(limit time.Duration, what string, ok func(call.Event) bool) call.Event {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	e, err := call.Await(ctx, r.events, ok, func(e call.Event) { r.log = append(r.log, e) })
	if err != nil {
		r.t.Fatalf("no %s within %s (%v); events: %s", what, limit, err, summary(r.log))
	}
	return e
}

// seenOrWait returns the first event matching ok among those already read,
// or waits for one like waitFor.
func (r *rig) seenOrWait(limit time.Duration, what string, ok func(call.Event) bool) call.Event {
	r.t.Helper()
	for _, e := range r.log {
		if ok(e) {
			return e
		}
	}
	return r.waitFor(limit, what, ok)
}

func (r *rig) waitLive(limit time.Duration) call.Event {
	r.t.Helper()
	return r.waitLiveBegunAfter(limit, time.Time{})
}

// waitLiveBegunAfter waits for the first frame of a session whose first
// event (among those this wait reads) came after since.
func (r *rig) waitLiveBegunAfter(limit time.Duration, since time.Time) call.Event {
	r.t.Helper()
	begun := map[uint64]time.Time{}
	return r.waitFor(limit, "first frame", func(e call.Event) bool {
		if _, seen := begun[e.SessionID]; !seen {
			begun[e.SessionID] = e.Time
		}
		if e.Kind == call.EventState && e.State == call.StateFailed {
			r.t.Fatalf("call failed: %s: %s", e.Class, e.Message)
		}
		return e.Kind == call.EventPhase && e.Phase == call.PhaseFirstFrame && begun[e.SessionID].After(since)
	})
}

func (r *rig) waitIdle() {
	r.t.Helper()
	r.waitFor(10*time.Second, "idle", call.IsState(call.StateIdle))
}

func (r *rig) errorsSeen() []call.Class {
	var out []call.Class
	for _, e := range r.log {
		if e.Kind == call.EventError {
			out = append(out, e.Class)
		}
	}
	return out
}

func summary(evs []call.Event) string {
	s := ""
	for _, e := range evs {
		switch e.Kind {
		case call.EventPhase:
			s += string(e.Phase) + " "
		case call.EventState:
			s += "[" + e.State.String() + "] "
		case call.EventError:
			s += "ERR(" + string(e.Class) + ": " + e.Message + ") "
		}
	}
	return s
}

// assertVideoFlows checks the master's pattern really plays: frames decode and
// the pattern's frame counter advances; and that the master decodes ours.
func (r *rig) assertVideoFlows(clientID string) {
	r.t.Helper()
	remote := r.ctrl.RemoteVideo()
	first := readCounter(r.t, remote)
	time.Sleep(500 * time.Millisecond)
	second := readCounter(r.t, remote)
	if second <= first {
		r.t.Fatalf("the master's frame counter does not advance: %d then %d", first, second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.demo.Master.WaitViewerFrames(ctx, clientID, 10); err != nil {
		r.t.Fatalf("master did not decode the viewer's video: %v", err)
	}
}

func readCounter(t testing.TB, l interface {
	Snapshot(dst *image.RGBA) (*image.RGBA, sink.FrameInfo, bool)
}) uint32 {
	t.Helper()
	img, _, ok := l.Snapshot(nil)
	if !ok {
		t.Fatal("no remote frame")
	}
	n, ok := pattern.ReadCounter(img)
	if !ok {
		t.Fatal("remote frame carries no readable pattern counter")
	}
	return n
}

func TestConnectLiveDisconnect(t *testing.T) {
	r := newRig(t, emulator.Faults{}, nil)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	if ff.Frame == nil || ff.Frame.Width != 320 || ff.Frame.Height != 240 {
		t.Fatalf("first frame %+v, want 320x240", ff.Frame)
	}
	for _, p := range []call.Phase{call.PhaseControlPlane, call.PhaseSignalingOpen, call.PhaseOfferSent, call.PhaseAnswerReceived, call.PhaseICEConnected, call.PhaseFirstRTP} {
		seen := false
		for _, e := range r.log {
			seen = seen || (e.Kind == call.EventPhase && e.Phase == p)
		}
		if !seen {
			t.Errorf("phase %s not reported before the first frame", p)
		}
	}
	r.assertVideoFlows(ff.ClientID)
	st := r.waitFor(5*time.Second, "stats", func(e call.Event) bool { return e.Kind == call.EventStats && e.Stats.FramesDecoded > 0 }).Stats
	if st.InboundKbps <= 0 || st.OutboundKbps <= 0 || st.Width != 320 || st.Codec != "H264" || st.AudioPackets == 0 || st.CandidateType != "host" {
		t.Errorf("live stats %+v", *st)
	}
	prev, _, ok := r.ctrl.LocalVideo().Snapshot(nil)
	if !ok {
		t.Fatal("no local preview frame")
	}
	if n, ok := pattern.ReadCounter(prev); !ok || n == 0 {
		t.Errorf("the local preview does not show our own pattern (counter %d, ok %v)", n, ok)
	}
	r.ctrl.Disconnect()
	r.waitIdle()
	if n := r.ctrl.RemoteVideo().Stats().Decoded; n != 0 {
		t.Errorf("after teardown the remote sink still counts %d frames of the old call", n)
	}
	g0, f0 := settledCounts()

	// A second call and teardown must leave nothing behind.
	r.ctrl.Connect()
	ff = r.waitLive(20 * time.Second)
	r.assertVideoFlows(ff.ClientID)
	r.ctrl.Disconnect()
	r.waitIdle()
	g1, f1 := settledCounts()
	if g1 > g0 || f1 > f0 {
		t.Errorf("after the second teardown: goroutines %d -> %d, open files %d -> %d", g0, g1, f0, f1)
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Errorf("unexpected failures: %v", errs)
	}
}

// settledCounts waits for goroutines and open files to stop changing (the
// master side closes its end a moment after ours) and returns them.
func settledCounts() (int, int) {
	g, f := runtime.NumGoroutine(), openFiles()
	for i := 0; i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		g2, f2 := runtime.NumGoroutine(), openFiles()
		if g2 == g && f2 == f {
			break
		}
		g, f = g2, f2
	}
	return g, f
}

func openFiles() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func TestReconnectStormEndsInOneLiveCall(t *testing.T) {
	r := newRig(t, emulator.Faults{}, nil)
	r.ctrl.Connect()
	r.waitLive(20 * time.Second)
	// A session begun during the storm can reach its first frame between two
	// clicks (a reconnect takes about 40 ms) and be closed by the next one:
	// the call that must stay alone is the first to go live among those begun
	// from the last click on.
	var lastClick time.Time
	for i := 0; i < 20; i++ {
		time.Sleep(50 * time.Millisecond)
		lastClick = time.Now()
		r.ctrl.Reconnect()
	}
	ff := r.waitLiveBegunAfter(30*time.Second, lastClick)
	// Nothing else may start after the live call: no further session, no failure.
	time.Sleep(time.Second)
	for {
		select {
		case e := <-r.events:
			r.log = append(r.log, e)
			if e.SessionID > ff.SessionID || (e.Kind == call.EventState && e.State != call.StateLive) {
				t.Fatalf("after the storm the live call did not stay alone: %+v", e)
			}
			continue
		default:
		}
		break
	}
	if st := r.ctrl.State(); st != call.StateLive {
		t.Fatalf("state %s, want Live", st)
	}
	r.assertVideoFlows(ff.ClientID)
	if n := countConnectedViewers(r); n != 1 {
		t.Fatalf("master has %d connected viewers, want 1", n)
	}
}

func countConnectedViewers(r *rig) int {
	n := 0
	for _, v := range r.demo.Master.Viewers() {
		if v.Connected {
			n++
		}
	}
	return n
}

// TestFaultsRecover runs the call against every emulator fault that the
// controller must survive and checks it reaches a first frame within the
// watchdog and backoff, with the failure classed as expected. Faults that hit
// every connection are cleared after the first failure, so the retry can work.
func TestFaultsRecover(t *testing.T) {
	cases := []struct {
		name      string
		faults    emulator.Faults
		tune      func(*call.Config)
		want      call.Class // "" means: no failed attempt expected
		clearOnce bool
	}{
		{name: "drop next offer", faults: emulator.Faults{DropNextOffers: 1}, want: call.ClassNoAnswer},
		{name: "drop next two offers", faults: emulator.Faults{DropNextOffers: 2}, want: call.ClassNoAnswer},
		{name: "answer later than the watchdog", faults: emulator.Faults{AnswerDelay: 1500 * time.Millisecond}, want: call.ClassNoAnswer, clearOnce: true},
		{name: "same ClientId within the cooldown, pool policy", faults: emulator.Faults{ReuseCooldown: 3 * time.Second}},
		{name: "stale viewer sessions", faults: emulator.Faults{StaleViewerHold: 5 * time.Second}},
		{name: "malformed frames", faults: emulator.Faults{MalformedEvery: 2}},
		{name: "socket dropped before live", faults: emulator.Faults{DropSocketAfter: time.Millisecond}, want: call.ClassSignalingClosed, clearOnce: true},
		{name: "GO_AWAY before live", faults: emulator.Faults{GoAwayAfter: time.Millisecond}, want: call.ClassGoAway, clearOnce: true},
		{name: "RECONNECT_ICE_SERVER before live", faults: emulator.Faults{ReconnectICEAfter: time.Millisecond}, want: call.ClassReconnectICEServer, clearOnce: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.faults, tc.tune)
			start := time.Now()
			r.ctrl.Connect()
			if tc.clearOnce {
				r.waitFor(10*time.Second, "a failed attempt", func(e call.Event) bool { return e.Kind == call.EventError })
				r.demo.Emulator.SetFaults(emulator.Faults{})
			}
			ff := r.waitLive(30 * time.Second)
			errs := r.errorsSeen()
			t.Logf("first frame after %s, failed attempts %v", time.Since(start).Round(time.Millisecond), errs)
			if tc.want == "" && len(errs) > 0 {
				t.Fatalf("failed attempts %v, want none", errs)
			}
			if tc.want != "" {
				if len(errs) == 0 {
					t.Fatalf("no failed attempt, want %s", tc.want)
				}
				for _, c := range errs {
					if c != tc.want {
						t.Fatalf("failure classes %v, want only %s", errs, tc.want)
					}
				}
			}
			r.assertVideoFlows(ff.ClientID)
		})
	}
}

// TestSlowMasterIsReached: a master whose answer takes longer than the
// answer timeout is still reached, because the timeout doubles after each
// unanswered offer (and says so); the next call starts with the time the
// master needed and connects without a failed attempt.
func TestSlowMasterIsReached(t *testing.T) {
	r := newRig(t, emulator.Faults{AnswerDelay: 1200 * time.Millisecond}, func(c *call.Config) {
		c.AnswerTimeout, c.MaxAnswerTimeout = 400*time.Millisecond, 4*time.Second
	})
	r.ctrl.Connect()
	retry := r.waitFor(10*time.Second, "retrying", call.IsState(call.StateRetrying))
	if retry.AnswerTimeout != 800*time.Millisecond || !strings.Contains(retry.Message, "no SDP answer within 400ms; retrying in") ||
		!strings.Contains(retry.Message, "waiting 800ms for the answer") {
		t.Fatalf("retry event %+v: want the next answer timeout (800ms) said in words", retry)
	}
	r.waitLive(20 * time.Second)
	if errs := r.errorsSeen(); len(errs) != 2 || errs[0] != call.ClassNoAnswer || errs[1] != call.ClassNoAnswer {
		t.Fatalf("failed attempts %v, want two no_answer (400ms, 800ms) before 1.6s wins", errs)
	}
	r.ctrl.Disconnect()
	r.waitIdle()
	r.log = nil
	r.ctrl.Connect()
	offering := r.waitFor(10*time.Second, "offering", call.IsState(call.StateOffering))
	if offering.AnswerTimeout < 2*time.Second {
		t.Fatalf("the next call waits %s for the answer, want about twice the 1.2s the master took", offering.AnswerTimeout)
	}
	ff := r.waitLive(20 * time.Second)
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v on the second call, want none", errs)
	}
	r.assertVideoFlows(ff.ClientID)
}

// TestLiveCallSurvivesSignalingEvents: GO_AWAY, RECONNECT_ICE_SERVER and a
// dropped signaling socket while live reopen signaling (or refresh ICE
// servers) without dropping the media.
func TestLiveCallSurvivesSignalingEvents(t *testing.T) {
	r := newRig(t, emulator.Faults{}, nil)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	e := r.demo.Emulator
	for name, poke := range map[string]func() error{
		"GO_AWAY":              func() error { return e.SendGoAway(demo.Channel, ff.ClientID) },
		"RECONNECT_ICE_SERVER": func() error { return e.SendReconnectICEServer(demo.Channel, ff.ClientID) },
		"socket dropped":       func() error { return e.DropConnection(demo.Channel, ff.ClientID) },
	} {
		if err := poke(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r.waitFor(5*time.Second, name+" notice", func(e call.Event) bool { return e.Kind == call.EventNotice })
		time.Sleep(300 * time.Millisecond)
		if st := r.ctrl.State(); st != call.StateLive {
			t.Fatalf("after %s: state %s, want Live", name, st)
		}
		r.assertVideoFlows(ff.ClientID)
	}
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none", errs)
	}
}

// TestMediaStallRecovers: the master stops sending mid-call; the controller
// classes it media_stall and reconnects once media is back.
func TestMediaStallRecovers(t *testing.T) {
	r := newRig(t, emulator.Faults{}, func(c *call.Config) { c.MediaStallTimeout = 1500 * time.Millisecond })
	r.ctrl.Connect()
	r.waitLive(20 * time.Second)
	r.demo.Master.SetMediaPaused(true)
	r.waitFor(10*time.Second, "media_stall", func(e call.Event) bool { return e.Kind == call.EventError && e.Class == call.ClassMediaStall })
	r.demo.Master.SetMediaPaused(false)
	ff := r.waitLive(30 * time.Second)
	r.assertVideoFlows(ff.ClientID)
}

// TestAuthFailureIsNotRetried: a 403 fails the call at once with class auth;
// the next Connect works.
func TestAuthFailureIsNotRetried(t *testing.T) {
	r := newRig(t, emulator.Faults{}, nil)
	r.demo.Emulator.SetFaults(emulator.Faults{Reject403: 1}) // after the master connected
	r.ctrl.Connect()
	ev := r.waitFor(10*time.Second, "failed state", func(e call.Event) bool { return e.Kind == call.EventState && e.State == call.StateFailed })
	if ev.Class != call.ClassAuth {
		t.Fatalf("failed with %s (%s), want auth", ev.Class, ev.Message)
	}
	if errs := r.errorsSeen(); len(errs) != 1 {
		t.Fatalf("attempts %v, want exactly one (auth is not retried)", errs)
	}
	// Failed stays (with its reason on screen) after the failed session's
	// teardown, until the user acts.
	r.waitFor(5*time.Second, "teardown", call.IsPhase(call.PhaseTeardown))
	time.Sleep(100 * time.Millisecond)
	if st := r.ctrl.State(); st != call.StateFailed {
		t.Fatalf("state %s after the teardown, want Failed until the user acts", st)
	}
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	r.assertVideoFlows(ff.ClientID)
}

// TestFixedClientIDWithinCooldownGoesUnanswered reproduces the field problem
// with the emulator and shows the "fixed" policy waits it out.
func TestFixedClientIDWaitsOutCooldown(t *testing.T) {
	cool := 2 * time.Second
	r := newRig(t, emulator.Faults{ReuseCooldown: cool}, func(c *call.Config) {
		c.ClientIDs = call.ClientIDConfig{Policy: call.PolicyFixed, ID: "fixed-viewer", Cooldown: cool}
	})
	r.ctrl.Connect()
	r.waitLive(20 * time.Second)
	r.ctrl.Reconnect()
	r.waitFor(5*time.Second, "waiting state", func(e call.Event) bool { return e.Kind == call.EventState && e.State == call.StateWaiting })
	ff := r.waitLive(20 * time.Second)
	if errs := r.errorsSeen(); len(errs) > 0 {
		t.Fatalf("failed attempts %v, want none (the cooldown is waited out)", errs)
	}
	r.assertVideoFlows(ff.ClientID)
}

// TestReconnectAndDisconnectDuringBackoff: a click during a retry backoff
// wins over the scheduled retry.
func TestReconnectAndDisconnectDuringBackoff(t *testing.T) {
	r := newRig(t, emulator.Faults{DropNextOffers: 1}, func(c *call.Config) {
		c.BackoffMin, c.BackoffMax = 2*time.Second, 2*time.Second
	})
	r.ctrl.Connect()
	r.waitFor(10*time.Second, "retrying", func(e call.Event) bool { return e.Kind == call.EventState && e.State == call.StateRetrying })
	r.ctrl.Disconnect()
	r.waitIdle()
	// The scheduled retry must not start a session after Disconnect.
	time.Sleep(2500 * time.Millisecond)
	if st := r.ctrl.State(); st != call.StateIdle {
		t.Fatalf("state %s after the backoff elapsed, want Idle", st)
	}

	r.demo.Emulator.SetFaults(emulator.Faults{DropNextOffers: 1})
	r.ctrl.Connect()
	r.waitFor(10*time.Second, "retrying", func(e call.Event) bool { return e.Kind == call.EventState && e.State == call.StateRetrying })
	r.ctrl.Reconnect() // now, not after the 2 s backoff
	ff := r.waitLive(10 * time.Second)
	r.assertVideoFlows(ff.ClientID)
}

// TestStalledEndpointsRecover: a control-plane request or a signaling
// upgrade that the endpoint accepts and never answers fails the attempt
// within its timeout, classed by the step, and the retry connects.
func TestStalledEndpointsRecover(t *testing.T) {
	cases := []struct {
		name   string
		faults emulator.Faults
		tune   func(*call.Config)
		want   call.Class
	}{
		{"http stalled, kvs timeout", emulator.Faults{StallHTTP: 1}, func(c *call.Config) {
			c.AWS.Timeouts.ResponseHeader = 500 * time.Millisecond
		}, call.ClassControlPlane},
		{"websocket upgrade stalled, kvs timeout", emulator.Faults{StallWS: 1}, func(c *call.Config) {
			c.AWS.Timeouts.Upgrade = 500 * time.Millisecond
		}, call.ClassSignalingClosed},
		{"http stalled, set-up deadline", emulator.Faults{StallHTTP: 1}, func(c *call.Config) {
			c.SetupTimeout = 700 * time.Millisecond // before kvs's own 10 s response timeout
		}, call.ClassControlPlane},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, emulator.Faults{}, tc.tune)
			r.demo.Emulator.SetFaults(tc.faults) // after the master connected
			start := time.Now()
			r.ctrl.Connect()
			ff := r.waitLive(20 * time.Second)
			took := time.Since(start)
			errs := r.errorsSeen()
			if len(errs) != 1 || errs[0] != tc.want {
				t.Fatalf("failed attempts %v, want one %s", errs, tc.want)
			}
			if took > 5*time.Second {
				t.Errorf("recovered after %s, want within the timeout plus backoff", took)
			}
			t.Logf("first frame after %s", took.Round(time.Millisecond))
			r.assertVideoFlows(ff.ClientID)
		})
	}
}

// TestSettingThatCannotWorkIsNotRetried: TURN only with a service that
// offers no TURN server fails once, as class settings, in words.
func TestSettingThatCannotWorkIsNotRetried(t *testing.T) {
	r := newRig(t, emulator.Faults{NoTURN: 1}, func(c *call.Config) { c.NAT = call.NATRelay })
	r.ctrl.Connect()
	ev := r.waitFor(10*time.Second, "failed state", call.IsState(call.StateFailed))
	if ev.Class != call.ClassSettings || !strings.Contains(ev.Message, "TURN") {
		t.Fatalf("failed with %s (%s), want settings, in words", ev.Class, ev.Message)
	}
	if errs := r.errorsSeen(); len(errs) != 1 {
		t.Fatalf("attempts %v, want exactly one", errs)
	}
}

// TestFullChannelReusesStaleViewerIDs: sessions that did not free their
// viewer slot (the service keeps them a while) fill the channel's ten
// slots; the next new viewer is refused as viewer_limit, and the retry
// reuses a ClientId of the pool, replacing its own stale session, instead
// of adding another.
func TestFullChannelReusesStaleViewerIDs(t *testing.T) {
	r := newRig(t, emulator.Faults{StaleViewerHold: time.Minute}, nil)
	used := map[string]bool{}
	for cycle := 1; cycle <= emulator.MaxViewersPerChannel+2; cycle++ {
		r.ctrl.Connect()
		ff := r.waitLive(20 * time.Second)
		if cycle > emulator.MaxViewersPerChannel && !used[ff.ClientID] {
			t.Errorf("cycle %d went live with a new ClientId %s while the channel was full", cycle, ff.ClientID)
		}
		used[ff.ClientID] = true
		r.ctrl.Disconnect()
		r.waitIdle()
	}
	limited := 0
	for _, c := range r.errorsSeen() {
		if c != call.ClassViewerLimit {
			t.Fatalf("failed attempts %v, want only viewer_limit", r.errorsSeen())
		}
		limited++
	}
	if limited == 0 {
		t.Fatal("the channel never refused a viewer: the test did not fill it")
	}
	if len(used) > emulator.MaxViewersPerChannel {
		t.Errorf("%d ClientIds used for %d slots", len(used), emulator.MaxViewersPerChannel)
	}
}
