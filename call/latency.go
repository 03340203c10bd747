package call

import (
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// The latency meter reads the capture time a pattern master (the demo
// master, `kvsviewer master`) stamps into every frame (media/pattern's
// bottom strip) back from the decoded frames: capture -> encode -> network
// -> jitter buffer -> decode. One frame in latencyEvery is read, and the
// percentiles cover the last latencyWindow. A master on another machine
// stamps with its own clock: the figure is then only as good as the two
// clocks' agreement. Frames without a stamp (a camera) give no figure.
const (
	latencyEvery  = 3
	latencyWindow = 5 * time.Second
)

// latencyMeter keeps the recent latency samples of a session's video, and
// the one-way delay its RTCP sender reports give.
type latencyMeter struct {
	mu      sync.Mutex
	frames  uint64
	samples []latencySample
	srDelay time.Duration // the latest sender report's arrival minus its NTP time
}

type latencySample struct {
	at time.Time
	d  time.Duration
}

// frame reads the stamp of one decoded frame in latencyEvery.
func (m *latencyMeter) frame(f sink.Frame) {
	m.mu.Lock()
	m.frames++
	n := m.frames
	m.mu.Unlock()
	if n%latencyEvery != 1 || f.Image == nil {
		return
	}
	stamp, ok := pattern.ReadStamp(f.Image)
	if !ok {
		return
	}
	at := f.Decoded
	if at.IsZero() {
		at = time.Now()
	}
	d := pattern.StampAge(stamp, at)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, latencySample{at, d})
	if cut := slices.IndexFunc(m.samples, func(s latencySample) bool { return at.Sub(s.at) <= latencyWindow }); cut > 0 {
		m.samples = slices.Delete(m.samples, 0, cut)
	}
}

// percentiles returns the median and 95th percentile of the samples of the
// last latencyWindow before now, and how many there were.
func (m *latencyMeter) percentiles(now time.Time) (p50, p95 time.Duration, n int) {
	m.mu.Lock()
	ds := recentSorted(m.samples, latencyWindow, now)
	m.mu.Unlock()
	if len(ds) == 0 {
		return 0, 0, 0
	}
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.5), at(0.95), len(ds)
}

// recentSorted returns the figures of the samples taken at most window
// before now, in increasing order (the latency and A/V sync meters).
func recentSorted(samples []latencySample, window time.Duration, now time.Time) []time.Duration {
	var ds []time.Duration
	for _, s := range samples {
		if now.Sub(s.at) <= window {
			ds = append(ds, s.d)
		}
	}
	slices.Sort(ds)
	return ds
}

// readReports reads the RTCP of the master's video until the track ends:
// each sender report's arrival against the NTP time it carries is the
// one-way delay from the master's clock to ours (the network plus the
// clocks' difference; no capture, coding or buffering), the estimate that
// needs no stamped picture.
func (s *session) readReports(rx *webrtc.RTPReceiver, ssrc webrtc.SSRC) {
	for {
		pkts, _, err := rx.ReadRTCP()
		if err != nil {
			return // the track or the peer connection ended
		}
		now := time.Now()
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == uint32(ssrc) {
				s.latency.report(now.Sub(ntpTime(sr.NTPTime)))
			}
		}
	}
}

// report records a sender report's delay.
func (m *latencyMeter) report(d time.Duration) {
	m.mu.Lock()
	m.srDelay = d
	m.mu.Unlock()
}

// senderReportDelay returns the latest sender report's delay (0: none yet).
func (m *latencyMeter) senderReportDelay() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.srDelay
}

// ntpTime converts an RTCP NTP timestamp (seconds since 1900 in the high 32
// bits, their fraction in the low 32) to a time.
func ntpTime(ntp uint64) time.Time {
	const unixFrom1900 = 2_208_988_800
	secs, frac := int64(ntp>>32)-unixFrom1900, ntp&0xffff_ffff
	return time.Unix(secs, int64(frac*1e9>>32))
}

// meteredSink is a session's video sink with the latency and A/V sync
// meters in front.
type meteredSink struct {
	gatedSink
	m  *latencyMeter
	av *avSyncMeter
}

// PutFrame implements sink.FrameSink.
func (s meteredSink) PutFrame(f sink.Frame) {
	s.m.frame(f)
	s.av.frame(f)
	s.gatedSink.PutFrame(f)
}
