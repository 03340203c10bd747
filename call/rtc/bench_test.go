package rtc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkOffererConnect measures, over b.N calls between two pion peers on
// loopback with trickle ICE, the time from SetRemoteDescription(answer) on the
// offerer to the offerer's ICE connected state, and reports p50/p95/max in ms
// (ice_*), plus the same for the offerer's peer connection (pc_*, DTLS done)
// and how many runs took 500 ms or more (*_over500ms). "pion-defaults" is
// pion's stock ICE settings, "tuned" is NewAPI; the scenarios are described
// on the scenario type, each with a signaling hop of 0, 2 or 20 ms.
//
//	go test -run xxx -bench 'OffererConnect/tuned' -benchtime 100x ./call/rtc/
//	go test -run xxx -bench 'OffererConnect/pion-defaults/prflx' -benchtime 20x ./call/rtc/
//
// (-bench splits its pattern at each slash, one part per sub-benchmark level.)
func BenchmarkOffererConnect(b *testing.B) {
	type variant struct {
		name string
		sc   scenario
	}
	var variants []variant
	for _, hop := range []time.Duration{0, 2 * time.Millisecond, 20 * time.Millisecond} {
		variants = append(variants,
			variant{fmt.Sprintf("trickle/hop=%v", hop), scenario{hop: hop}},
			variant{fmt.Sprintf("sdp-after-sld/hop=%v", hop), scenario{hop: hop, sdpAfterSLD: true}},
			variant{fmt.Sprintf("prflx-only/hop=%v", hop), scenario{hop: hop, dropAnswerCands: true}},
		)
	}
	for _, v := range variants {
		for _, tune := range []bool{false, true} {
			name := "pion-defaults/" + v.name
			if tune {
				name = "tuned/" + v.name
			}
			b.Run(name, func(b *testing.B) {
				benchConnect(b, tune, v.sc)
			})
		}
	}
}

// benchConnect runs b.N calls of scenario sc and reports their percentiles.
func benchConnect(b *testing.B, tune bool, sc scenario) {
	o := Options{Loopback: true}
	api, err := newAPI(o, tune)
	if err != nil {
		b.Fatal(err)
	}
	cfg := Configuration(nil, o)
	ice := make([]time.Duration, 0, b.N)
	pc := make([]time.Duration, 0, b.N)
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := connectOnce(ctx, api, api, cfg, sc)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		ice = append(ice, res.offererICE)
		pc = append(pc, res.offererPC)
	}
	report(b, "ice", ice)
	report(b, "pc", pc)
}

// report adds p50, p95 and max of d (in ms) to the benchmark's metrics.
func report(b *testing.B, name string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	b.ReportMetric(ms(d[len(d)*50/100]), name+"_p50_ms")
	b.ReportMetric(ms(d[min(len(d)-1, len(d)*95/100)]), name+"_p95_ms")
	b.ReportMetric(ms(d[len(d)-1]), name+"_max_ms")
	slow := 0
	for _, x := range d {
		if x >= 500*time.Millisecond {
			slow++
		}
	}
	b.ReportMetric(float64(slow), name+"_over500ms")
}
