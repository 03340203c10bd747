package master

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// iceUfrag returns the a=ice-ufrag of sdp.
func iceUfrag(sdp string) string {
	if u := sdpValues(sdp, "a=ice-ufrag:"); len(u) > 0 {
		return u[0]
	}
	return ""
}

// firstToViewer returns the action of the first message the emulator relayed
// to clientID, or "".
func firstToViewer(e *emulator.Emulator, clientID string) string {
	for _, ev := range e.Events() {
		if ev.Kind == emulator.EventRelay && ev.Recipient == clientID {
			return ev.Action
		}
	}
	return ""
}

// TestICERestartKeepsTheConnection: an ICE restart offer of the viewer's
// peer connection is answered on the master's connection of that viewer
// (new ICE credentials, same DTLS session), and the media flows on; a new
// connection could never complete DTLS with the viewer's old one.
//
// With candidatesFirst the restart's candidates reach the master before its
// offer (the viewer sends the offer once gathering is complete): the master
// keeps them until the offer is set, as pion drops a candidate whose ufrag
// the remote description does not have yet.
func TestICERestartKeepsTheConnection(t *testing.T) {
	for _, candidatesFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("candidates first %v", candidatesFirst), func(t *testing.T) {
			testICERestart(t, candidatesFirst)
		})
	}
}

func testICERestart(t *testing.T, candidatesFirst bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := startEnv(t, ctx, Options{Width: testW, Height: testH, FPS: testFPS, Codec: CodecVP8})
	const id = "viewer-restart"
	v := newTestViewer(t, ctx, env.e, id, []string{"VP8"})
	if err := v.sink.wait(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := env.m.WaitViewerFrames(ctx, id, 10); err != nil {
		t.Fatal(err)
	}
	if first := firstToViewer(env.e, id); first != string(kvs.ActionSDPAnswer) {
		t.Errorf("the master's first message to the viewer was %s, want its answer before any candidate", first)
	}
	old := env.m.liveViewer(id)
	oldUfrag := iceUfrag(old.pc.RemoteDescription().SDP)

	offer, err := v.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if candidatesFirst {
		<-gathered // trickled (and sent) by now; offer itself carries none
		time.Sleep(100 * time.Millisecond)
	}
	if err := v.conn.SendOffer(ctx, offer, ""); err != nil {
		t.Fatal(err)
	}
	for v.pc.SignalingState() != webrtc.SignalingStateStable {
		if ctx.Err() != nil {
			t.Fatal("the restart offer was never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cur := env.m.liveViewer(id); cur != old {
		t.Fatalf("the ICE restart got a new peer connection (old %p, current %p)", old, cur)
	}
	if u := iceUfrag(old.pc.RemoteDescription().SDP); u == oldUfrag || u != iceUfrag(offer.SDP) {
		t.Fatalf("the master's remote ufrag is %q (was %q), want the restart's %q", u, oldUfrag, iceUfrag(offer.SDP))
	}
	// Media flows on, both ways, over the restarted ICE.
	before, mBefore := v.sink.frames(), old.frames.Load()
	if err := v.sink.wait(ctx, before+30); err != nil {
		t.Fatalf("after the restart the viewer decoded %d frames (had %d): %v", v.sink.frames(), before, err)
	}
	if err := env.m.WaitViewerFrames(ctx, id, mBefore+30); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if st, _ := env.m.Viewer(id); st.Offers != 2 || !st.Connected {
		t.Errorf("viewer stats %+v, want 2 offers and connected", st)
	}
}
