package call

import (
	"fmt"
	"slices"
	"strings"
)

// CandidateTypes is a set of ICE candidate types, for the candidate filters
// of the KVS test page: which local candidates the app sends, and which of
// the master's it accepts. The zero value means all of them.
type CandidateTypes string

// The candidate types a filter can name.
const (
	CandidateHost  = "host"  // an address of this machine
	CandidateSrflx = "srflx" // the address a STUN server sees (server reflexive)
	CandidateRelay = "relay" // an address on a TURN server
)

// AllCandidates is every candidate type.
const AllCandidates CandidateTypes = CandidateHost + "," + CandidateSrflx + "," + CandidateRelay

var candidateTypes = []string{CandidateHost, CandidateSrflx, CandidateRelay}

// Has reports whether the set holds typ (an empty set holds all).
func (t CandidateTypes) Has(typ string) bool {
	return t == "" || slices.Contains(strings.Split(string(t), ","), typ)
}

// All reports whether the set holds every type.
func (t CandidateTypes) All() bool {
	for _, typ := range candidateTypes {
		if !t.Has(typ) {
			return false
		}
	}
	return true
}

// check reports a set that names something else than the three types, or
// none of them.
func (t CandidateTypes) check() error {
	if t == "" {
		return nil
	}
	for _, typ := range strings.Split(string(t), ",") {
		if !slices.Contains(candidateTypes, typ) {
			return fmt.Errorf("%q is not a candidate type: use host, srflx and relay, comma-separated", typ)
		}
	}
	return nil
}

// candidateType returns the type of an ICE candidate line ("candidate:...
// typ host ..."), "" when it names none.
func candidateType(line string) string {
	fields := strings.Fields(line)
	for i, f := range fields {
		if f == "typ" && i+1 < len(fields) {
			return fields[i+1]
		}
	}
	return ""
}

// allows reports whether a candidate line passes the filter. Peer-reflexive
// and unknown types pass: they are learned, not chosen.
func (t CandidateTypes) allows(line string) bool {
	typ := candidateType(line)
	return !slices.Contains(candidateTypes, typ) || t.Has(typ)
}

// filterSDP drops the a=candidate lines of an SDP that the filter refuses
// (candidates carried in an offer or answer rather than trickled).
func (t CandidateTypes) filterSDP(sdp string) string {
	if t.All() {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, l := range lines {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a="); ok && strings.HasPrefix(c, "candidate:") && !t.allows(c) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// sdpCandidates returns the candidates an SDP carries (its a=candidate lines,
// without "a=candidate:"), as a set.
func sdpCandidates(sdp string) map[string]bool {
	out := map[string]bool{}
	for l := range strings.SplitSeq(sdp, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:"); ok {
			out[c] = true
		}
	}
	return out
}
