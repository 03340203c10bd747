package call_test

import (
	"slices"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/demo"
)

// sentKbps makes a call with the media options tune sets and returns the
// median of the bitrate sent in its stats over four seconds of the call.
func sentKbps(t *testing.T, tune func(*call.Config)) float64 {
	t.Helper()
	r := newRigWith(t, demo.Options{Width: 640, Height: 480}, func(c *call.Config) {
		c.Media.Width, c.Media.Height, c.Media.Audio = 640, 480, "none"
		tune(c)
	})
	r.ctrl.Connect()
	r.waitLive(20 * time.Second)
	r.waitFor(5*time.Second, "stats", func(e call.Event) bool { return e.Kind == call.EventStats }) // the first second warms up
	var rates []float64
	for range 4 {
		st := r.waitFor(5*time.Second, "stats", func(e call.Event) bool { return e.Kind == call.EventStats }).Stats
		rates = append(rates, st.OutboundKbps)
	}
	r.close()
	slices.Sort(rates)
	return (rates[1] + rates[2]) / 2
}

// TestMaxBitrateCapsTheVideoSent: --max-bitrate (Settings "Maximum
// bitrate") reaches the encoder: a 640x480 call capped at 80 kbit/s sends
// about that, well under what the same call sends uncapped.
func TestMaxBitrateCapsTheVideoSent(t *testing.T) {
	const capKbps = 80
	free := sentKbps(t, func(*call.Config) {})
	capped := sentKbps(t, func(c *call.Config) { c.Media.VideoBitrate = capKbps * 1000 })
	t.Logf("sent: %.0f kbit/s uncapped, %.0f kbit/s capped at %d", free, capped, capKbps)
	if capped > capKbps*1.6 || capped > free*0.6 {
		t.Errorf("capped at %d kbit/s the call sent %.0f kbit/s (uncapped %.0f)", capKbps, capped, free)
	}
}
