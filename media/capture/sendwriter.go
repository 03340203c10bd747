// The writer a SendTrack hands mediadevices for each binding: it never
// fails, rewrites the payload type, applies SetPaused and forces a keyframe
// when SRTP comes up (see SendTrack).

package capture

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/rtpkey"
)

// sendWriter is the writer of one binding; mediadevices calls it from one goroutine.
type sendWriter struct {
	t     *SendTrack
	next  webrtc.TrackLocalWriter
	ready chan struct{} // closed once pt and mime are set
	pt    uint8         // the negotiated payload type of the binding's codec
	mime  string        // that codec's MIME type

	started  bool   // ready was seen
	seqShift uint16 // packets dropped by the pause so far
	srtpUp   bool   // a packet has gone out through SRTP
	wasDrop  bool   // pion dropped a packet before SRTP was up
	errLog   bool   // the first write error was logged
}

// WriteRTP writes one packet, or drops it while paused. It never returns an error.
func (w *sendWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if !w.started {
		<-w.ready
		w.started = true
	}
	w.t.writes.Add(1)
	if w.t.paused.Load() {
		w.seqShift++
		w.t.dropped.Add(1)
		return len(payload), nil
	}
	hdr := *h
	hdr.SequenceNumber -= w.seqShift
	hdr.PayloadType = w.pt
	n, err := w.next.WriteRTP(&hdr, payload)
	switch {
	case err != nil:
		w.t.writeErrs.Add(1)
		if !w.errLog {
			w.errLog = true
			w.t.log.Debug("RTP write failed; dropping until unbound", "track", w.t.id, "err", err)
		}
	case n == 0 && !w.srtpUp:
		// pion drops packets until SRTP is ready and reports 0 bytes written.
		w.wasDrop = true
	case n > 0:
		w.t.sent.Add(1)
		w.t.sentBytes.Add(uint64(n))
		if !w.srtpUp {
			w.srtpUp = true
			// A keyframe whose start was dropped is useless to the remote:
			// ask for another, unless this packet starts one.
			if w.wasDrop && !rtpkey.Starts(w.mime, payload) && w.t.ForceKeyFrame() {
				w.t.log.Debug("SRTP up: forced a keyframe", "track", w.t.id)
			}
		}
	}
	return len(payload), nil
}

// Write writes one marshalled RTP packet through WriteRTP. It never returns an error.
func (w *sendWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		w.t.writeErrs.Add(1)
		return len(b), nil
	}
	_, _ = w.WriteRTP(&p.Header, p.Payload) // never fails
	return len(b), nil
}
