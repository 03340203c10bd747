package call

import (
	"strings"
	"testing"
)

func TestCandidateFilter(t *testing.T) {
	sdp := "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n" +
		"a=candidate:2 1 udp 16777215 127.0.0.1 6000 typ relay raddr 0.0.0.0 rport 0\r\nm=video 9\r\n"
	got := CandidateTypes(CandidateRelay).filterSDP(sdp)
	if strings.Contains(got, "typ host") || !strings.Contains(got, "typ relay") || !strings.Contains(got, "m=video") {
		t.Errorf("filtered SDP:\n%s", got)
	}
	if AllCandidates.filterSDP(sdp) != sdp || CandidateTypes("").filterSDP(sdp) != sdp {
		t.Error("an all-types filter changed the SDP")
	}
	f := CandidateTypes("host,srflx")
	for line, want := range map[string]bool{
		"candidate:1 1 udp 1 10.0.0.1 1 typ host": true,
		"candidate:1 1 udp 1 1.2.3.4 1 typ srflx": true,
		"candidate:1 1 udp 1 1.2.3.4 1 typ relay": false,
		"candidate:1 1 udp 1 1.2.3.4 1 typ prflx": true, // learned, not chosen
		"not a candidate":                         true,
	} {
		if got := f.allows(line); got != want {
			t.Errorf("allows(%q) = %v", line, got)
		}
	}
	for _, bad := range []CandidateTypes{"udp", "host,", "host,srflx,relay,tcp"} {
		if bad.check() == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
