package call

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/media/sink"
)

// loopHarness is a Controller without its loop goroutine: the test plays
// the loop, handing it one message at a time.
func loopHarness(t *testing.T, cfg Config) *Controller {
	t.Helper()
	cfg = cfg.WithDefaults()
	ids, err := newIDPolicy(cfg.ClientIDs)
	if err != nil {
		t.Fatal(err)
	}
	return &Controller{
		cfg: cfg, log: cfg.Logger, ids: ids, cp: &cpCache{}, connects: rate.NewLimiter(3, 3),
		remote: sink.NewLatest(), local: sink.NewLatest(),
		inbox: make(chan loopMsg, 16), stopped: make(chan struct{}),
		subs: subscribers{m: map[int]chan Event{}}, lp: loopState{closing: map[uint64]*session{}},
	}
}

func (c *Controller) nextMsg(t *testing.T) loopMsg {
	t.Helper()
	select {
	case m := <-c.inbox:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no loop message within 5s")
		return nil
	}
}

// TestOverrunningTeardownIsReportedAndHoldsItsClientID: a teardown step
// that overruns its limit is reported (teardown event, words, log) and the
// session's ClientId stays out of the pool until the step has finished.
func TestOverrunningTeardownIsReportedAndHoldsItsClientID(t *testing.T) {
	c := loopHarness(t, Config{
		Channel: "x", TeardownStepLimit: 50 * time.Millisecond,
		ClientIDs: ClientIDConfig{Policy: PolicyFixed, ID: "held", Cooldown: -1},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	events, _ := c.Subscribe()
	g, err := c.ids.acquire(time.Now())
	if err != nil || g.id != "held" {
		t.Fatalf("acquire: %+v %v", g, err)
	}
	s := newSession(c.sessionDeps(), sessionInfo{id: 1, clientID: "held", click: time.Now()})
	block := make(chan struct{})
	s.goFunc(func() { <-block }) // a session goroutine that will not end in time
	c.lp.cur = &attempt{s: s, seen: map[Phase]bool{}}
	c.lp.m.state = StateLive

	c.teardown(s, "test")
	done, ok := c.nextMsg(t).(teardownDone)
	if !ok {
		t.Fatal("the first loop message is not the teardown's end")
	}
	c.onTeardownDone(done)
	var ev Event
	for e := range events {
		if e.Kind == EventPhase && e.Phase == PhaseTeardown {
			ev = e
			break
		}
	}
	if !slices.Equal(ev.Overruns, []string{"wait for session goroutines"}) || ev.Message == "" {
		t.Fatalf("teardown event %+v, want the overrun named and worded", ev)
	}
	if g, _ := c.ids.acquire(time.Now()); g.id != "" {
		t.Fatalf("ClientId handed out again (%+v) while a teardown step still runs", g)
	}
	close(block)
	free, ok := c.nextMsg(t).(idFree)
	if !ok || free.clientID != "held" {
		t.Fatalf("after the step ended: %+v, want idFree for held", free)
	}
	c.releaseID(free.clientID, free.clean)
	if g, _ := c.ids.acquire(time.Now()); g.id != "held" {
		t.Fatalf("ClientId not back after the step finished: %+v", g)
	}
}
