package call

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestICEServersRefreshedInTheBackground: while a call is up, ICE servers
// close to their expiry are fetched anew in the background, so that a
// Reconnect after that makes no control-plane request.
func TestICEServersRefreshedInTheBackground(t *testing.T) {
	const channel = "refresh"
	lc := startLoopbackCall(t, channel)
	first := lc.live(lc.ctrl.Connect)
	p := lc.ctrl.cp

	// Age the cached ICE servers (the emulator's TURN credentials last 300 s)
	// to 2 s before their expiry, and arm the refresh for them.
	p.mu.Lock()
	r := *p.res
	r.ice.Expires = time.Now().Add(2 * time.Second)
	p.res = &r
	if p.refresh != nil && p.refresh.Stop() {
		p.bg.Done()
	}
	p.refresh = nil
	p.mu.Unlock()
	iceCalls := func() int {
		n := 0
		for _, e := range lc.emu.Events() {
			if e.Action == "GetIceServerConfig" {
				n++
			}
		}
		return n
	}
	before := iceCalls()
	p.scheduleICERefresh(*p.loaded(), channel, first.session.clientID, slog.New(slog.NewTextHandler(io.Discard, nil)))

	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a measure
	for {
		if res, _ := p.lookup(channel); time.Until(res.ice.Expires) > iceMinValid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ICE servers were not refreshed in the background")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := iceCalls() - before; n != 1 {
		t.Errorf("%d GetIceServerConfig requests for one refresh, want 1", n)
	}
	cpCalls := lc.controlPlaneCalls()
	lc.seen = nil
	lc.live(lc.ctrl.Reconnect)
	if n := lc.controlPlaneCalls() - cpCalls; n != 0 {
		t.Errorf("the Reconnect after the refresh made %d control-plane requests, want none", n)
	}
}
