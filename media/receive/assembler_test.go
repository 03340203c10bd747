package receive

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
)

// frameInterval is the test streams' frame interval: 30 fps.
const frameInterval = 33 * time.Millisecond

// stream is a real encoded clip (x264 or libvpx) packetized by pion's
// payloaders: the packets of each frame, and what each frame depacketizes to.
type stream struct {
	codec  decode.Codec
	frames [][]*rtp.Packet
	want   [][]byte
}

// newStream encodes n frames of the test pattern at w x h, keyframes at 0 and
// at the indexes in keys, and packetizes them with mtu from sequence number
// seq on.
func newStream(t *testing.T, c decode.Codec, w, h, n int, mtu uint16, seq uint16, keys ...int) *stream {
	t.Helper()
	enc, err := decodetest.NewEncoder(c, w, h, 800_000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = enc.Close() }()
	var pl rtp.Payloader
	switch c {
	case decode.H264:
		pl = &codecs.H264Payloader{}
	case decode.VP8:
		pl = &codecs.VP8Payloader{EnablePictureID: true}
	default:
		pl = &codecs.VP9Payloader{}
	}
	pk := rtp.NewPacketizer(mtu, 96, 1, pl, rtp.NewFixedSequencer(seq), 90000)
	s := &stream{codec: c}
	for i := range n {
		if i > 0 && slices.Contains(keys, i) {
			if err := enc.ForceKeyframe(); err != nil {
				t.Fatal(err)
			}
		}
		b, err := enc.Next()
		if err != nil {
			t.Fatal(err)
		}
		if key := decode.IsKeyframe(c, b); key != (i == 0 || slices.Contains(keys, i)) {
			t.Fatalf("frame %d: keyframe %v", i, key)
		}
		pkts := pk.Packetize(b, 3000)
		dp := depacketizer(c)
		var want []byte
		for _, p := range pkts {
			d, err := dp.Unmarshal(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, d...)
		}
		s.frames = append(s.frames, pkts)
		s.want = append(s.want, want)
	}
	return s
}

// packets is the stream's packets in order.
func (s *stream) packets() []*rtp.Packet { return slices.Concat(s.frames...) }

// frameOf is the index of the frame with RTP timestamp ts.
func (s *stream) frameOf(t *testing.T, ts uint32) int {
	t.Helper()
	for i, f := range s.frames {
		if f[0].Timestamp == ts {
			return i
		}
	}
	t.Fatalf("no frame with timestamp %d", ts)
	return -1
}

// out is a frame the assembler emitted, and after which pushed packet.
type out struct {
	frame
	after int // index of the Push call that returned it
}

// feeder pushes packets into an assembler with a clock that the test moves.
type feeder struct {
	a      *assembler
	now    time.Time
	pushes int
	got    []out
}

func newFeeder(c decode.Codec) *feeder {
	return &feeder{a: newAssembler(c), now: time.Unix(1_700_000_000, 0)}
}

// push pushes pkts (copies, as the network would deliver them) and returns
// the frames they completed.
func (f *feeder) push(pkts ...*rtp.Packet) []out {
	var got []out
	for _, p := range pkts {
		c := *p
		c.Payload = slices.Clone(p.Payload)
		for _, fr := range f.a.Push(&c, f.now) {
			got = append(got, out{frame: fr, after: f.pushes})
		}
		f.pushes++
	}
	f.got = append(f.got, got...)
	return got
}

// pushFrames pushes each frame's packets, one frame interval apart.
func (f *feeder) pushFrames(frames ...[]*rtp.Packet) []out {
	var got []out
	for _, pkts := range frames {
		got = append(got, f.push(pkts...)...)
		f.now = f.now.Add(frameInterval)
	}
	return got
}

// check verifies that got are the stream's frames idx, with gap only on
// those in gaps.
func (s *stream) check(t *testing.T, got []out, idx []int, gaps ...int) {
	t.Helper()
	var seen []int
	for _, g := range got {
		seen = append(seen, s.frameOf(t, g.timestamp))
	}
	if !slices.Equal(seen, idx) {
		t.Fatalf("frames %v, want %v", seen, idx)
	}
	for i, g := range got {
		if !bytes.Equal(g.data, s.want[idx[i]]) {
			t.Errorf("frame %d: %d bytes differ from the %d sent", idx[i], len(g.data), len(s.want[idx[i]]))
		}
		if g.gap != slices.Contains(gaps, idx[i]) {
			t.Errorf("frame %d: gap %v", idx[i], g.gap)
		}
		if n := len(s.frames[idx[i]]); g.last-g.first != uint16(n-1) {
			t.Errorf("frame %d: packets %d..%d, want %d of them", idx[i], g.first, g.last, n)
		}
	}
}

// decodeAll runs the frames through a real decoder the way Video's decoder
// loop does (Reset on a gap) and returns, per frame, whether it gave a
// picture; it fails on errors other than ErrNeedKeyframe.
func decodeAll(t *testing.T, c decode.Codec, got []out) []bool {
	t.Helper()
	dec, err := decode.NewVideoDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pics []bool
	for i, g := range got {
		if g.gap {
			dec.Reset()
		}
		pic, err := dec.DecodePicture(g.data)
		if err != nil && !errors.Is(err, decode.ErrNeedKeyframe) {
			t.Fatalf("frame %d: %v", i, err)
		}
		pics = append(pics, pic != nil)
	}
	return pics
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestAssemblerInOrder: every frame comes out on the Push of its last packet
// (not when the next frame starts), as sent, and decodes.
func TestAssemblerInOrder(t *testing.T) {
	for _, c := range []decode.Codec{decode.H264, decode.VP8, decode.VP9} {
		t.Run(string(c), func(t *testing.T) {
			s := newStream(t, c, 640, 360, 12, 1200, 1000, 6)
			f := newFeeder(c)
			for i, pkts := range s.frames {
				got := f.pushFrames(pkts)
				s.check(t, got, []int{i})
				if got[0].after != f.pushes-1 {
					t.Errorf("frame %d came out after packet %d of %d", i, got[0].after, f.pushes)
				}
			}
			if multi := slices.IndexFunc(s.frames, func(p []*rtp.Packet) bool { return len(p) > 1 }); multi < 0 {
				t.Error("no frame spans several packets: the test does not test assembly")
			}
			for i, ok := range decodeAll(t, c, f.got) {
				if !ok {
					t.Errorf("frame %d: no picture", i)
				}
			}
			if f.a.pending != 0 {
				t.Errorf("%d packets still buffered", f.a.pending)
			}
		})
	}
}

// TestAssemblerReorderedWithinFrame: a frame whose packets arrive in another
// order comes out once its last missing packet arrives, put back in order;
// the first frame too, whose head may come after its other packets.
func TestAssemblerReorderedWithinFrame(t *testing.T) {
	s := newStream(t, decode.H264, 640, 360, 6, 300, 500)
	f := newFeeder(decode.H264)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, pkts := range s.frames {
		shuffled := slices.Clone(pkts)
		for slices.Equal(shuffled, pkts) && len(pkts) > 1 {
			rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		}
		got := f.pushFrames(shuffled)
		s.check(t, got, []int{i})
		if got[0].after != f.pushes-1 {
			t.Errorf("frame %d came out before all of its %d packets were in", i, len(pkts))
		}
	}
	for i, ok := range decodeAll(t, decode.H264, f.got) {
		if !ok {
			t.Errorf("frame %d: no picture", i)
		}
	}
}

// TestAssemblerReorderedAcrossFrames: the next frame's first packet arriving
// before the current frame's last one holds neither back longer than needed.
func TestAssemblerReorderedAcrossFrames(t *testing.T) {
	s := newStream(t, decode.VP8, 640, 360, 2, 200, 7, 1) // two keyframes: several packets each
	f := newFeeder(decode.VP8)
	a, b := s.frames[0], s.frames[1]
	if len(a) < 2 || len(b) < 2 {
		t.Fatalf("frames in %d and %d packets", len(a), len(b))
	}
	if got := f.push(slices.Concat(a[:len(a)-1], b[:1])...); len(got) != 0 { // b's head before a's tail
		t.Fatalf("a frame came out early: %+v", got)
	}
	s.check(t, f.push(a[len(a)-1]), []int{0})
	s.check(t, f.push(b[1:]...), []int{1})
}

// TestAssemblerLossThenKeyframe: a packet of a delta frame is lost. The
// frames after it wait for the hole at most maxSampleDelay, then come out,
// the first marked gap; the damaged frame never does. A real decoder fed like
// Video's loop then skips to the keyframe.
func TestAssemblerLossThenKeyframe(t *testing.T) {
	s := newStream(t, decode.H264, 640, 360, 16, 300, 100, 12)
	f := newFeeder(decode.H264)
	f.pushFrames(s.frames[:3]...)
	s.check(t, f.got, []int{0, 1, 2})
	lossy := s.frames[3]
	if len(lossy) < 3 {
		t.Fatalf("frame 3 has %d packets", len(lossy))
	}
	f.pushFrames(slices.Delete(slices.Clone(lossy), 1, 2))
	held := int(maxSampleDelay/frameInterval) - 1
	if got := f.pushFrames(s.frames[4 : 4+held]...); len(got) != 0 {
		t.Fatalf("frames came out while the hole could still fill: %d", len(got))
	}
	f.pushFrames(s.frames[4+held:]...)
	s.check(t, f.got, slices.Concat([]int{0, 1, 2}, seq(16)[4:]), 4)
	pics := decodeAll(t, decode.H264, f.got)
	for i, ok := range pics {
		if want := i < 3 || i >= 12-1; ok != want { // frames 0-2, then the keyframe (12) on
			t.Errorf("emitted frame %d: picture %v, want %v", i, ok, want)
		}
	}
	if f.a.pending != 0 {
		t.Errorf("%d packets still buffered", f.a.pending)
	}
}

// TestAssemblerLossCountBound: the hole also gives up once maxLatePackets
// packets came after it, however little time passed.
func TestAssemblerLossCountBound(t *testing.T) {
	s := newStream(t, decode.VP8, 640, 360, 80, 120, 65000)
	f := newFeeder(decode.VP8)
	f.push(s.frames[0]...)
	f.push(s.frames[1][1:]...) // frame 1 lost its head: the hole is at its start
	sent := 0
	var first int
	for i := 2; i < len(s.frames) && len(f.got) == 1; i++ {
		f.push(s.frames[i]...) // all at the same instant
		sent += len(s.frames[i])
		first = i
	}
	if len(f.got) == 1 {
		t.Fatalf("no frame after the loss in %d packets", sent)
	}
	if n := len(s.frames[1]) - 1 + sent; n < maxLatePackets {
		t.Errorf("gave up after %d packets", n)
	}
	if len(f.got) < 2 || f.got[1].timestamp != s.frames[2][0].Timestamp {
		t.Fatalf("after the hole came frame %d, want 2", s.frameOf(t, f.got[1].timestamp))
	}
	f.push(slices.Concat(s.frames[first+1:]...)...)
	s.check(t, f.got, slices.Concat([]int{0}, seq(80)[2:]), 2)
}

// TestAssemblerWrapAround: sequence numbers that wrap at 65535, in order and
// reordered across the wrap.
func TestAssemblerWrapAround(t *testing.T) {
	s := newStream(t, decode.H264, 640, 360, 8, 300, 65530)
	pkts := s.packets()
	wrap := slices.IndexFunc(pkts, func(p *rtp.Packet) bool { return p.SequenceNumber == 0 })
	if wrap < 2 || wrap > len(pkts)-3 {
		t.Fatalf("the wrap is at packet %d of %d", wrap, len(pkts))
	}
	f := newFeeder(decode.H264)
	f.push(pkts...)
	s.check(t, f.got, seq(8))

	pkts[wrap-1], pkts[wrap+1] = pkts[wrap+1], pkts[wrap-1] // 65535 after 1
	f = newFeeder(decode.H264)
	f.push(pkts...)
	s.check(t, f.got, seq(8))
	for i, ok := range decodeAll(t, decode.H264, f.got) {
		if !ok {
			t.Errorf("frame %d: no picture", i)
		}
	}
}

// TestAssemblerLargeFrame: a keyframe in well over a hundred packets comes
// out once, on its last packet, also when its packets arrive shuffled.
func TestAssemblerLargeFrame(t *testing.T) {
	s := newStream(t, decode.VP8, 1280, 720, 2, 200, 40000)
	key := s.frames[0]
	t.Logf("keyframe: %d packets", len(key))
	if len(key) < 100 {
		t.Fatalf("keyframe in %d packets", len(key))
	}
	for _, shuffle := range []bool{false, true} {
		f := newFeeder(decode.VP8)
		pkts := slices.Clone(key)
		if shuffle {
			rand.New(rand.NewPCG(3, 4)).Shuffle(len(pkts), func(a, b int) { pkts[a], pkts[b] = pkts[b], pkts[a] })
			// The head first, so that the assembler has started.
			h := slices.Index(pkts, key[0])
			pkts[0], pkts[h] = pkts[h], pkts[0]
		}
		got := f.push(pkts...)
		s.check(t, got, []int{0})
		if got[0].after != len(pkts)-1 {
			t.Errorf("shuffled %v: came out after packet %d of %d", shuffle, got[0].after, len(pkts))
		}
		s.check(t, f.push(s.frames[1]...), []int{1})
		if ok := decodeAll(t, decode.VP8, f.got); !ok[0] || !ok[1] {
			t.Errorf("pictures %v", ok)
		}
	}
}

// TestAssemblerMarkerWithoutHead: packets up to a marker that do not start
// with a partition head are no frame. At the start they are dropped quietly;
// later, a head-less run dropped marks the next frame's gap.
func TestAssemblerMarkerWithoutHead(t *testing.T) {
	s := newStream(t, decode.VP8, 640, 360, 4, 300, 2000)
	if len(s.frames[0]) < 2 {
		t.Fatalf("keyframe in %d packet", len(s.frames[0]))
	}
	f := newFeeder(decode.VP8)
	// The track's first packets are the end of a frame.
	if got := f.push(s.frames[0][1:]...); len(got) != 0 {
		t.Fatalf("a frame without its head came out: %+v", got)
	}
	s.check(t, f.push(s.frames[1]...), []int{1})

	// After a frame, a packet that is no partition head but carries a marker,
	// right where the next frame should start: dropped at once (no hole to
	// wait for), and the next frame says so. Its payload is the keyframe's
	// tail (the keyframe has two packets or more, see above): a P-frame may
	// fit in one packet, whose last packet is then a head (libvpx's realtime
	// mode makes smaller frames when the machine is busy, as under -race).
	odd := *s.frames[2][0]
	odd.Payload = s.frames[0][len(s.frames[0])-1].Payload
	odd.Marker = true
	if f.a.dp.IsPartitionHead(odd.Payload) {
		t.Fatal("the odd packet is a head")
	}
	rest := slices.Clone(s.frames[3])
	for i, p := range rest {
		c := *p
		c.SequenceNumber = odd.SequenceNumber + 1 + uint16(i)
		rest[i] = &c
	}
	f.push(&odd)
	got := f.push(rest...)
	s.check(t, got, []int{3}, 3)
}

// TestAssemblerDuplicates: packets delivered twice, and again after their
// frame came out, give each frame once and no gap.
func TestAssemblerDuplicates(t *testing.T) {
	s := newStream(t, decode.H264, 640, 360, 6, 300, 65500)
	f := newFeeder(decode.H264)
	for i, pkts := range s.frames {
		for _, p := range pkts {
			f.push(p, p)
		}
		if i > 0 {
			f.push(s.frames[i-1]...)
		}
	}
	s.check(t, f.got, seq(6))
	if f.a.pending != 0 {
		t.Errorf("%d packets still buffered", f.a.pending)
	}
}

// TestAssemblerPadding: packets without payload between and inside frames
// (padding a sender adds for bandwidth probing) are no loss.
func TestAssemblerPadding(t *testing.T) {
	s := newStream(t, decode.H264, 640, 360, 4, 300, 300)
	var pkts []*rtp.Packet
	sq := uint16(300)
	add := func(p *rtp.Packet) {
		c := *p
		c.SequenceNumber = sq
		sq++
		pkts = append(pkts, &c)
	}
	for _, fr := range s.frames {
		for i, p := range fr {
			add(p)
			if i == 0 {
				add(&rtp.Packet{Header: rtp.Header{Timestamp: p.Timestamp, Padding: true}})
			}
		}
		add(&rtp.Packet{Header: rtp.Header{Timestamp: fr[0].Timestamp, Padding: true}})
	}
	f := newFeeder(decode.H264)
	f.push(pkts...)
	if len(f.got) != 4 {
		t.Fatalf("%d frames", len(f.got))
	}
	for i, g := range f.got {
		if !bytes.Equal(g.data, s.want[i]) || g.gap {
			t.Errorf("frame %d: %d bytes (want %d), gap %v", i, len(g.data), len(s.want[i]), g.gap)
		}
	}
}

// TestAssemblerNoMarker: a sender that sets no marker bit: a frame ends where
// a packet of the next timestamp begins.
func TestAssemblerNoMarker(t *testing.T) {
	s := newStream(t, decode.VP8, 640, 360, 4, 300, 10)
	pkts := s.packets()
	for i, p := range pkts {
		c := *p
		c.Marker = false
		pkts[i] = &c
	}
	f := newFeeder(decode.VP8)
	f.push(pkts...)
	s.check(t, f.got, []int{0, 1, 2})
}

// TestAssemblerSequenceRestart: a sender that restarts its sequence numbers
// far behind is followed, not waited for.
func TestAssemblerSequenceRestart(t *testing.T) {
	s := newStream(t, decode.VP8, 320, 240, 6, 1200, 30000)
	f := newFeeder(decode.VP8)
	f.pushFrames(s.frames[:3]...)
	var moved []*rtp.Packet
	for _, p := range slices.Concat(s.frames[3:]...) {
		c := *p
		c.SequenceNumber -= 20000
		moved = append(moved, &c)
	}
	f.push(moved...)
	s.check(t, f.got, seq(6), 3)
}

// TestAssemblerH265AccessUnit: H.265's tail check fires at the end of each
// fragmented NAL unit; a frame (access unit) still ends only at the marker.
func TestAssemblerH265AccessUnit(t *testing.T) {
	nal := func(typ byte, n int) []byte {
		b := []byte{typ << 1, 1}
		for i := range n {
			b = append(b, byte(i%251+1))
		}
		return b
	}
	fu := func(n []byte, parts int) [][]byte {
		var out [][]byte
		body := n[2:]
		step := (len(body) + parts - 1) / parts
		for i := 0; i < len(body); i += step {
			h := n[0]>>1&0x3f | func() byte {
				if i == 0 {
					return 0x80
				}
				return 0
			}()
			if i+step >= len(body) {
				h |= 0x40
			}
			out = append(out, slices.Concat([]byte{49 << 1, 1, h}, body[i:min(i+step, len(body))]))
		}
		return out
	}
	var pkts []*rtp.Packet
	var want [][]byte
	sq := uint16(65534)
	au := func(ts uint32, nals [][]byte, payloads [][]byte) {
		for i, p := range payloads {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{SequenceNumber: sq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: p})
			sq++
		}
		var w []byte
		for _, n := range nals {
			w = append(w, 0, 0, 0, 1)
			w = append(w, n...)
		}
		want = append(want, w)
	}
	vps, sps, pps, idr := nal(32, 20), nal(33, 30), nal(34, 10), nal(19, 3000)
	au(9000, [][]byte{vps, sps, pps, idr}, slices.Concat([][]byte{vps, sps, pps}, fu(idr, 3)))
	s1, s2 := nal(1, 1500), nal(1, 1200)
	au(12000, [][]byte{s1, s2}, slices.Concat(fu(s1, 2), fu(s2, 2)))

	f := newFeeder(decode.H265)
	for i, p := range pkts {
		got := f.push(p)
		if (len(got) == 1) != p.Marker || len(got) > 1 {
			t.Fatalf("packet %d (marker %v): %d frames", i, p.Marker, len(got))
		}
	}
	for i, g := range f.got {
		if !bytes.Equal(g.data, want[i]) || g.gap {
			t.Errorf("access unit %d: %d bytes, want %d; gap %v", i, len(g.data), len(want[i]), g.gap)
		}
	}
}
