package ui

import (
	"fmt"
	"image"
	"time"
)

// The QA tab's latency chart: one bar per cycle, its height the cycle's
// latency median (the master's stamped frames' age when decoded); cycles
// with no reading (a master without the stamped pattern, a failed cycle)
// have no bar.

// latencyData returns the chart's points and its scale, and how many cycles
// had a reading.
func (v *QAView) latencyData() (pts []ChartPoint, top time.Duration, n int) {
	var lats []time.Duration
	for _, c := range v.results {
		pts = append(pts, ChartPoint{TTFF: c.Latency, OK: true})
		if c.Latency > 0 {
			lats = append(lats, c.Latency)
		}
	}
	for _, l := range lats {
		top = max(top, l)
	}
	// Latencies are tens of milliseconds: a finer scale than TTFF's.
	const step = 10 * time.Millisecond
	return pts, max(step, (top+step-1)/step*step), len(lats)
}

func (v *QAView) drawLatency(w, h int) image.Image {
	pts, top, _ := v.latencyData()
	return DrawTTFFChart(pts, make([]bool, len(pts)), top, w, h)
}

// latencyAxis words the latency chart's scale.
func (v *QAView) latencyAxis() string {
	pts, top, n := v.latencyData()
	if n == 0 {
		return "no readings: the master sends no stamped pattern"
	}
	return fmt.Sprintf("0 – %s · %d of %d cycles read · capture to decode", ms(top), n, len(pts))
}
