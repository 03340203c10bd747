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
	"strings"

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
	// off, and Configuration drops every STUN/TURN server.
	Loopback bool
	// NAT is NATAll ("" means the same), NATRelay or NATSTUN.
	NAT NATMode
	// Populate registers the codecs in the order they should be offered (for
	// example a mediadevices CodecSelector's Populate). Nil registers
	// DefaultCodecs.
	Populate func(*webrtc.MediaEngine) error
	// Logger receives pion's logs (its debug and trace output at levels below
	// slog.LevelDebug). Nil discards them.
	Logger *slog.Logger
}

// validate reports an unusable combination of options.
func (o Options) validate() error {
	switch o.NAT {
	case "", NATAll, NATSTUN:
	case NATRelay:
		if o.Loopback {
			return errors.New("rtc: NAT mode relay cannot work with a loopback-only endpoint")
		}
	default:
		return fmt.Errorf("rtc: unknown NAT mode %q (want all, relay or stun)", o.NAT)
	}

	return nil
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
// path still gets its chance first when the remote has one.
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
		return nil, fmt.Errorf("rtc: register codecs: %w", err)
	}

	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("rtc: register interceptors: %w", err)
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
	}

	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se),
	), nil
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
// stun: TURN servers dropped). With o.Loopback every server is dropped: the
// peers meet on 127.0.0.1 with host candidates. An unknown NAT mode is treated
// as NATAll here; NewAPI rejects it.
func Configuration(servers []webrtc.ICEServer, o Options) webrtc.Configuration {
	cfg := webrtc.Configuration{
		BundlePolicy:       webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy:      webrtc.RTCPMuxPolicyRequire,
		SDPSemantics:       webrtc.SDPSemanticsUnifiedPlan,
		ICETransportPolicy: webrtc.ICETransportPolicyAll,
	}
	if o.Loopback {
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
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		urls := make([]string, 0, len(s.URLs))
		for _, u := range s.URLs {
			if dropTURN && isTURN(u) {
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
