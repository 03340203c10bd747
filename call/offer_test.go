package call_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// dialAsMaster opens the demo channel's signaling as its master, for a test
// that reads what the viewer sends.
func dialAsMaster(t *testing.T, ctx context.Context, d *demo.Demo) *kvs.Conn {
	t.Helper()
	cfg, err := kvs.LoadAWSConfig(ctx, d.AWSOptions())
	if err != nil {
		t.Fatal(err)
	}
	cp := kvs.NewControlPlane(cfg)
	ch, err := cp.DescribeChannel(ctx, d.Channel())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := cp.GetEndpoints(ctx, ch.ARN, kvs.RoleMaster)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: ch.ARN, Endpoints: ep, Role: kvs.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestOfferCarriesHostCandidates: with trickle ICE on, the offer carries the
// host candidates (and any other gathered by the time it goes out), so a
// master can start its connectivity checks as soon as it answers; the
// candidates it carries are not trickled again, and the others trickle.
func TestOfferCarriesHostCandidates(t *testing.T) {
	// Host and relay: on loopback the viewer keeps the demo's TURN server
	// only when the relay is asked for by name.
	r := newRigWith(t, demo.Options{NoMaster: true}, func(c *call.Config) {
		c.SendCandidates = call.CandidateHost + "," + call.CandidateRelay
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn := dialAsMaster(t, ctx, r.demo)
	r.ctrl.Connect()

	var sdp string
	var trickled []string
	var after <-chan time.Time // collects the trickle for a while after the offer
	for after == nil || sdp == "" {
		select {
		case m := <-conn.Messages():
			switch {
			case m.Type == kvs.TypeSDPOffer && sdp == "":
				sdp = m.Offer.SDP
				after = time.After(time.Second)
			case m.Type == kvs.TypeICECandidate:
				trickled = append(trickled, strings.TrimPrefix(m.Candidate.Candidate, "candidate:"))
			}
		case <-ctx.Done():
			t.Fatal("no offer reached the master")
		}
	}
	for done := false; !done; {
		select {
		case m := <-conn.Messages():
			if m.Type == kvs.TypeICECandidate {
				trickled = append(trickled, strings.TrimPrefix(m.Candidate.Candidate, "candidate:"))
			}
		case <-after:
			done = true
		}
	}

	inOffer := map[string]bool{}
	hosts := 0
	for l := range strings.SplitSeq(sdp, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:"); ok {
			inOffer[c] = true
			if strings.Contains(c, " typ host") {
				hosts++
			}
		}
	}
	if hosts == 0 {
		t.Fatalf("the offer carries no host candidate:\n%s", sdp)
	}
	for _, c := range trickled {
		if inOffer[c] {
			t.Errorf("candidate trickled although the offer carries it: %s", c)
		}
	}
	// The relay candidate is in the offer when it was gathered in time,
	// else trickled, never lost.
	relay := false
	for c := range inOffer {
		relay = relay || strings.Contains(c, " typ relay")
	}
	for _, c := range trickled {
		relay = relay || strings.Contains(c, " typ relay")
	}
	if !relay {
		t.Errorf("the relay candidate reached the master neither in the offer nor trickled (%d trickled: %q)\n%s", len(trickled), trickled, sdp)
	}
}

// TestSocketOpensBesideTheICEServers: on a first connect (nothing cached)
// the signaling socket opens as soon as the endpoint is known, while the
// ICE servers are still being fetched: with GetIceServerConfig answering
// 300 ms late, the viewer's socket is open before that answer.
func TestSocketOpensBesideTheICEServers(t *testing.T) {
	r := newRig(t, emulator.Faults{ICEConfigDelay: 300 * time.Millisecond}, nil)
	r.ctrl.Connect()
	ff := r.waitLive(20 * time.Second)
	var connected, iceConfig time.Time
	for _, ev := range r.demo.Emulator.Events() {
		switch {
		case ev.Kind == emulator.EventConnect && ev.ClientID == ff.ClientID && connected.IsZero():
			connected = ev.Time
		case ev.Kind == emulator.EventControlPlane && ev.Action == "GetIceServerConfig":
			iceConfig = ev.Time // the viewer's comes after the master's: keep the last
		}
	}
	if connected.IsZero() || iceConfig.IsZero() {
		t.Fatalf("no socket (%v) or no ICE config request (%v) in the emulator's log", connected, iceConfig)
	}
	if !connected.Before(iceConfig) {
		t.Errorf("the socket opened %v after the ICE servers came: it waited for them", connected.Sub(iceConfig))
	}
}
