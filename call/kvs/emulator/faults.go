package emulator

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Faults selects the misbehaviour the emulator injects. The zero value injects nothing.
// Counters (DropNextOffers, Reject403) count down as they are used; SetFaults
// replaces them.
type Faults struct {
	// DropNextOffers silently drops the next N SDP offers.
	DropNextOffers int
	// DropOfferEvery silently drops every Kth SDP offer (K>0).
	DropOfferEvery int
	// AnswerDelay makes the master answer this long late, as a master that
	// fetches TURN servers first or sits behind a slow uplink: a viewer's
	// offer, and what that viewer sends after it, reach the master this late.
	AnswerDelay time.Duration
	// ICEConfigDelay makes GetIceServerConfig answer this long late, as the
	// service does from far away: a viewer that waits for it before opening
	// its socket loses this much.
	ICEConfigDelay time.Duration
	// ReuseCooldown emulates the field bug: offers of a viewer connection whose ClientId
	// had a session that closed less than this long before it connected get no answer
	// (they are dropped). 0 turns it off.
	ReuseCooldown time.Duration
	// StaleViewerHold keeps a closed viewer connection's slot this long
	// (it counts against the 10-viewer limit).
	StaleViewerHold time.Duration
	// GoAwayAfter sends GO_AWAY to each viewer this long after it connects.
	GoAwayAfter time.Duration
	// ReconnectICEAfter sends RECONNECT_ICE_SERVER to each viewer this long after it connects.
	ReconnectICEAfter time.Duration
	// DropSocketAfter abruptly drops each viewer socket this long after it connects.
	DropSocketAfter time.Duration
	// MalformedEvery injects a malformed frame before every Kth delivered message.
	MalformedEvery int
	// Reject403 rejects the next N requests or connections with 403 AccessDeniedException.
	Reject403 int

	// Endpoint and credential faults (keys stall-http, stall-ws,
	// reject-unrecognized-client, reject-invalid-signature,
	// reject-expired-token); each is a counter, like Reject403.

	// StallHTTP leaves the next N control-plane and ICE-config requests
	// unanswered: the TCP connection and TLS complete, then nothing comes back
	// (a black-holed endpoint or a captive proxy) until the client gives up.
	StallHTTP int
	// StallWS leaves the next N signaling WebSocket upgrades unanswered after TLS.
	StallWS int
	// RejectUnrecognizedClient refuses the next N requests or connections with
	// 403 UnrecognizedClientException (an access key AWS does not know).
	RejectUnrecognizedClient int
	// RejectInvalidSignature refuses the next N requests or connections with 403
	// InvalidSignatureException, whose message echoes the request's canonical
	// string (session token included) the way AWS does.
	RejectInvalidSignature int
	// RejectExpiredToken refuses the next N requests or connections with 403
	// ExpiredTokenException (expired session credentials).
	RejectExpiredToken int
	// NoTURN, while not 0, makes GetIceServerConfig offer no TURN server (a
	// channel or network where TURN is not available); it does not count down.
	NoTURN int

	// The relay faults act on the packets the TURN server relays between a
	// client's allocation and its peers (ICE checks, DTLS, RTP, RTCP), in both
	// directions, and on nothing else: TURN's own requests (Allocate, Refresh,
	// CreatePermission, ChannelBind) and the signaling are never touched, so
	// only calls whose selected pair uses the relay see them.

	// RelayLoss drops each relayed packet with this probability, in percent (0-100).
	RelayLoss float64
	// RelayDelay holds each relayed packet this long (one way, so a round
	// trip through the relay takes twice as long). Each direction of each
	// allocation is a first-in first-out queue: packets keep their order, as
	// behind a real delay, also when the delay changes.
	RelayDelay time.Duration
	// BlackoutFor drops every relayed packet for this long, once: starting
	// BlackoutAfter after the first packet the relay carried once these faults
	// were put in force (at Start, or by SetFaults, which starts the clock
	// anew). The clock is the relay's, not a call's: allocations made during
	// the blackout (an ICE restart, a new session) are blacked out too, and
	// none made after it is. Setting the faults again arms another blackout.
	BlackoutFor time.Duration
	// BlackoutAfter is when the blackout starts; see BlackoutFor.
	BlackoutAfter time.Duration
}

// faultKey describes one key of the fault spec and how it maps onto Faults:
// exactly one of dur, num, pct and span is set.
type faultKey struct {
	name string
	dur  func(*Faults) *time.Duration
	num  func(*Faults) *int
	pct  func(*Faults) *float64               // "P%"
	span func(*Faults) (d, at *time.Duration) // "D@T"
}

// faultKeys lists the spec keys in the order String prints them.
var faultKeys = []faultKey{
	{name: "drop-offers", num: func(f *Faults) *int { return &f.DropNextOffers }},
	{name: "drop-offer-every", num: func(f *Faults) *int { return &f.DropOfferEvery }},
	{name: "delay-answer", dur: func(f *Faults) *time.Duration { return &f.AnswerDelay }},
	{name: "delay-ice-config", dur: func(f *Faults) *time.Duration { return &f.ICEConfigDelay }},
	{name: "reuse-cooldown", dur: func(f *Faults) *time.Duration { return &f.ReuseCooldown }},
	{name: "stale-viewers", dur: func(f *Faults) *time.Duration { return &f.StaleViewerHold }},
	{name: "go-away-after", dur: func(f *Faults) *time.Duration { return &f.GoAwayAfter }},
	{name: "reconnect-ice-after", dur: func(f *Faults) *time.Duration { return &f.ReconnectICEAfter }},
	{name: "drop-socket-after", dur: func(f *Faults) *time.Duration { return &f.DropSocketAfter }},
	{name: "malformed-every", num: func(f *Faults) *int { return &f.MalformedEvery }},
	{name: "reject-403", num: func(f *Faults) *int { return &f.Reject403 }},

	{name: "stall-http", num: func(f *Faults) *int { return &f.StallHTTP }},
	{name: "stall-ws", num: func(f *Faults) *int { return &f.StallWS }},
	{name: "reject-unrecognized-client", num: func(f *Faults) *int { return &f.RejectUnrecognizedClient }},
	{name: "reject-invalid-signature", num: func(f *Faults) *int { return &f.RejectInvalidSignature }},
	{name: "reject-expired-token", num: func(f *Faults) *int { return &f.RejectExpiredToken }},
	{name: "no-turn", num: func(f *Faults) *int { return &f.NoTURN }},
	{name: "loss", pct: func(f *Faults) *float64 { return &f.RelayLoss }},
	{name: "delay", dur: func(f *Faults) *time.Duration { return &f.RelayDelay }},
	{name: "blackout", span: func(f *Faults) (d, at *time.Duration) { return &f.BlackoutFor, &f.BlackoutAfter }},
}

// ErrFaultSpec is wrapped by every error ParseFaults returns.
var ErrFaultSpec = errors.New("invalid fault spec")

// maxFaultCount bounds the numeric fault values so that nothing overflows.
const maxFaultCount = 1_000_000

// ParseFaults parses a comma-separated fault spec such as
// "drop-offers=2,drop-offer-every=3,delay-answer=2s,reuse-cooldown=60s,stale-viewers=30s,
// go-away-after=3s,reconnect-ice-after=3s,drop-socket-after=2s,malformed-every=2,reject-403=1"
// or, for the relay, "loss=5%,delay=100ms,blackout=3s@5s".
// The empty string means no faults. Durations use time.ParseDuration syntax;
// loss is a percentage from 0 to 100 (the % sign may be left out); blackout
// is D@T, the blackout's length and when it starts (T may be left out: 0s).
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return f, nil
	}
	seen := map[string]bool{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Faults{}, fmt.Errorf("%w: %q is not key=value", ErrFaultSpec, clip(item, 40))
		}
		fk, found := lookupFaultKey(key)
		if !found {
			return Faults{}, fmt.Errorf("%w: unknown key %q (known: %s)", ErrFaultSpec, clip(key, 40), knownFaultKeys())
		}
		if seen[key] {
			return Faults{}, fmt.Errorf("%w: key %q given twice", ErrFaultSpec, key)
		}
		seen[key] = true
		if err := fk.set(&f, val); err != nil {
			return Faults{}, fmt.Errorf("%w: %s=%q: %s", ErrFaultSpec, key, clip(val, 40), err.Error())
		}
	}
	return f, nil
}

// set parses val into fk's field of f; its error says what the value should be.
func (fk faultKey) set(f *Faults, val string) error {
	switch {
	case fk.num != nil:
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > maxFaultCount {
			return fmt.Errorf("want a whole number 0-%d", maxFaultCount)
		}
		*fk.num(f) = n
	case fk.pct != nil:
		p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(val, "%")), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return errors.New("want a percentage 0-100 like 5% or 0.5%")
		}
		*fk.pct(f) = max(p, 0) // +0 for -0
	case fk.span != nil:
		ds, ts, hasAt := strings.Cut(val, "@")
		d, errD := time.ParseDuration(strings.TrimSpace(ds))
		t, errT := time.Duration(0), error(nil)
		if hasAt {
			t, errT = time.ParseDuration(strings.TrimSpace(ts))
		}
		if errD != nil || errT != nil || d < 0 || t < 0 {
			return errors.New("want D@T, two non-negative durations like 3s@5s (the blackout lasts D, from T on)")
		}
		if d == 0 {
			t = 0 // no blackout: no start either
		}
		pd, pt := fk.span(f)
		*pd, *pt = d, t
	default:
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return errors.New("want a non-negative duration like 2s or 500ms")
		}
		*fk.dur(f) = d
	}
	return nil
}

// format renders fk's field of f, or "" when it is zero (not in force).
func (fk faultKey) format(f *Faults) string {
	switch {
	case fk.num != nil:
		if n := *fk.num(f); n != 0 {
			return strconv.Itoa(n)
		}
	case fk.pct != nil:
		if p := *fk.pct(f); p != 0 {
			return strconv.FormatFloat(p, 'g', -1, 64) + "%"
		}
	case fk.span != nil:
		if d, t := fk.span(f); *d != 0 {
			return d.String() + "@" + t.String()
		}
	default:
		if d := *fk.dur(f); d != 0 {
			return d.String()
		}
	}
	return ""
}

// String renders the non-zero faults in ParseFaults syntax; ParseFaults(f.String()) == f.
// No faults renders as "".
func (f Faults) String() string {
	var parts []string
	for _, fk := range faultKeys {
		if v := fk.format(&f); v != "" {
			parts = append(parts, fk.name+"="+v)
		}
	}
	return strings.Join(parts, ",")
}

func lookupFaultKey(name string) (faultKey, bool) {
	for _, fk := range faultKeys {
		if fk.name == name {
			return fk, true
		}
	}
	return faultKey{}, false
}

func knownFaultKeys() string {
	names := make([]string, len(faultKeys))
	for i, fk := range faultKeys {
		names[i] = fk.name
	}
	return strings.Join(names, ", ")
}

// clip shortens s to at most n bytes for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
