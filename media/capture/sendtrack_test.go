package capture

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// openSmall opens the test pattern and tone at a small size.
func openSmall(t *testing.T, codec string) *Local {
	t.Helper()
	l, err := Open(Options{Video: SourceTest, Audio: SourceTone, Width: 160, Height: 120, FPS: 30, Codec: codec, StreamID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// addSendTracks adds l's send tracks to pc with AddTransceiverFromTrack (sendrecv), as the
// viewer does.
func addSendTracks(t *testing.T, pc *webrtc.PeerConnection, l *Local) {
	t.Helper()
	for _, tr := range []*SendTrack{l.VideoSend, l.AudioSend} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			t.Fatal(err)
		}
	}
}

// removeSenders removes every sender of pc.
func removeSenders(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	for _, s := range pc.GetSenders() {
		if err := pc.RemoveTrack(s); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			t.Errorf("RemoveTrack: %v", err)
		}
	}
}

// TestTeardownNeverConnected tears down calls whose peer connection never connected, with the
// media bound and encoding: pion refuses the writes of a stopped sender whose SRTP never came up,
// which with raw mediadevices tracks leaves RemoveTrack and pc.Close blocked forever. Every step
// must return (a hang ends in the test binary's timeout) and goleak (TestMain) finds nothing left.
func TestTeardownNeverConnected(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     bool // the answer is applied (without candidates: ICE never connects)
		localFirst bool // Local.Close before RemoveTrack and pc.Close
		skipRemove bool // no RemoveTrack: pc.Close alone unbinds
	}{
		{name: "no answer"},
		{name: "no answer, pc.Close only", skipRemove: true},
		{name: "no ICE", answer: true},
		{name: "no ICE, pc.Close only", answer: true, skipRemove: true},
		{name: "no ICE, Local.Close first", answer: true, localFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := OpenCount()
			lv, lm := openSmall(t, CodecAuto), openSmall(t, CodecAuto)
			if got := OpenCount(); got != before+2 {
				t.Errorf("OpenCount = %d with two Locals open, want %d", got, before+2)
			}
			viewer := newLoopbackPC(t, CodecAuto)
			master := newLoopbackPC(t, CodecAuto)
			addSendTracks(t, viewer, lv)
			offer, err := viewer.CreateOffer(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := viewer.SetLocalDescription(offer); err != nil {
				t.Fatal(err)
			}
			if tc.answer {
				// offer and answer as created carry no candidates, and none are trickled.
				if err := master.SetRemoteDescription(offer); err != nil {
					t.Fatal(err)
				}
				for _, tr := range []*SendTrack{lm.VideoSend, lm.AudioSend} {
					if _, err := master.AddTrack(tr); err != nil {
						t.Fatal(err)
					}
				}
				answer, err := master.CreateAnswer(nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := master.SetLocalDescription(answer); err != nil {
					t.Fatal(err)
				}
				if err := viewer.SetRemoteDescription(answer); err != nil {
					t.Fatal(err)
				}
				// Both sides' encoders are running: wait until each track wrote packets that
				// pion could not send.
				for _, tr := range []*SendTrack{lv.VideoSend, lv.AudioSend, lm.VideoSend, lm.AudioSend} {
					waitFor(t, func() bool { return tr.Stats().Writes > 0 })
				}
			}
			if tc.localFirst {
				for _, l := range []*Local{lv, lm} {
					if err := l.Close(); err != nil {
						t.Errorf("Local.Close: %v", err)
					}
				}
			}
			for _, pc := range []*webrtc.PeerConnection{viewer, master} {
				if !tc.skipRemove {
					removeSenders(t, pc)
				}
				if err := pc.Close(); err != nil {
					t.Errorf("pc.Close: %v", err)
				}
			}
			for _, l := range []*Local{lv, lm} {
				if err := l.Close(); err != nil {
					t.Errorf("Local.Close: %v", err)
				}
			}
			if got := OpenCount(); got != before {
				t.Errorf("OpenCount = %d after Close, want %d", got, before)
			}
			for _, tr := range []*SendTrack{lv.VideoSend, lm.VideoSend} {
				if st := tr.Stats(); st.Sent != 0 {
					t.Errorf("%s: %d packets sent without a connection", tr.ID(), st.Sent)
				}
			}
		})
	}
}

// waitFor polls cond until it holds; the test binary's timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("test ended while waiting")
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPayloadTypeRewrite sends from an answerer whose encoders packetize with their own payload
// types (H.264 125, Opus 111) to an offerer that registered H.264 as 102 and Opus as 109: the
// negotiated types are the offerer's, and every packet that arrives carries them. Pausing drops
// packets without a gap in the sequence numbers, and the paused track sends nothing.
func TestPayloadTypeRewrite(t *testing.T) {
	l := openSmall(t, CodecH264)
	defer func() {
		if err := l.Close(); err != nil {
			t.Errorf("Local.Close: %v", err)
		}
	}()
	// The offerer: a plain MediaEngine with other payload types.
	me := &webrtc.MediaEngine{}
	h264 := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		PayloadType: 102,
	}
	opus := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 109,
	}
	if err := me.RegisterCodec(h264, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterCodec(opus, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	offerer, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(loopbackSettings()),
		webrtc.WithInterceptorRegistry(ir)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	answerer := newLoopbackPC(t, CodecH264)
	defer func() {
		for _, pc := range []*webrtc.PeerConnection{offerer, answerer} {
			if err := pc.Close(); err != nil {
				t.Errorf("pc.Close: %v", err)
			}
		}
	}()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := offerer.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}

	type got struct {
		kind    string
		trackPT uint8
		pkts    []*rtp.Packet
		err     error
	}
	results := make(chan got, 2)
	const n = 30
	offerer.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		g := got{kind: tr.Kind().String(), trackPT: uint8(tr.PayloadType())}
		for len(g.pkts) < n {
			p, _, err := tr.ReadRTP()
			if err != nil {
				g.err = err
				break
			}
			g.pkts = append(g.pkts, p)
		}
		results <- g
	})

	exchange(t, offerer, answerer, func() {
		for _, tr := range []*SendTrack{l.VideoSend, l.AudioSend} {
			if _, err := answerer.AddTrack(tr); err != nil {
				t.Fatal(err)
			}
		}
		// Paused from the start: the audio track sends nothing until resumed.
		l.AudioSend.SetPaused(true)
	})

	v := <-results
	if v.err != nil || v.kind != "video" {
		t.Fatalf("first track: %s, %v", v.kind, v.err)
	}
	waitFor(t, func() bool { return l.AudioSend.Stats().Dropped > 0 })
	if st := l.AudioSend.Stats(); st.Sent != 0 {
		t.Errorf("paused audio sent %d packets", st.Sent)
	}
	l.AudioSend.SetPaused(false)
	a := <-results
	if a.err != nil || a.kind != "audio" {
		t.Fatalf("second track: %s, %v", a.kind, a.err)
	}
	for _, g := range []struct {
		got
		want uint8
	}{{v, 102}, {a, 109}} {
		if g.trackPT != g.want {
			t.Errorf("%s: track payload type %d, want %d", g.kind, g.trackPT, g.want)
		}
		for i, p := range g.pkts {
			if p.PayloadType != g.want {
				t.Errorf("%s: packet %d has payload type %d, want %d", g.kind, i, p.PayloadType, g.want)
				break
			}
			if i > 0 && p.SequenceNumber != g.pkts[i-1].SequenceNumber+1 {
				t.Errorf("%s: sequence number %d follows %d", g.kind, p.SequenceNumber, g.pkts[i-1].SequenceNumber)
			}
		}
	}
	if st := l.VideoSend.Stats(); st.Sent == 0 || st.WriteErrors != 0 {
		t.Errorf("video stats %+v: want packets sent and no write errors", st)
	}
}

// TestStopSendingDoesNotWaitForTheSources: in a call whose pattern makes one
// frame a second, StopSending stops both writers without waiting for the
// next frame (the pattern is kicked), leaves nothing for pion's RemoveTrack
// to unbind, and Close still closes the sources.
func TestStopSendingDoesNotWaitForTheSources(t *testing.T) {
	l, err := Open(Options{Video: SourceTest, Audio: SourceTone, Width: 160, Height: 120, FPS: 1, Codec: CodecAuto, StreamID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := newLoopbackPC(t, CodecAuto)
	master := newLoopbackPC(t, CodecAuto)
	addSendTracks(t, viewer, l)
	exchange(t, viewer, master, nil)
	for _, tr := range []*SendTrack{l.VideoSend, l.AudioSend} {
		waitFor(t, func() bool { return tr.Stats().Writes > 0 })
	}
	// The video writer now waits in the pattern's Read for a frame due in up to a second.
	stopped := make(chan error, 1)
	go func() { stopped <- l.StopSending() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(900 * time.Millisecond):
		// Not a speed assertion: unkicked, the writer waits for the 1 fps pattern's next frame.
		t.Fatal("StopSending waited for the pattern's next frame")
	}
	for _, tr := range []*SendTrack{l.VideoSend, l.AudioSend} {
		tr.mu.Lock()
		n := len(tr.bindings)
		tr.mu.Unlock()
		if n != 0 {
			t.Errorf("%s: %d bindings left after StopSending", tr.ID(), n)
		}
	}
	removeSenders(t, viewer)
	for _, c := range []interface{ Close() error }{viewer, master, l} {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}
