package receive_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/decode/decodetest"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// newPeer makes a pion peer restricted to loopback UDP4 without mDNS.
func newPeer(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// connect runs a non-trickle offer/answer between the two peers.
func connect(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	exchange := func(from *webrtc.PeerConnection, sdp webrtc.SessionDescription) webrtc.SessionDescription {
		done := webrtc.GatheringCompletePromise(from)
		if err := from.SetLocalDescription(sdp); err != nil {
			t.Fatal(err)
		}
		<-done
		return *from.LocalDescription()
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := answerer.SetRemoteDescription(exchange(offerer, offer)); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := offerer.SetRemoteDescription(exchange(answerer, answer)); err != nil {
		t.Fatal(err)
	}
}

// recordingSink remembers the RTP timestamps of the frames it got.
type recordingSink struct {
	*sink.Latest
	mu  sync.Mutex
	tss []uint32
}

func (r *recordingSink) PutFrame(f sink.Frame) {
	r.mu.Lock()
	r.tss = append(r.tss, f.RTPTimestamp)
	r.mu.Unlock()
	r.Latest.PutFrame(f)
}

func (r *recordingSink) timestamps() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.tss...)
}

// waitFor polls cond until it holds; the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sender feeds encoded pattern frames to a TrackLocalStaticRTP, packetizing
// itself so that it can drop a packet on request, and forces a keyframe
// whenever the receiver sends a PLI.
type sender struct {
	enc       *decodetest.Encoder
	track     *webrtc.TrackLocalStaticRTP
	pk        rtp.Packetizer
	forceKey  atomic.Bool
	plis      atomic.Int32
	dropNext  atomic.Bool
	dropTS    atomic.Uint32 // RTP timestamp of the frame that lost a packet
	dropped   atomic.Bool
	recoverTS atomic.Uint32 // first keyframe sent after the drop
	recovered atomic.Bool
	huge      atomic.Bool // keyframes declare 8192x4608 pictures
}

func (s *sender) run(t *testing.T, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if s.forceKey.Swap(false) {
			if err := s.enc.ForceKeyframe(); err != nil {
				t.Error(err)
				return
			}
		}
		frame, err := s.enc.Next()
		if err != nil {
			t.Error(err)
			return
		}
		key := decode.IsKeyframe(s.enc.Codec, frame)
		if key && s.huge.Load() {
			if frame, err = decodetest.WithSize(s.enc.Codec, frame, 8192, 4608); err != nil {
				t.Error(err)
				return
			}
		}
		pkts := s.pk.Packetize(frame, 3000)
		ts := pkts[0].Timestamp
		drop := -1
		if !key && len(pkts) >= 2 && s.dropNext.Swap(false) {
			drop = len(pkts) / 2
			s.dropTS.Store(ts)
			s.dropped.Store(true)
		}
		if key && s.dropped.Load() && !s.recovered.Load() {
			s.recoverTS.Store(ts)
			s.recovered.Store(true)
		}
		for i, p := range pkts {
			if i == drop {
				continue
			}
			if err := s.track.WriteRTP(p); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				t.Error(err)
				return
			}
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func TestVideoH264(t *testing.T) { testVideo(t, decode.H264, webrtc.MimeTypeH264, false) }
func TestVideoVP8(t *testing.T)  { testVideo(t, decode.VP8, webrtc.MimeTypeVP8, false) }

// TestVideoLossRecoveryH264 (and VP8) drop one packet of a delta frame: the receiver must
// skip frames until the keyframe its PLI asked for, then decode again.
func TestVideoLossRecoveryH264(t *testing.T) { testVideo(t, decode.H264, webrtc.MimeTypeH264, true) }
func TestVideoLossRecoveryVP8(t *testing.T)  { testVideo(t, decode.VP8, webrtc.MimeTypeVP8, true) }

func testVideo(t *testing.T, c decode.Codec, mime string, loss bool) {
	defer goleak.VerifyNone(t)
	const w, h = 640, 360
	tx, rx := newPeer(t), newPeer(t)
	snd, rtpSender := newVideoSender(t, tx, c, mime, w, h)

	rec := &recordingSink{Latest: sink.NewLatest()}
	var stats receive.Stats
	var firstRTP, firstFrame atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	videoDone := make(chan error, 1)
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			videoDone <- receive.Video(ctx, tr, receive.VideoOptions{
				Sink: rec,
				SendPLI: func() error {
					return rx.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				},
				Stats:        &stats,
				PLIInterval:  100 * time.Millisecond,
				OnFirstRTP:   func(time.Time) { firstRTP.Store(true) },
				OnFirstFrame: func(time.Time) { firstFrame.Store(true) },
			})
		}()
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the sender's RTCP: PLI -> keyframe
		defer wg.Done()
		for {
			pkts, _, err := rtpSender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					snd.plis.Add(1)
					snd.forceKey.Store(true)
				}
			}
		}
	}()
	connect(t, tx, rx)
	stop := make(chan struct{})
	go func() { defer wg.Done(); snd.run(t, stop) }()

	waitFor(t, "10 frames", func() bool { return rec.Stats().Decoded >= 10 })
	if loss {
		snd.dropNext.Store(true)
		waitFor(t, "a recovery keyframe", snd.recovered.Load)
		waitFor(t, "frames after recovery", func() bool {
			tss := rec.timestamps()
			n := 0
			for _, ts := range tss {
				if ts-snd.recoverTS.Load() < 1<<31 {
					n++
				}
			}
			return n >= 10
		})
	} else {
		waitFor(t, "40 frames", func() bool { return rec.Stats().Decoded >= 40 })
	}
	img, info, ok := rec.Snapshot(nil)
	close(stop)
	cancel()
	if !ok || info.Width != w || info.Height != h || info.Codec != string(c) {
		t.Fatalf("snapshot ok=%v info=%+v", ok, info)
	}
	if err := decodetest.CheckQuadrants(img, 24); err != nil {
		t.Fatal(err)
	}
	if err := <-videoDone; err != nil {
		t.Fatalf("receive.Video: %v", err)
	}
	if err := tx.Close(); err != nil {
		t.Error(err)
	}
	if err := rx.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()

	st := rec.Stats()
	t.Logf("%s: sink %+v; packets=%d lost=%d plis=%d skipped=%d decodeErrors=%d; sender saw %d PLIs",
		c, st, stats.Packets.Load(), stats.Lost.Load(), stats.PLIs.Load(), stats.Skipped.Load(), stats.DecodeErrors.Load(), snd.plis.Load())
	if !firstRTP.Load() || !firstFrame.Load() {
		t.Error("first RTP / first frame callbacks not called")
	}
	if stats.PLIs.Load() < 1 || snd.plis.Load() < 1 {
		t.Errorf("no PLI at track start: sent %d, seen %d", stats.PLIs.Load(), snd.plis.Load())
	}
	if stats.Frames.Load() != st.Decoded || stats.Packets.Load() == 0 || stats.Bytes.Load() == 0 {
		t.Errorf("stats: frames %d vs sink %d, packets %d", stats.Frames.Load(), st.Decoded, stats.Packets.Load())
	}
	if !loss {
		return
	}
	// Nothing from the damaged frame up to the recovery keyframe was shown.
	dropTS, recTS := snd.dropTS.Load(), snd.recoverTS.Load()
	for _, ts := range rec.timestamps() {
		if ts-dropTS < 1<<31 && recTS-ts < 1<<31 && ts != recTS {
			t.Errorf("frame %d between the loss (%d) and the recovery keyframe (%d) was shown", ts, dropTS, recTS)
		}
	}
	if stats.PLIs.Load() < 2 || st.Dropped < 1 || stats.Lost.Load() < 1 {
		t.Errorf("loss not handled: PLIs %d, dropped %d, lost %d", stats.PLIs.Load(), st.Dropped, stats.Lost.Load())
	}
}

// TestVideoTooLargeH264: after some frames the sender's keyframes declare
// 8192x4608 pictures. Video must stop decoding and return the decoder's
// SizeError (size and cap), not go on asking for keyframes.
func TestVideoTooLargeH264(t *testing.T) {
	testVideoTooLarge(t, decode.H264, webrtc.MimeTypeH264, 0, 0, 8192, 4608)
}

// TestVideoTooLargeVP8: a real 640x360 stream with a 320x180 cap
// (VideoOptions.MaxWidth/MaxHeight) is refused from its first keyframe.
func TestVideoTooLargeVP8(t *testing.T) {
	testVideoTooLarge(t, decode.VP8, webrtc.MimeTypeVP8, 320, 180, 640, 360)
}

func testVideoTooLarge(t *testing.T, c decode.Codec, mime string, maxW, maxH, wantW, wantH int) {
	defer goleak.VerifyNone(t)
	tx, rx := newPeer(t), newPeer(t)
	snd, rtpSender := newVideoSender(t, tx, c, mime, 640, 360)
	rec := &recordingSink{Latest: sink.NewLatest()}
	var stats receive.Stats
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	videoDone := make(chan error, 1)
	rx.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			videoDone <- receive.Video(ctx, tr, receive.VideoOptions{
				Sink: rec,
				SendPLI: func() error {
					return rx.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				},
				Stats: &stats, PLIInterval: 100 * time.Millisecond, MaxWidth: maxW, MaxHeight: maxH,
			})
		}()
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			pkts, _, err := rtpSender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					snd.forceKey.Store(true)
				}
			}
		}
	}()
	connect(t, tx, rx)
	stop := make(chan struct{})
	go func() { defer wg.Done(); snd.run(t, stop) }()
	if maxW == 0 {
		waitFor(t, "5 frames", func() bool { return rec.Stats().Decoded >= 5 })
		snd.huge.Store(true)
		snd.forceKey.Store(true)
	}

	var verr error
	select {
	case verr = <-videoDone:
	case <-time.After(20 * time.Second):
		t.Errorf("receive.Video still running 20 s after the sender went too large (decode errors %d, PLIs %d)",
			stats.DecodeErrors.Load(), stats.PLIs.Load())
		cancel()
		verr = <-videoDone
	}
	decoded := rec.Stats().Decoded
	time.Sleep(200 * time.Millisecond) // the sender goes on: nothing more is decoded
	close(stop)
	cancel()
	_ = tx.Close()
	_ = rx.Close()
	wg.Wait()

	var se *decode.SizeError
	if !errors.Is(verr, decode.ErrPictureTooLarge) || !errors.As(verr, &se) {
		t.Fatalf("receive.Video = %v, want ErrPictureTooLarge", verr)
	}
	wantMaxW, wantMaxH := decode.DefaultMaxWidth, decode.DefaultMaxHeight
	if maxW != 0 {
		wantMaxW, wantMaxH = maxW, maxH
	}
	if se.Width != wantW || se.Height != wantH || se.MaxWidth != wantMaxW || se.MaxHeight != wantMaxH {
		t.Errorf("SizeError %+v, want %dx%d over %dx%d", *se, wantW, wantH, wantMaxW, wantMaxH)
	}
	t.Logf("receive.Video: %v", verr)
	if n := stats.DecodeErrors.Load(); n != 1 {
		t.Errorf("%d decode errors, want 1 (decoding stops at the first too large picture)", n)
	}
	if got := rec.Stats().Decoded; got != decoded || (maxW == 0 && got < 5) || (maxW != 0 && got != 0) {
		t.Errorf("sink decoded %d frames (then %d)", decoded, got)
	}
}

// newVideoSender adds a video track of codec c to tx and returns a sender
// that encodes w x h pictures into it (keyframes only on request), and the
// track's RTP sender. The encoder is closed when the test ends.
func newVideoSender(t *testing.T, tx *webrtc.PeerConnection, c decode.Codec, mime string, w, h int) (*sender, *webrtc.RTPSender) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, "video", "pattern")
	if err != nil {
		t.Fatal(err)
	}
	rtpSender, err := tx.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := decodetest.NewEncoder(c, w, h, 800_000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = enc.Close() })
	var payloader rtp.Payloader = &codecs.H264Payloader{}
	if c == decode.VP8 {
		payloader = &codecs.VP8Payloader{EnablePictureID: true}
	}
	return &sender{enc: enc, track: track, pk: rtp.NewPacketizer(1200, 96, 1, payloader, rtp.NewRandomSequencer(), 90000)}, rtpSender
}
