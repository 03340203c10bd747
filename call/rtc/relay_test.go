package rtc

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// startTestTURN runs a pion TURN server on 127.0.0.1 (user "u", password
// "p") and returns its ICE server and the number of allocations it made.
func startTestTURN(t *testing.T) (webrtc.ICEServer, *atomic.Int32) {
	t.Helper()
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const realm = "rtc.test"
	key := turn.GenerateAuthKey("u", realm, "p")
	allocations := &atomic.Int32{}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         realm,
		LoggerFactory: lf,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == "u"
		},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, _, _ string, _ net.Addr, _ int) { allocations.Add(1) },
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		}},
	})
	if err != nil {
		_ = pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})

	return webrtc.ICEServer{
		URLs:     []string{"turn:" + pc.LocalAddr().String() + "?transport=udp"},
		Username: "u", Credential: "p",
	}, allocations
}

// TestLoopbackRelayConnects: relay-only peers of a loopback endpoint connect
// through a TURN server on 127.0.0.1, a public server given alongside is
// never used, and the TURN client's socket (the candidate's related address)
// is on loopback too.
func TestLoopbackRelayConnects(t *testing.T) {
	o := Options{Loopback: true, NAT: NATRelay}
	api, err := NewAPI(o)
	if err != nil {
		t.Fatal(err)
	}
	local, allocations := startTestTURN(t)
	// 192.0.2.1 is TEST-NET-1: were it used, gathering would hang on it.
	servers := []webrtc.ICEServer{local, {URLs: []string{"turn:192.0.2.1:3478"}, Username: "u", Credential: "p"}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := connectOnce(ctx, api, api, Configuration(servers, o), scenario{})
	if err != nil {
		t.Fatal(err)
	}
	if res.pair == nil {
		t.Fatal("no selected candidate pair")
	}
	t.Logf("offerer ICE %v, PC %v, pair %s", res.offererICE, res.offererPC, res.pair)
	for _, c := range []*webrtc.ICECandidate{res.pair.Local, res.pair.Remote} {
		if c.Typ != webrtc.ICECandidateTypeRelay || !isLoopbackAddr(t, c.Address) {
			t.Errorf("selected candidate %s: want a relay candidate on loopback", c)
		}
	}
	if l := res.pair.Local; !isLoopbackAddr(t, l.RelatedAddress) {
		t.Errorf("the TURN client's socket %s:%d is not on loopback", l.RelatedAddress, l.RelatedPort)
	}
	if n := allocations.Load(); n < 2 {
		t.Errorf("the TURN server made %d allocations, want one per peer at least", n)
	}
}
