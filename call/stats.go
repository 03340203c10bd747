package call

import (
	"image"
	"image/color"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/decode"
)

// statsLoop publishes live stats about once a second and watches for a media
// stall while the call is up.
func (s *session) statsLoop(pc *webrtc.PeerConnection) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var prevIn, prevOut uint64
	prevAt := time.Now()
	var lastDecoded uint64
	lastProgress := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			// pion's GetStats races with PeerConnection.Close: teardown takes
			// statsMu before closing, and we never start GetStats after that.
			s.statsMu.Lock()
			if s.ctx.Err() != nil {
				s.statsMu.Unlock()
				return
			}
			report := pc.GetStats()
			s.statsMu.Unlock()
			st := collectStats(report)
			rs := s.deps.remote.Stats()
			st.Codec, st.Width, st.Height, st.FPS = rs.Codec, rs.Width, rs.Height, rs.FPS
			st.FramesDecoded, st.FramesDropped = rs.Decoded, rs.Dropped
			s.mu.Lock()
			if p := s.player; p != nil {
				ps := p.Stats()
				st.AudioLevelDBFS, st.AudioOutput = p.Level(), p.Device()
				st.AudioUnderrun = time.Duration(ps.Underrun) * time.Second / time.Duration(p.SampleRate())
				st.AudioStarved = ps.Starved
			}
			if l := s.local; l != nil {
				st.LocalVideo, st.LocalAudio = l.VideoSource, l.AudioSource
				st.InputLevelDBFS = l.InputLevel()
				// pion's GetStats has no outbound RTP stats: count what our send tracks sent.
				for _, tr := range []*capture.SendTrack{l.VideoSend, l.AudioSend} {
					if tr != nil {
						st.bytesOut += tr.Stats().SentBytes
					}
				}
			}
			s.mu.Unlock()
			s.data.mu.Lock()
			st.DataRTT = s.data.rtt
			s.data.mu.Unlock()
			s.meterStats(&st.Stats, now)
			secs := now.Sub(prevAt).Seconds()
			if secs > 0 && prevAt != (time.Time{}) {
				st.InboundKbps = float64(st.bytesIn-prevIn) * 8 / 1000 / secs
				st.OutboundKbps = float64(st.bytesOut-prevOut) * 8 / 1000 / secs
			}
			prevIn, prevOut, prevAt = st.bytesIn, st.bytesOut, now
			s.post(sessionEvent{kind: evStats, stats: &st.Stats})

			// A stall: frames were decoded before, and none for MediaStallTimeout.
			if rs.Decoded != lastDecoded {
				lastDecoded, lastProgress = rs.Decoded, now
			} else if lastDecoded > 0 && now.Sub(lastProgress) >= s.deps.cfg.MediaStallTimeout {
				s.post(sessionEvent{kind: evStall, err: errStall(now.Sub(lastProgress))})
				lastProgress = now
			}
		}
	}
}

// meterStats fills in the latency and A/V sync meters' figures as of now.
func (s *session) meterStats(st *Stats, now time.Time) {
	st.Latency, st.LatencyP95, st.LatencySamples = s.latency.percentiles(now)
	st.SenderReportDelay = s.latency.senderReportDelay()
	st.AVSync, st.AVSyncSamples = s.avsync.median(now)
}

type stallError time.Duration

func (e stallError) Error() string {
	return "no video frame decoded for " + time.Duration(e).Round(100*time.Millisecond).String()
}

func errStall(d time.Duration) error { return stallError(d) }

type rawStats struct {
	Stats
	bytesIn, bytesOut uint64
}

func collectStats(report webrtc.StatsReport) rawStats {
	var st rawStats
	var received uint32
	candTypes := map[string]string{}
	var localCand string
	for _, v := range report {
		switch x := v.(type) {
		case webrtc.InboundRTPStreamStats:
			st.bytesIn += x.BytesReceived
			st.PacketsLost += int64(x.PacketsLost)
			received += x.PacketsReceived
			switch x.Kind {
			case "video":
				st.Jitter = time.Duration(x.Jitter * float64(time.Second))
			case "audio":
				st.AudioPackets = uint64(x.PacketsReceived)
			}
		case webrtc.ICECandidatePairStats:
			if x.Nominated && x.State == webrtc.StatsICECandidatePairStateSucceeded {
				st.RTT = time.Duration(x.CurrentRoundTripTime * float64(time.Second))
				localCand = x.LocalCandidateID
			}
		case webrtc.ICECandidateStats:
			candTypes[x.ID] = x.CandidateType.String()
		}
	}
	st.CandidateType = candTypes[localCand]
	if total := float64(received) + float64(st.PacketsLost); total > 0 && st.PacketsLost > 0 {
		st.LossPercent = 100 * float64(st.PacketsLost) / total
	}
	return st
}

// thumbnail scales img down to at most maxW pixels wide into dst (reused
// when its size fits), by nearest-neighbour sampling: cheap enough for a
// preview inset. It keeps the picture in 4:2:0 planes, which a display
// converts fastest; Go's YCbCr images are full-range (JFIF) BT.601.
func thumbnail(img image.Image, dst *decode.Picture, maxW int) *decode.Picture {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		w, h = 1, 1
	}
	tw := min(w, maxW)
	th := max(h*tw/w, 1)
	if dst == nil || dst.Rect.Dx() != tw || dst.Rect.Dy() != th {
		dst = &decode.Picture{YCbCr: *image.NewYCbCr(image.Rect(0, 0, tw, th), image.YCbCrSubsampleRatio420), FullRange: true}
	}
	yc, isYC := img.(*image.YCbCr)
	for y := range th {
		sy := b.Min.Y + y*h/th
		row := dst.Y[y*dst.YStride:]
		for x := range tw {
			sx := b.Min.X + x*w/tw
			if isYC {
				row[x] = yc.Y[yc.YOffset(sx, sy)]
				continue
			}
			r, g, bl, _ := img.At(sx, sy).RGBA()
			row[x], _, _ = color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	cw, ch := (tw+1)/2, (th+1)/2
	for y := range ch {
		sy := b.Min.Y + min(2*y, th-1)*h/th
		cb, cr := dst.Cb[y*dst.CStride:], dst.Cr[y*dst.CStride:]
		for x := range cw {
			sx := b.Min.X + min(2*x, tw-1)*w/tw
			if isYC {
				ci := yc.COffset(sx, sy)
				cb[x], cr[x] = yc.Cb[ci], yc.Cr[ci]
				continue
			}
			r, g, bl, _ := img.At(sx, sy).RGBA()
			_, cb[x], cr[x] = color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return dst
}
