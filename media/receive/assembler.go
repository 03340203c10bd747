package receive

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/kvsviewer/kvsviewer/media/decode"
)

// The assembler's bounds on a hole in the sequence (a packet lost or late):
// it waits for the hole to fill while fewer than maxLatePackets sequence
// numbers separate the first missing packet from the newest one (enough for
// a large keyframe), and for at most maxSampleDelay after the first packet
// past the hole arrived.
const (
	maxLatePackets = 512 // a power of two: the ring's size
	maxSampleDelay = 300 * time.Millisecond
)

// frame is one encoded picture put back together from its RTP packets.
type frame struct {
	data        []byte
	timestamp   uint32 // RTP timestamp
	gap         bool   // packets were dropped between the previous frame and this one
	first, last uint16 // sequence numbers of its first and last packet
}

// slot holds one buffered packet and when it arrived.
type slot struct {
	pkt     *rtp.Packet
	arrived time.Time
}

// assembler turns a video track's RTP packets into frames (a jitter buffer).
//
// Packets are kept by sequence number in a ring of maxLatePackets slots, the
// window starting at next, the first sequence number not yet emitted or
// dropped. A frame is emitted as soon as a contiguous run of packets from
// next, starting with a partition head, reaches the packet that ends the
// frame (the RTP marker bit, confirmed by the depacketizer's tail check), or
// a packet of another timestamp (a sender that sets no marker), without
// waiting for the next frame. Packets arriving out of order within the window
// are put in their place. A hole (a missing packet) waits at most
// maxSampleDelay after the first packet past it arrived, or until a packet
// maxLatePackets past next arrives; then the packets before the next frame
// start after the hole are dropped and the next frame emitted carries gap.
//
// The window starts at the first packet. Until a frame was emitted or
// packets dropped (fresh), an earlier packet arriving late moves the start
// back, and a run without a partition head (the end of a frame whose start
// was never received, or whose head is late) is dropped only once a complete
// frame follows it: the first packets before any partition head are dropped,
// and a first frame reordered on the way is not cut.
//
// Packets without payload (padding) are passed over without a gap. Sequence
// numbers wrap at 65535; a jump of more than the window backwards is taken as
// the sender restarting its sequence and starts the window again. The
// assembler is used by one goroutine.
type assembler struct {
	dp    rtp.Depacketizer        // partition head and tail checks
	newDP func() rtp.Depacketizer // a fresh depacketizer for each frame's payloads

	ring      [maxLatePackets]slot
	next      uint16    // first sequence number not yet emitted or dropped
	scan      uint16    // [next, scan) is a contiguous run of buffered packets
	pending   int       // packets buffered (all in the window)
	started   bool      // next is valid: a packet arrived since the start or the last reset
	fresh     bool      // nothing emitted or dropped since the window started
	floor     uint16    // after a reset that dropped packets: packets before floor are late
	hasFloor  bool      // floor is set
	emitted   bool      // a frame was emitted: losses from now on are gaps
	gap       bool      // packets were dropped since the last emitted frame
	holeAt    uint16    // the first missing packet after next
	holeSince time.Time // when the first packet past holeAt arrived; zero: not known yet

	out []frame // Push's result, reused
}

// newAssembler makes an assembler for codec c using pion's depacketizers.
func newAssembler(c decode.Codec) *assembler {
	newDP := func() rtp.Depacketizer { return depacketizer(c) }
	return &assembler{dp: newDP(), newDP: newDP}
}

func depacketizer(c decode.Codec) rtp.Depacketizer {
	switch c {
	case decode.H264:
		return &codecs.H264Packet{}
	case decode.H265:
		return &codecs.H265Depacketizer{}
	case decode.VP8:
		return &codecs.VP8Packet{}
	default:
		return &codecs.VP9Packet{}
	}
}

func (a *assembler) slot(seq uint16) *slot { return &a.ring[seq&(maxLatePackets-1)] }

// at is the buffered packet with sequence number seq, or nil.
func (a *assembler) at(seq uint16) *rtp.Packet {
	if p := a.slot(seq).pkt; p != nil && p.SequenceNumber == seq {
		return p
	}
	return nil
}

// Push adds a packet that arrived at now and returns the frames it completed,
// oldest first. The result is valid until the next Push; the frames' data
// is the caller's. Push keeps pkt until it is emitted or dropped.
func (a *assembler) Push(pkt *rtp.Packet, now time.Time) []frame {
	a.out = a.out[:0]
	if a.store(pkt, now) {
		a.advance(now)
	}
	return a.out
}

// store puts pkt into the window and reports whether it was new.
func (a *assembler) store(pkt *rtp.Packet, now time.Time) bool {
	seq := pkt.SequenceNumber
	if !a.started {
		if len(pkt.Payload) == 0 || (a.hasFloor && seq-a.floor >= 0x8000) {
			return false // padding, or from before the reset
		}
		a.started, a.fresh = true, true
		a.next, a.scan, a.holeSince = seq, seq, time.Time{}
	}
	d := seq - a.next
	if d >= 0x8000 { // behind next
		switch {
		case -d > maxLatePackets: // not late: the sender restarted its sequence
			a.reset(false)
			return a.store(pkt, now)
		case !a.rewind(seq):
			return false // late (its frame was emitted or dropped) or a duplicate
		}
		d = 0
	}
	for d >= maxLatePackets { // the hole at next waited for a whole window
		a.skip()
		if !a.started {
			return a.store(pkt, now)
		}
		d = seq - a.next
	}
	s := a.slot(seq)
	if s.pkt != nil { // every slot in the window maps one sequence number: a duplicate
		return false
	}
	*s = slot{pkt: pkt, arrived: now}
	a.pending++
	return true
}

// rewind moves the window's start back to seq, when nothing was emitted or
// dropped yet and every buffered packet stays in the window.
func (a *assembler) rewind(seq uint16) bool {
	if !a.fresh || (a.hasFloor && seq-a.floor >= 0x8000) {
		return false
	}
	for i := range a.ring {
		if p := a.ring[i].pkt; p != nil && p.SequenceNumber-seq >= maxLatePackets {
			return false
		}
	}
	a.next, a.scan, a.holeSince = seq, seq, time.Time{}
	return true
}

// reset drops every buffered packet and starts the window again at the next
// packet; the next frame carries gap. After a skip (late is true) packets up
// to the newest one dropped count as late.
func (a *assembler) reset(late bool) {
	span := a.scan - a.next // the run from next, and every buffered packet after it
	for i := range a.ring {
		if p := a.ring[i].pkt; p != nil {
			span = max(span, p.SequenceNumber-a.next+1)
		}
		a.ring[i] = slot{}
	}
	a.floor, a.hasFloor = a.next+span, late
	a.started, a.pending, a.holeSince = false, 0, time.Time{}
	a.markGap()
}

// markGap notes that packets were dropped: the next frame emitted says so
// (frames dropped before the first one emitted are no gap to the decoder).
func (a *assembler) markGap() {
	a.gap = a.gap || a.emitted
	a.fresh = false
}

// advance emits the frames that are complete from next on, and skips a hole
// that waited too long.
func (a *assembler) advance(now time.Time) {
	for a.started {
		a.extend()
		hole := a.scan // past a run without head that waits for its head (fresh)
		for hole-a.next < maxLatePackets && a.at(hole) != nil {
			hole++
		}
		if a.pending == int(hole-a.next) {
			return // no hole: the frame at next is still coming in
		}
		if a.holeSince.IsZero() || a.holeAt != hole {
			a.holeSince, a.holeAt = a.firstArrivalPast(hole), hole
		}
		if now.Sub(a.holeSince) < maxSampleDelay {
			return
		}
		a.skip()
	}
}

// extend grows the contiguous run from next and emits each frame it
// completes; it stops at a hole or the end of the window.
func (a *assembler) extend() {
	for a.scan-a.next < maxLatePackets {
		p := a.at(a.scan)
		if p == nil {
			return
		}
		if a.scan == a.next {
			if len(p.Payload) == 0 { // padding
				a.drop(a.next + 1)
				continue
			}
			if !a.dp.IsPartitionHead(p.Payload) {
				switch {
				case !a.fresh: // the rest of a frame whose head was dropped
					a.markGap()
					a.drop(a.next + 1)
				case !a.dropHeadless():
					return // its head may still come, or a frame after it
				}
				continue
			}
		} else if len(p.Payload) > 0 && p.Timestamp != a.at(a.next).Timestamp {
			a.emit(a.scan) // the frame had no marker: it ended before p
			continue
		}
		a.scan++
		a.holeSince = time.Time{}
		if a.isEnd(p) {
			a.emit(a.scan)
		}
	}
}

// isEnd reports whether p is a frame's last packet: the marker, not the
// depacketizer's tail check alone, which for H.265 also fires at the end of
// every fragmented NAL unit of a frame.
func (a *assembler) isEnd(p *rtp.Packet) bool {
	return p.Marker && a.dp.IsPartitionTail(p.Marker, p.Payload)
}

// runEnd finds where the frame starting at start ends (one past its last
// packet) if its packets up to there are buffered.
func (a *assembler) runEnd(start uint16) (uint16, bool) {
	for s := start; s-a.next < maxLatePackets; s++ {
		p := a.at(s)
		switch {
		case p == nil:
			return 0, false
		case s != start && len(p.Payload) > 0 && p.Timestamp != a.at(start).Timestamp:
			return s, true
		case a.isEnd(p):
			return s + 1, true
		}
	}
	return 0, false
}

// dropHeadless drops the run without a partition head at next (fresh only)
// once a complete frame follows it, and reports whether it did.
func (a *assembler) dropHeadless() bool {
	end, ok := a.runEnd(a.next)
	if !ok {
		return false
	}
	if p := a.at(end); p == nil || len(p.Payload) == 0 || !a.dp.IsPartitionHead(p.Payload) {
		return false
	}
	if _, ok := a.runEnd(end); !ok {
		return false
	}
	a.markGap()
	a.drop(end)
	return true
}

// drop forgets the packets from next up to end and moves next there.
func (a *assembler) drop(end uint16) {
	for ; a.next != end; a.next++ {
		a.release(a.next)
	}
	a.scan, a.holeSince = a.next, time.Time{}
}

// emit puts the packets [next, end) together into a frame (dropped, with a
// gap, when the depacketizer rejects one) and moves next to end.
func (a *assembler) emit(end uint16) {
	dp := a.newDP()
	size := 0
	for s := a.next; s != end; s++ {
		size += len(a.at(s).Payload) + 4 // H.264/H.265 add a start code per NAL unit
	}
	f := frame{data: make([]byte, 0, size), timestamp: a.at(a.next).Timestamp, first: a.next, last: end - 1}
	ok := true
	for s := a.next; s != end && ok; s++ {
		if p := a.at(s).Payload; len(p) > 0 {
			b, err := dp.Unmarshal(p)
			ok = err == nil
			f.data = append(f.data, b...)
		}
	}
	a.drop(end)
	if !ok || len(f.data) == 0 {
		a.markGap()
		return
	}
	f.gap = a.gap
	a.gap, a.emitted, a.fresh = false, true, false
	a.out = append(a.out, f)
}

// skip drops the packets from next up to the first frame start after the
// hole, or all of them (and starts the window again) when it holds none.
func (a *assembler) skip() {
	start, ok := a.nextFrameStart()
	if !ok {
		a.reset(true)
		return
	}
	a.markGap()
	a.drop(start)
}

// nextFrameStart finds the first buffered packet after next that starts a
// frame: a partition head whose timestamp differs from the packet before it
// in the window, or that follows a frame's last packet directly. (A head with
// the timestamp of the packets before it is another NAL unit of their frame.)
func (a *assembler) nextFrameStart() (uint16, bool) {
	var prev *rtp.Packet
	for s := a.next; s-a.next < maxLatePackets; s++ {
		p := a.at(s)
		if p == nil || len(p.Payload) == 0 {
			continue
		}
		if s != a.next && a.dp.IsPartitionHead(p.Payload) && (prev == nil || p.Timestamp != prev.Timestamp ||
			(prev.SequenceNumber+1 == s && prev.Marker)) {
			return s, true
		}
		prev = p
	}
	return 0, false
}

// firstArrivalPast is the earliest arrival of the packets buffered after seq.
func (a *assembler) firstArrivalPast(seq uint16) time.Time {
	var first time.Time
	for s := seq + 1; s-a.next < maxLatePackets; s++ {
		if a.at(s) == nil {
			continue
		}
		if t := a.slot(s).arrived; first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// release forgets the packet with sequence number seq, if buffered.
func (a *assembler) release(seq uint16) {
	if s := a.slot(seq); s.pkt != nil && s.pkt.SequenceNumber == seq {
		*s = slot{}
		a.pending--
	}
}
