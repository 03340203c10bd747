package rtc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// isLoopbackAddr reports whether s is a loopback IP literal.
func isLoopbackAddr(t *testing.T, s string) bool {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Errorf("candidate address %q is not an IP literal: %v", s, err)

		return false
	}

	return a.IsLoopback()
}

func connect(t *testing.T, api *webrtc.API, o Options, sc scenario) connectResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := connectOnce(ctx, api, api, Configuration(nil, o), sc)
	if err != nil {
		t.Fatal(err)
	}
	if res.pair == nil {
		t.Fatal("no selected candidate pair")
	}
	for _, c := range []*webrtc.ICECandidate{res.pair.Local, res.pair.Remote} {
		if !isLoopbackAddr(t, c.Address) || c.Protocol != webrtc.ICEProtocolUDP {
			t.Errorf("selected candidate %s is not UDP on loopback", c)
		}
	}

	return res
}

// TestLoopbackConnects connects two peers on loopback a few times under each
// signaling scenario, including the one where the offerer never gets the
// answerer's candidates and must use a peer-reflexive one.
func TestLoopbackConnects(t *testing.T) {
	o := Options{Loopback: true}
	api, err := NewAPI(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sc   scenario
	}{
		{"trickle", scenario{}},
		{"sdp-after-sld", scenario{sdpAfterSLD: true, hop: time.Millisecond}},
		{"prflx-only", scenario{dropAnswerCands: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 3 {
				res := connect(t, api, o, tc.sc)
				t.Logf("run %d: offerer ICE %v, offerer PC %v, answerer ICE %v, pair %s",
					i, res.offererICE, res.offererPC, res.answerICE, res.pair)
				if tc.sc.dropAnswerCands && res.pair.Remote.Typ != webrtc.ICECandidateTypePrflx {
					t.Errorf("remote candidate %s: want prflx, since no candidate was signaled", res.pair.Remote)
				}
			}
		})
	}
}

// TestLoopbackGathersOnlyLoopback gathers with Options.Loopback, handing
// Configuration a STUN and a TURN server on 127.0.0.1, and checks every
// local candidate is a UDP4 host candidate on a loopback address.
func TestLoopbackGathersOnlyLoopback(t *testing.T) {
	o := Options{Loopback: true}
	api, err := NewAPI(o)
	if err != nil {
		t.Fatal(err)
	}
	servers := []webrtc.ICEServer{
		{URLs: []string{"stun:127.0.0.1:3478"}},
		{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Username: "u", Credential: "p"},
	}
	pc, err := api.NewPeerConnection(Configuration(servers, o))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pc.Close(); err != nil {
			t.Error(err)
		}
	}()
	var mu sync.Mutex
	var trickled []webrtc.ICECandidate
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			mu.Lock()
			trickled = append(trickled, *c)
			mu.Unlock()
		}
	})
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gathering did not complete")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(trickled) == 0 {
		t.Fatal("no candidate gathered")
	}
	for _, c := range trickled {
		if c.Typ != webrtc.ICECandidateTypeHost || c.Protocol != webrtc.ICEProtocolUDP ||
			!isLoopbackAddr(t, c.Address) || !strings.HasPrefix(c.Address, "127.") {
			t.Errorf("candidate %s: want a UDP4 host candidate on 127.0.0.0/8", c.String())
		}
	}
	sdp := pc.LocalDescription().SDP
	for line := range strings.SplitSeq(sdp, "\n") {
		if !strings.HasPrefix(line, "a=candidate:") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasSuffix(f[4], ".local") || !isLoopbackAddr(t, f[4]) || f[7] != "host" {
			t.Errorf("SDP candidate %q is not a loopback host candidate", line)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	sawLoopback := false
	for _, ifi := range ifs {
		want := ifi.Flags&net.FlagLoopback != 0
		sawLoopback = sawLoopback || want
		if got := LoopbackOnly(ifi.Name); got != want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", ifi.Name, got, want)
		}
	}
	if !sawLoopback {
		t.Error("no loopback interface on this machine")
	}
	if LoopbackOnly("no-such-interface0") {
		t.Error("an unknown interface was accepted")
	}
}

func TestConfiguration(t *testing.T) {
	servers := []webrtc.ICEServer{
		{URLs: []string{"stun:stun.kinesisvideo.eu-west-1.amazonaws.com:443"}},
		{URLs: []string{"turn:1.2.3.4:443?transport=udp", "TURNS:1.2.3.4:443?transport=tcp"}, Username: "u", Credential: "c"},
		{URLs: []string{"stun:1.2.3.4:3478", "turn:1.2.3.4:3478"}, Username: "u2", Credential: "c2"},
	}
	orig := slices.Clone(servers)
	urls := func(c webrtc.Configuration) []string {
		var out []string
		for _, s := range c.ICEServers {
			out = append(out, s.URLs...)
		}

		return out
	}
	for _, tc := range []struct {
		o      Options
		policy webrtc.ICETransportPolicy
		urls   []string
	}{
		{Options{}, webrtc.ICETransportPolicyAll, []string{
			"stun:stun.kinesisvideo.eu-west-1.amazonaws.com:443", "turn:1.2.3.4:443?transport=udp",
			"TURNS:1.2.3.4:443?transport=tcp", "stun:1.2.3.4:3478", "turn:1.2.3.4:3478",
		}},
		{Options{NAT: NATAll}, webrtc.ICETransportPolicyAll, []string{
			"stun:stun.kinesisvideo.eu-west-1.amazonaws.com:443", "turn:1.2.3.4:443?transport=udp",
			"TURNS:1.2.3.4:443?transport=tcp", "stun:1.2.3.4:3478", "turn:1.2.3.4:3478",
		}},
		{Options{NAT: NATRelay}, webrtc.ICETransportPolicyRelay, []string{
			"stun:stun.kinesisvideo.eu-west-1.amazonaws.com:443", "turn:1.2.3.4:443?transport=udp",
			"TURNS:1.2.3.4:443?transport=tcp", "stun:1.2.3.4:3478", "turn:1.2.3.4:3478",
		}},
		{Options{NAT: NATSTUN}, webrtc.ICETransportPolicyAll, []string{
			"stun:stun.kinesisvideo.eu-west-1.amazonaws.com:443", "stun:1.2.3.4:3478",
		}},
		{Options{Loopback: true}, webrtc.ICETransportPolicyAll, nil},
		{Options{Loopback: true, NAT: NATSTUN}, webrtc.ICETransportPolicyAll, nil},
		// No public server is ever kept for a loopback endpoint, even relay-only.
		{Options{Loopback: true, NAT: NATRelay}, webrtc.ICETransportPolicyRelay, nil},
	} {
		c := Configuration(servers, tc.o)
		if c.ICETransportPolicy != tc.policy || !slices.Equal(urls(c), tc.urls) {
			t.Errorf("%+v: policy %v urls %q, want %v %q", tc.o, c.ICETransportPolicy, urls(c), tc.policy, tc.urls)
		}
		if c.BundlePolicy != webrtc.BundlePolicyMaxBundle || c.RTCPMuxPolicy != webrtc.RTCPMuxPolicyRequire ||
			c.SDPSemantics != webrtc.SDPSemanticsUnifiedPlan {
			t.Errorf("%+v: bundle %v rtcp-mux %v semantics %v", tc.o, c.BundlePolicy, c.RTCPMuxPolicy, c.SDPSemantics)
		}
		if tc.o.NAT == NATSTUN && !tc.o.Loopback && (c.ICEServers[1].Username != "u2" || c.ICEServers[1].Credential != "c2") {
			t.Errorf("stun mode lost the credentials of a server it kept: %+v", c.ICEServers[1])
		}
	}
	for i := range servers {
		if !slices.Equal(servers[i].URLs, orig[i].URLs) {
			t.Errorf("Configuration modified its input: %q", servers[i].URLs)
		}
	}
}

// TestConfigurationLoopbackRelay: with a loopback endpoint, relay mode keeps
// only TURN URLs on a loopback IP literal, with their credentials.
func TestConfigurationLoopbackRelay(t *testing.T) {
	servers := []webrtc.ICEServer{
		{URLs: []string{"stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp", "turn:1.2.3.4:3478"}, Username: "u", Credential: "c"},
		{URLs: []string{"turn:localhost:3478", "turns:turn.example.com:443?transport=tcp"}, Username: "u2", Credential: "c2"},
		{URLs: []string{"TURN:[::1]:3478", "turn:127.0.0.2"}, Username: "u3", Credential: "c3"},
	}
	c := Configuration(servers, Options{Loopback: true, NAT: NATRelay})
	if c.ICETransportPolicy != webrtc.ICETransportPolicyRelay || len(c.ICEServers) != 2 {
		t.Fatalf("policy %v servers %+v, want relay-only and two servers", c.ICETransportPolicy, c.ICEServers)
	}
	if s := c.ICEServers[0]; !slices.Equal(s.URLs, []string{"turn:127.0.0.1:3478?transport=udp"}) || s.Username != "u" || s.Credential != "c" {
		t.Errorf("first server %+v", s)
	}
	if s := c.ICEServers[1]; !slices.Equal(s.URLs, []string{"TURN:[::1]:3478", "turn:127.0.0.2"}) || s.Username != "u3" {
		t.Errorf("second server %+v", s)
	}
	if len(servers[0].URLs) != 3 {
		t.Errorf("Configuration modified its input: %q", servers[0].URLs)
	}
}

func TestIsLoopbackTURN(t *testing.T) {
	for u, want := range map[string]bool{
		"turn:127.0.0.1:3478?transport=udp": true,
		"turns:127.0.0.1:443?transport=tcp": true,
		"turn:127.8.9.10":                   true,
		"turn:[::1]:3478":                   true,
		"turn:[::1]":                        true,
		"turn:::1":                          true,
		"turn:[::ffff:127.0.0.1]:3478":      true,
		"stun:127.0.0.1:3478":               false,
		"turn:localhost:3478":               false, // a name would be resolved: not trusted
		"turn:1.2.3.4:3478":                 false,
		"turn:0.0.0.0:3478":                 false,
		"turn:[fe80::1%lo]:3478":            false,
		"turn:":                             false,
		"turn:127.0.0.1.example.com:3478":   false,
		"":                                  false,
	} {
		if got := isLoopbackTURN(u); got != want {
			t.Errorf("isLoopbackTURN(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestCheckServers(t *testing.T) {
	public := []webrtc.ICEServer{{URLs: []string{"turn:1.2.3.4:3478"}, Username: "u", Credential: "c"}}
	local := []webrtc.ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "u", Credential: "c"}}
	for _, tc := range []struct {
		servers []webrtc.ICEServer
		o       Options
		ok      bool
	}{
		{nil, Options{}, true},
		{nil, Options{Loopback: true}, true},
		{nil, Options{NAT: NATRelay}, false},
		{public, Options{NAT: NATRelay}, true},
		{public, Options{NAT: NATRelay, Loopback: true}, false},
		{local, Options{NAT: NATRelay, Loopback: true}, true},
	} {
		err := CheckServers(tc.servers, tc.o)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrOptions)) {
			t.Errorf("CheckServers(%v, %+v) = %v, want ok=%v (errors wrap ErrOptions)", tc.servers, tc.o, err, tc.ok)
		}
	}
}

func TestNewAPIRejectsBadOptions(t *testing.T) {
	errPop := errors.New("no codecs today")
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{NAT: "turn-only"}, "unknown NAT mode"},
		{Options{NAT: "turn-only", Loopback: true}, "unknown NAT mode"},
		{Options{Populate: func(*webrtc.MediaEngine) error { return errPop }}, "register codecs"},
	} {
		_, err := NewAPI(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAPI(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
		if !errors.Is(err, ErrOptions) {
			t.Errorf("NewAPI(%+v) = %v, which does not wrap ErrOptions", tc.o, err)
		}
	}
	for _, o := range []Options{{NAT: NATRelay, Loopback: true}, {NAT: NATRelay}, {NAT: NATSTUN, Loopback: true}} {
		if _, err := NewAPI(o); err != nil {
			t.Errorf("NewAPI(%+v) = %v, want no error", o, err)
		}
	}
	if _, err := NewAPI(Options{Populate: func(*webrtc.MediaEngine) error { return errPop }}); !errors.Is(err, errPop) {
		t.Errorf("the Populate error is not wrapped: %v", err)
	}
}

// offerSDP returns the SDP of an offer with one sendrecv video and one
// sendrecv audio transceiver from api.
func offerSDP(t *testing.T, api *webrtc.API) string {
	t.Helper()
	pc, err := api.NewPeerConnection(Configuration(nil, Options{Loopback: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pc.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}

	return offer.SDP
}

func TestDefaultCodecsOffer(t *testing.T) {
	api, err := NewAPI(Options{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	sdp := offerSDP(t, api)
	for _, want := range []string{
		"m=video 9 UDP/TLS/RTP/SAVPF 125 96 98 116\r\n",
		"a=rtpmap:125 H264/90000",
		"a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"a=rtpmap:96 VP8/90000",
		"a=rtpmap:98 VP9/90000",
		"a=rtpmap:116 H265/90000",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
		"a=rtpmap:111 opus/48000/2",
		"a=rtcp-fb:125 nack pli",
		"transport-cc", // TWCC from the default interceptors
	} {
		if !strings.Contains(sdp, want) {
			t.Errorf("offer lacks %q:\n%s", want, sdp)
		}
	}

	vp8Only := func(me *webrtc.MediaEngine) error {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			PayloadType:        100,
		}, webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}

		return me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			PayloadType:        109,
		}, webrtc.RTPCodecTypeAudio)
	}
	api, err = NewAPI(Options{Loopback: true, Populate: vp8Only})
	if err != nil {
		t.Fatal(err)
	}
	sdp = offerSDP(t, api)
	if !strings.Contains(sdp, "m=video 9 UDP/TLS/RTP/SAVPF 100\r\n") || !strings.Contains(sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 109\r\n") ||
		strings.Contains(sdp, "H264") {
		t.Errorf("the Populate codecs were not used:\n%s", sdp)
	}
}

// TestLoggerKeepsICEPasswordsOut runs a call with pion logging at trace level
// and checks pion's output reaches the slog logger without the ICE passwords
// of either peer.
func TestLoggerKeepsICEPasswordsOut(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: levelTrace})
	o := Options{Loopback: true, Logger: slog.New(h)}
	api, err := NewAPI(o)
	if err != nil {
		t.Fatal(err)
	}
	res := connect(t, api, o, scenario{})

	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if !strings.Contains(logs, "pion=ice") {
		t.Fatalf("no pion ICE log reached slog:\n%.2000s", logs)
	}
	if !strings.Contains(logs, "remotePwd") {
		t.Fatalf("the agent start line was not logged, so the redaction is untested:\n%.2000s", logs)
	}
	if len(res.pwds) != 2 {
		t.Fatalf("found %d ICE passwords in the descriptions, want 2", len(res.pwds))
	}
	for _, pwd := range res.pwds {
		if strings.Contains(logs, pwd) {
			t.Errorf("an ICE password appears in the logs")
		}
	}
}

// lockedWriter serializes writes from pion's goroutines.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.Write(p)
}
