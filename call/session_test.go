package call

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// TestSessionAlone runs one session with no Controller: its dependencies
// are given explicitly, and its events arrive on a channel. It reaches a
// first frame with every phase in order, repairs its signaling when asked,
// and its teardown leaves none of its goroutines.
func TestSessionAlone(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.Start(ctx, emulator.Config{Channels: []string{"alone"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = emu.Close() }()
	c := emu.Credentials()
	aws := kvs.AWSOptions{Region: emu.Region(), EndpointURL: emu.Endpoint(), RootCAs: emu.CAPool(),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	m, err := master.Start(ctx, master.Options{AWS: aws, Channel: "alone", Width: 320, Height: 240, FPS: 30, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()

	events := make(chan sessionEvent, 1024)
	deps := sessionDeps{
		cfg: Config{AWS: aws, Channel: "alone", Media: capture.Options{Video: capture.SourceTest, Audio: capture.SourceTone,
			Width: 320, Height: 240, FPS: 30}}.WithDefaults(),
		log: log, post: func(ev sessionEvent) { events <- ev }, cp: &cpCache{},
		connects: rate.NewLimiter(connectsPerSecond, connectsPerSecond),
		remote:   sink.NewLatest(), local: sink.NewLatest(),
		micMuted: func() bool { return false }, cameraOff: func() bool { return false },
	}
	s := newSession(deps, sessionInfo{id: 7, attempt: 1, clientID: "viewer-alone", click: time.Now()})
	s.start()

	var phases []Phase
	await := func(what string, done func(sessionEvent) bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.id != 7 {
					t.Fatalf("event of session %d, want 7", ev.id)
				}
				if ev.kind == evFail {
					t.Fatalf("session failed: %s: %v", ev.class, ev.err)
				}
				if ev.kind == evPhase {
					phases = append(phases, ev.phase)
				}
				if done(ev) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s; phases so far %v", what, phases)
			}
		}
	}
	await("first frame", func(ev sessionEvent) bool { return ev.kind == evPhase && ev.phase == PhaseFirstFrame })
	for i, p := range []Phase{PhaseControlPlane, PhaseSignalingOpen, PhaseOfferSent, PhaseAnswerReceived} {
		if i >= len(phases) || phases[i] != p {
			t.Fatalf("phases %v, want %s at %d", phases, p, i)
		}
	}
	if st := deps.remote.Stats(); st.Decoded == 0 || st.Width != 320 {
		t.Fatalf("remote sink %+v, want decoded 320-wide frames", st)
	}

	s.requestRepair(repairReopenSignaling)
	await("signaling reopened", func(ev sessionEvent) bool { return ev.kind == evNotice && ev.msg == "signaling reopened" })

	s.stopFrames()
	res := s.teardown()
	t.Logf("teardown %s", res.took)
	if len(res.overruns) > 0 || res.lingering != nil {
		t.Errorf("teardown overran: %v", res.overruns)
	}
	if !res.clean {
		t.Error("a session closed by us reports an unclean close")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("session goroutines still running after teardown")
	}
	if s.ctx.Err() == nil {
		t.Fatal("session context not cancelled by teardown")
	}
}

// TestRepairQueueNeverDrops: repairs asked for from many goroutines while
// nothing runs them are all kept (a repeat merges with its pending twin),
// in the order first asked, and one token says there is work.
func TestRepairQueueNeverDrops(t *testing.T) {
	q := newRepairQueue()
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.push(repair(i % 3))
		}()
	}
	wg.Wait()
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready token with repairs pending")
	}
	got := q.take()
	if len(got) != 3 {
		t.Fatalf("pending %v, want each of the 3 repairs once", got)
	}
	seen := map[repair]bool{}
	for _, r := range got {
		seen[r] = true
	}
	if !seen[repairReopenSignaling] || !seen[repairRefreshICEServers] || !seen[repairICERestart] {
		t.Fatalf("pending %v lost a repair", got)
	}
	if merged := q.push(repairICERestart); merged {
		t.Fatal("a repair with nothing pending was merged")
	}
	if merged := q.push(repairICERestart); !merged {
		t.Fatal("a repeat of a pending repair must merge with it")
	}
	if got := q.take(); len(got) != 1 || got[0] != repairICERestart {
		t.Fatalf("pending %v, want [ICE restart]", got)
	}
}
