// Package rtc builds the pion WebRTC API and configuration that both the
// viewer's call sessions and the demo master use: codecs, interceptors, and an
// ICE agent tuned so that the offering side connects as fast as the answering
// side.
package rtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// NATMode says which ICE servers and candidates a call may use.
type NATMode string

// The NAT modes of Options.NAT.
const (
	// NATAll uses every ICE server: STUN and TURN (the default).
	NATAll NATMode = "all"
	// NATRelay only uses relay candidates (ICETransportPolicyRelay).
	NATRelay NATMode = "relay"
	// NATSTUN drops the TURN servers and keeps STUN.
	NATSTUN NATMode = "stun"
)

// Payload types of the default codecs. They match pion's defaults so that
// SDPs stay familiar when read side by side with pion's examples.
const (
	ptH264 = 125
	ptVP8  = 96
	ptVP9  = 98
	ptH265 = 116
	ptOpus = 111
)

// h264Fmtp is the constrained-baseline H.264 every browser and the KVS SDKs decode.
const h264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// Options configure NewAPI and Configuration.
type Options struct {
	// Loopback says the signaling endpoint is local (the emulator): ICE then
	// gathers only on the loopback interface (127.0.0.1), over UDP4, with mDNS
	// off, and with shorter ICE timeouts (see loopbackICETimeouts).
	// Configuration drops every STUN/TURN server, except in NATRelay mode,
	// where it keeps the TURN servers on a loopback address (the emulator's):
	// the relay allocation then runs from 127.0.0.1 to 127.0.0.1.
	Loopback bool
	// NAT is NATAll ("" means the same), NATRelay or NATSTUN.
	NAT NATMode
	// KeepTURN, with Loopback, keeps the loopback TURN servers in NATAll mode
	// too (Loopback drops every server otherwise): for a call that wants
	// relay candidates beside its host ones (candidate filters).
	KeepTURN bool
	// Populate registers the codecs in the order they should be offered (for
	// example a mediadevices CodecSelector's Populate). Nil registers
	// DefaultCodecs.
	Populate func(*webrtc.MediaEngine) error
	// Logger receives pion's logs (its debug and trace output at levels below
	// slog.LevelDebug). Nil discards them.
	Logger *slog.Logger
}

// ErrOptions is wrapped by every error of NewAPI and CheckServers that comes
// from the options themselves (an unknown NAT mode, codecs that cannot be
// registered, relay-only with no usable TURN server): the same options fail
// the same way on every attempt, so a caller should not retry them.
var ErrOptions = errors.New("rtc: unusable options")

// validate reports an unusable combination of options.
func (o Options) validate() error {
	switch o.NAT {
	case "", NATAll, NATSTUN, NATRelay:
	default:
		return fmt.Errorf("%w: unknown NAT mode %q (want all, relay or stun)", ErrOptions, o.NAT)
	}

	return nil
}

// CheckServers reports, wrapping ErrOptions, when servers (as for
// Configuration) leave a call under o no way to connect: NATRelay with no
// TURN server that Configuration keeps (with o.Loopback: none on a loopback
// address). Relay-only ICE would gather no candidate and could only time out.
func CheckServers(servers []webrtc.ICEServer, o Options) error {
	if o.NAT != NATRelay || len(Configuration(servers, o).ICEServers) > 0 {
		return nil
	}
	if o.Loopback {
		return fmt.Errorf("%w: NAT mode relay with a loopback endpoint needs a TURN server on a loopback address, and none was given", ErrOptions)
	}

	return fmt.Errorf("%w: NAT mode relay needs a TURN server, and none was given", ErrOptions)
}

// NewAPI returns a pion API with the codecs of o.Populate (or DefaultCodecs),
// pion's default interceptors (NACK, RTCP reports, stats, TWCC, simulcast
// header extensions) and an ICE agent tuned for a fast first connection.
//
// The ICE tuning, and why (pion/webrtc#3174): pion's controlling agent (the
// side that sends the offer: our viewer) nominates a candidate pair whose
// remote candidate it only knows as peer-reflexive no earlier than
// PrflxAcceptanceMinWait, 1 s by default, after ICE started. The answerer
// starts its checks as soon as it has set its answer, so its binding requests
// usually reach the offerer before its trickled candidates do; the offerer
// then learns the answerer's address as peer-reflexive. If a trickled
// candidate with the same address arrives later, pion replaces the
// peer-reflexive one and nominates at once (so on loopback the offerer waits
// one signaling hop instead of one round trip); if none ever does (an mDNS
// .local name it cannot resolve, a NAT-mapped address the remote never
// signaled, a candidate the signaling service dropped) the offerer waits the
// full second. Measured with BenchmarkOffererConnect: exactly that case went
// from 1007 ms (p50) to 2 ms. NewAPI therefore sets PrflxAcceptanceMinWait
// (and HostAcceptanceMinWait) to 0: a pair that has already answered a check
// is nominated at once. Srflx and relay pairs keep pion's waits, so a direct
// path still gets its chance first when the remote has one (except with
// Options.Loopback, where a relay pair can only come from the local TURN
// server of relay-only mode, and waiting could not find a better one).
//
// A residual tail pion v4.2.26 does not let us tune: the controlling agent
// sends no triggered check when the remote's request arrives, so if its first
// check is lost (for example because the answerer's agent had not started
// yet) it retries after the fixed 200 ms check interval.
//
// What the caller must do: trickle candidates in both directions, and queue
// remote candidates that arrive before the remote description, adding them
// right after SetRemoteDescription (pion rejects them earlier). Nothing else.
func NewAPI(o Options) (*webrtc.API, error) {
	return newAPI(o, true)
}

// newAPI is NewAPI with the ICE tuning switchable, so that the benchmark can
// measure pion's defaults under the same conditions.
func newAPI(o Options, tuneICE bool) (*webrtc.API, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}

	me := &webrtc.MediaEngine{}
	populate := o.Populate
	if populate == nil {
		populate = DefaultCodecs
	}
	if err := populate(me); err != nil {
		return nil, fmt.Errorf("%w: register codecs: %w", ErrOptions, err)
	}

	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("%w: register interceptors: %w", ErrOptions, err)
	}

	se := webrtc.SettingEngine{}
	se.LoggerFactory = newLoggerFactory(o.Logger)
	if tuneICE {
		se.SetPrflxAcceptanceMinWait(0)
		se.SetHostAcceptanceMinWait(0)
	}
	if o.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(LoopbackOnly)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetICETimeouts(loopbackICETimeouts.disconnected, loopbackICETimeouts.failed, loopbackICETimeouts.keepalive)
		if tuneICE {
			// Relay candidates on loopback come only from the one local TURN
			// server in relay-only mode: there is no better pair to wait
			// for, and pion's 2 s wait would be all of the connect time.
			se.SetRelayAcceptanceMinWait(0)
		}
	}

	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se),
	), nil
}

// loopbackICETimeouts are pion's ICE timeouts with Options.Loopback (the
// demo, tests and QA against the emulator). pion's defaults (disconnected
// after 5 s without a packet, failed 25 s later, a keepalive every 2 s) are
// made for real networks and stay in force for every other endpoint. On
// loopback a path has no jitter or queueing, so a second of silence already
// means the path is gone, and the controller's repair path can be exercised
// with short relay faults: with pion's 5 s, a 3 s blackout never even makes
// ICE disconnected, and a longer one meets the 5 s media stall watchdog first,
// so the disconnected -> ICE restart path could not be tested at all.
//
//   - disconnected 1 s: a blackout is seen within 1-1.25 s;
//   - keepalive 250 ms: the agent's tick, and how often the selected pair is
//     pinged (a binding request each way), so a quiet but working path is
//     never mistaken for a dead one (4 pings per disconnected timeout);
//   - failed 4 s after disconnected: ICE fails 5 s after the last packet, and
//     an ICE check list (a new call, an ICE restart) that got no answer fails
//     5 s after it started instead of 30 s.
var loopbackICETimeouts = struct{ disconnected, failed, keepalive time.Duration }{
	disconnected: time.Second,
	failed:       4 * time.Second,
	keepalive:    250 * time.Millisecond,
}

// LoopbackOnly is the ICE interface filter used with Options.Loopback: it
// keeps an interface only when the system flags it as loopback ("lo" on Linux,
// "lo0" on macOS). Unknown names are rejected.
func LoopbackOnly(iface string) bool {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return false
	}

	return ifi.Flags&net.FlagLoopback != 0
}

// DefaultCodecs registers, in offer order: H.264 constrained baseline
// (packetization-mode=1, profile-level-id=42e01f), VP8, then VP9 and H.265
// (which our side only receives: no encoder here sends them) and Opus.
func DefaultCodecs(me *webrtc.MediaEngine) error {
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp, RTCPFeedback: fb,
		}, PayloadType: ptH264},
		{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb,
		}, PayloadType: ptVP8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb,
		}, PayloadType: ptVP9},
		{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH265, ClockRate: 90000, RTCPFeedback: fb,
		}, PayloadType: ptH265},
	}
	for _, c := range video {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
	}, PayloadType: ptOpus}
	if err := me.RegisterCodec(opus, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("register %s: %w", opus.MimeType, err)
	}

	return nil
}

// Configuration returns the peer connection configuration for servers
// (as from GetIceServerConfig plus the KVS STUN server) under o: max-bundle,
// rtcp-mux required, unified plan, and the NAT mode (relay: relay-only policy;
// stun: TURN servers dropped). With o.Loopback the peers meet on 127.0.0.1:
// every server is dropped (they use host candidates), except in NATRelay mode,
// which keeps only the TURN URLs whose host is a loopback IP literal (the
// emulator's TURN server; never a public server, never a name to resolve).
// An unknown NAT mode is treated as NATAll here; NewAPI rejects it.
func Configuration(servers []webrtc.ICEServer, o Options) webrtc.Configuration {
	cfg := webrtc.Configuration{
		BundlePolicy:       webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy:      webrtc.RTCPMuxPolicyRequire,
		SDPSemantics:       webrtc.SDPSemanticsUnifiedPlan,
		ICETransportPolicy: webrtc.ICETransportPolicyAll,
	}
	if o.Loopback {
		switch {
		case o.NAT == NATRelay:
			cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
			cfg.ICEServers = filterServers(servers, isLoopbackTURN)
		case o.KeepTURN && o.NAT != NATSTUN:
			cfg.ICEServers = filterServers(servers, isLoopbackTURN)
		}

		return cfg
	}

	switch o.NAT {
	case NATRelay:
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
		cfg.ICEServers = cloneServers(servers, false)
	case NATSTUN:
		cfg.ICEServers = cloneServers(servers, true)
	default:
		cfg.ICEServers = cloneServers(servers, false)
	}

	return cfg
}

// cloneServers copies servers, dropping TURN URLs (and servers left with no
// URL) when dropTURN is set, so the caller's slice is never shared.
func cloneServers(servers []webrtc.ICEServer, dropTURN bool) []webrtc.ICEServer {
	return filterServers(servers, func(u string) bool { return !dropTURN || !isTURN(u) })
}

// filterServers copies servers with only the URLs keep accepts, dropping
// servers left with no URL, so the caller's slice is never shared.
func filterServers(servers []webrtc.ICEServer, keep func(url string) bool) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		urls := make([]string, 0, len(s.URLs))
		for _, u := range s.URLs {
			if !keep(u) {
				continue
			}
			urls = append(urls, u)
		}
		if len(urls) == 0 {
			continue
		}
		s.URLs = urls
		out = append(out, s)
	}

	return out
}

// isTURN reports whether an ICE server URL is a TURN one (turn: or turns:).
func isTURN(u string) bool {
	l := strings.ToLower(u)

	return strings.HasPrefix(l, "turn:") || strings.HasPrefix(l, "turns:")
}

// isLoopbackTURN reports whether u is a TURN URL (RFC 7065:
// turn[s]:host[:port][?transport=udp|tcp]) whose host is a loopback IP
// literal, such as "turn:127.0.0.1:3478?transport=udp" or "turn:[::1]".
func isLoopbackTURN(u string) bool {
	if !isTURN(u) {
		return false
	}
	_, rest, _ := strings.Cut(u, ":")
	hostport, _, _ := strings.Cut(rest, "?")
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	ip, err := netip.ParseAddr(host)

	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}
