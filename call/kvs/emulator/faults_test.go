package emulator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseFaultsRoundTrip(t *testing.T) {
	spec := "drop-offers=2,drop-offer-every=3,delay-answer=2s,delay-ice-config=150ms,reuse-cooldown=60s,stale-viewers=30s," +
		"go-away-after=3s,reconnect-ice-after=3s,drop-socket-after=2s,malformed-every=2,reject-403=1," +
		"stall-http=2,stall-ws=1,reject-unrecognized-client=1,reject-invalid-signature=2,reject-expired-token=3,no-turn=1," +
		"loss=2.5%,delay=80ms,blackout=3s@5s"
	f, err := ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{
		DropNextOffers: 2, DropOfferEvery: 3, AnswerDelay: 2 * time.Second, ICEConfigDelay: 150 * time.Millisecond, ReuseCooldown: time.Minute,
		StaleViewerHold: 30 * time.Second, GoAwayAfter: 3 * time.Second, ReconnectICEAfter: 3 * time.Second,
		DropSocketAfter: 2 * time.Second, MalformedEvery: 2, Reject403: 1,
		StallHTTP: 2, StallWS: 1, RejectUnrecognizedClient: 1, RejectInvalidSignature: 2, RejectExpiredToken: 3, NoTURN: 1,
		RelayLoss: 2.5, RelayDelay: 80 * time.Millisecond, BlackoutFor: 3 * time.Second, BlackoutAfter: 5 * time.Second,
	}
	if f != want {
		t.Fatalf("ParseFaults = %+v, want %+v", f, want)
	}
	back, err := ParseFaults(f.String())
	if err != nil || back != f {
		t.Fatalf("round trip of %q: %+v, %v", f.String(), back, err)
	}
	if s := (Faults{}).String(); s != "" {
		t.Errorf("no faults renders as %q", s)
	}
	if f, err := ParseFaults("  "); err != nil || f != (Faults{}) {
		t.Errorf("blank spec: %+v, %v", f, err)
	}
	if f, err := ParseFaults(" delay-answer = 1500ms , reject-403=0 "); err != nil || f.AnswerDelay != 1500*time.Millisecond {
		t.Errorf("spaced spec: %+v, %v", f, err)
	}
	if !strings.HasSuffix(f.String(), ",reject-expired-token=3,no-turn=1,loss=2.5%,delay=80ms,blackout=3s@5s") {
		t.Errorf("String() = %q, want the relay faults last, in spec syntax", f.String())
	}
}

func TestParseRelayFaults(t *testing.T) {
	for spec, want := range map[string]Faults{
		"loss=5%":            {RelayLoss: 5},
		"loss=5":             {RelayLoss: 5},
		"loss = 0.5 %":       {RelayLoss: 0.5},
		"loss=100%":          {RelayLoss: 100},
		"loss=0%":            {},
		"loss=-0%":           {},
		"delay=250ms":        {RelayDelay: 250 * time.Millisecond},
		"blackout=3s@5s":     {BlackoutFor: 3 * time.Second, BlackoutAfter: 5 * time.Second},
		"blackout=30s":       {BlackoutFor: 30 * time.Second},
		"blackout=3s@0s":     {BlackoutFor: 3 * time.Second},
		"blackout= 2s @ 1m ": {BlackoutFor: 2 * time.Second, BlackoutAfter: time.Minute},
		"blackout=0s@5s":     {}, // no blackout, so no start either
	} {
		f, err := ParseFaults(spec)
		if err != nil || f != want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", spec, f, err, want)
			continue
		}
		if back, err := ParseFaults(f.String()); err != nil || back != f {
			t.Errorf("round trip of %q via %q: %+v, %v", spec, f.String(), back, err)
		}
	}
	if s := (Faults{RelayLoss: 5, BlackoutFor: 3 * time.Second}).String(); s != "loss=5%,blackout=3s@0s" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseFaultsErrors(t *testing.T) {
	cases := map[string]string{
		"bogus=1":                     "unknown key",
		"drop-offers":                 "not key=value",
		"drop-offers=":                "not key=value",
		"drop-offers=-1":              "whole number",
		"drop-offers=two":             "whole number",
		"drop-offers=99999999999":     "whole number",
		"delay-answer=5":              "duration",
		"delay-answer=-1s":            "duration",
		"drop-offers=1,drop-offers=2": "given twice",
		"drop-offers=1,,reject-403=1": "not key=value",
		"loss=101%":                   "percentage",
		"loss=-1%":                    "percentage",
		"loss=NaN%":                   "percentage",
		"loss=Inf":                    "percentage",
		"loss=five":                   "percentage",
		"loss=5%%":                    "percentage",
		"delay=-5ms":                  "duration",
		"delay=5":                     "duration",
		"blackout=3s@":                "D@T",
		"blackout=@5s":                "D@T",
		"blackout=3s@5s@1s":           "D@T",
		"blackout=-3s@5s":             "D@T",
		"blackout=3s@-5s":             "D@T",
		"blackout=3@5":                "D@T",
		"loss=1%,loss=2%":             "given twice",
	}
	for spec, want := range cases {
		_, err := ParseFaults(spec)
		if !errors.Is(err, ErrFaultSpec) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFaults(%q) = %v, want an ErrFaultSpec mentioning %q", spec, err, want)
		}
	}
}

// FuzzParseFaults: never panics; whatever parses renders back to the same Faults.
func FuzzParseFaults(f *testing.F) {
	f.Add("drop-offers=2,drop-offer-every=3,delay-answer=2s,reuse-cooldown=60s")
	f.Add("stale-viewers=30s,go-away-after=3s,reconnect-ice-after=3s,drop-socket-after=2s,malformed-every=2,reject-403=1")
	f.Add("")
	f.Add("=,=,=")
	f.Add("delay-answer=1h2m3.5s")
	f.Add("drop-offers=1\x00")
	f.Add("stall-http=3,stall-ws=1,reject-expired-token=1,reject-invalid-signature=2,reject-unrecognized-client=1")
	f.Add("loss=5%,delay=100ms,blackout=3s@5s")
	f.Add("loss=0x1p-2,blackout=0s@1s")
	f.Add("loss=1e-320%")
	f.Fuzz(func(t *testing.T, spec string) {
		f, err := ParseFaults(spec)
		if err != nil {
			if !errors.Is(err, ErrFaultSpec) {
				t.Fatalf("error does not wrap ErrFaultSpec: %v", err)
			}
			return
		}
		back, err := ParseFaults(f.String())
		if err != nil || back != f {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", spec, f, f.String(), back, err)
		}
	})
}
