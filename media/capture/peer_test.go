package capture

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// newLoopbackAPI returns a pion API on loopback only (UDP4, no mDNS) whose MediaEngine is
// populated from codec preference pref.
func newLoopbackAPI(t *testing.T, pref string) *webrtc.API {
	t.Helper()
	sel, err := NewCodecSelector(pref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	me := &webrtc.MediaEngine{}
	sel.Populate(me)
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(loopbackSettings()), webrtc.WithInterceptorRegistry(ir))
}

// newLoopbackPC returns a peer connection of newLoopbackAPI(t, pref).
func newLoopbackPC(t *testing.T, pref string) *webrtc.PeerConnection {
	t.Helper()
	pc, err := newLoopbackAPI(t, pref).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// loopbackSettings keeps pion on loopback: UDP4, no mDNS.
func loopbackSettings() webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

// TestOfferCodecOrder checks the codec preference reaches the offer, with keyframe feedback.
func TestOfferCodecOrder(t *testing.T) {
	for _, tc := range []struct{ pref, want string }{
		{CodecAuto, "m=video 9 UDP/TLS/RTP/SAVPF 125 96\r"},
		{CodecH264, "m=video 9 UDP/TLS/RTP/SAVPF 125\r"},
		{CodecVP8, "m=video 9 UDP/TLS/RTP/SAVPF 96\r"},
	} {
		pc := newLoopbackPC(t, tc.pref)
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		pt := strings.Fields(tc.want)[3]
		for _, line := range []string{tc.want, "a=rtcp-fb:" + pt + " nack pli", "a=rtcp-fb:" + pt + " ccm fir",
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r", "a=rtpmap:111 opus/48000/2"} {
			if !strings.Contains(offer.SDP, line) {
				t.Errorf("%s: offer lacks %q:\n%s", tc.pref, line, offer.SDP)
			}
		}
		if err := pc.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCallOverLoopback sends Local's tracks from a pion viewer to a pion master on loopback:
// H.264 frames carrying the pattern counter and Opus packets arrive, and a PLI from the master
// brings an IDR long before the regular keyframe interval. Teardown closes the peer
// connections first, then Local, and leaves no goroutine.
func TestCallOverLoopback(t *testing.T) {
	l, err := Open(Options{Video: SourceTest, Audio: SourceTone, Width: 320, Height: 240, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	viewer := newLoopbackPC(t, CodecAuto)
	master := newLoopbackPC(t, CodecAuto)
	if _, err := viewer.AddTrack(l.VideoSend); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.AddTrack(l.AudioSend); err != nil {
		t.Fatal(err)
	}

	type result struct {
		kind string
		err  error
	}
	results := make(chan result, 2)
	master.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		switch track.Kind() {
		case webrtc.RTPCodecTypeVideo:
			results <- result{"video", receiveVideo(master, track)}
		case webrtc.RTPCodecTypeAudio:
			results <- result{"audio", receiveAudio(track)}
		}
	})

	exchange(t, viewer, master, nil)

	for range 2 {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.kind, r.err)
		}
	}

	if err := viewer.Close(); err != nil {
		t.Errorf("viewer Close: %v", err)
	}
	if err := master.Close(); err != nil {
		t.Errorf("master Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Local Close: %v", err)
	}
}

// exchange negotiates offerer with answerer, with all candidates in the descriptions (no
// trickle). beforeAnswer, if not nil, runs once the answerer has the offer.
func exchange(t *testing.T, offerer, answerer *webrtc.PeerConnection, beforeAnswer func()) {
	t.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	if beforeAnswer != nil {
		beforeAnswer()
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

// receiveVideo reads H.264 frames until it has decoded 5 with a readable counter, then sends a
// PLI and expects an IDR within 10 frames.
func receiveVideo(pc *webrtc.PeerConnection, track *webrtc.TrackRemote) error {
	if !strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeH264) {
		return errors.New("negotiated " + track.Codec().MimeType + ", want H264 first")
	}
	dec, err := decode.NewVideoDecoder(decode.H264)
	if err != nil {
		return err
	}
	defer dec.Close()
	var depack codecs.H264Packet
	var frame []byte
	decoded, sincePLI := 0, -1
	for packets := 0; packets < 5000; packets++ {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return err
		}
		nals, err := depack.Unmarshal(pkt.Payload)
		if err != nil {
			return err
		}
		frame = append(frame, nals...)
		if !pkt.Marker {
			continue
		}
		idr := false
		for _, nal := range nalUnits(frame) {
			idr = idr || nal[0]&0x1f == 5
		}
		img, err := dec.Decode(frame)
		frame = frame[:0]
		if errors.Is(err, decode.ErrNeedKeyframe) {
			continue
		}
		if err != nil {
			return err
		}
		if img == nil {
			continue
		}
		if _, ok := pattern.ReadCounter(img); !ok {
			return errors.New("decoded frame without a readable counter")
		}
		decoded++
		switch {
		case sincePLI >= 0:
			sincePLI++
			if idr {
				return nil
			}
			if sincePLI > 10 {
				return errors.New("no IDR within 10 frames of a PLI")
			}
		case decoded > 1 && idr:
			return errors.New("an IDR without PLI: the test cannot tell the PLI's")
		case decoded == 5:
			sincePLI = 0
			if err := pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(track.SSRC())}}); err != nil {
				return err
			}
		}
	}
	return errors.New("too many packets without result")
}

// receiveAudio reads 10 Opus packets.
func receiveAudio(track *webrtc.TrackRemote) error {
	if !strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeOpus) {
		return errors.New("negotiated " + track.Codec().MimeType)
	}
	for range 10 {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return err
		}
		if len(pkt.Payload) == 0 || opusFrameDuration10(pkt.Payload[0]) != 200 {
			return errors.New("unexpected Opus packet")
		}
	}
	return nil
}
