package call

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// callObjects are the objects of one live call, and the identities that
// their libraries give them: what a Reconnect must build anew.
type callObjects struct {
	session      *session
	pc           *webrtc.PeerConnection
	conn         *kvs.Conn
	local        *capture.Local
	dc           *webrtc.DataChannel
	localTracks  []webrtc.TrackLocal
	remoteTracks []*webrtc.TrackRemote
	decoders     []uint64 // serials of the remote tracks' decoders
	iceUfrag     string   // of the local description
	fingerprint  string   // DTLS certificate of the local description
}

// objectsOf reads the objects of s, a live session, once its audio track
// has a decoder too (the first frame may come before the first audio).
func objectsOf(t *testing.T, s *session) callObjects {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a measure
	for !decoding(s, 2) {
		if time.Now().After(deadline) {
			t.Fatalf("session %d: no decoder for both remote tracks", s.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	o := callObjects{session: s, pc: s.pc, conn: s.conn, local: s.local}
	for _, st := range s.recv {
		o.decoders = append(o.decoders, st.Decoder.Load())
	}
	s.mu.Unlock()
	s.data.mu.Lock()
	o.dc = s.data.dc
	s.data.mu.Unlock()
	if o.pc == nil || o.conn == nil || o.local == nil || o.dc == nil {
		t.Fatalf("session %d is live without a peer connection, socket, local media or data channel: %+v", s.id, o)
	}
	for _, snd := range o.pc.GetSenders() {
		if tr := snd.Track(); tr != nil {
			o.localTracks = append(o.localTracks, tr)
		}
	}
	for _, rcv := range o.pc.GetReceivers() {
		if tr := rcv.Track(); tr != nil {
			o.remoteTracks = append(o.remoteTracks, tr)
		}
	}
	for _, line := range strings.Split(o.pc.LocalDescription().SDP, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok && o.iceUfrag == "" {
			o.iceUfrag = v
		}
		if v, ok := strings.CutPrefix(line, "a=fingerprint:"); ok && o.fingerprint == "" {
			o.fingerprint = v
		}
	}
	if len(o.localTracks) != 2 || len(o.remoteTracks) != 2 || len(o.decoders) != 2 || o.iceUfrag == "" || o.fingerprint == "" {
		t.Fatalf("session %d: %d local tracks, %d remote tracks, decoders %v, ufrag %q, fingerprint %q; want 2 of each and both ids",
			s.id, len(o.localTracks), len(o.remoteTracks), o.decoders, o.iceUfrag, o.fingerprint)
	}
	return o
}

// decoding reports whether n remote tracks of s have their decoder open.
func decoding(s *session, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := 0
	for _, st := range s.recv {
		if st.Decoder.Load() != 0 {
			open++
		}
	}
	return open >= n
}

// TestReconnectReusesNoCallObject: a Reconnect on a live call (real pion
// peers on loopback, the emulator and the demo master) builds a call whose
// peer connection, socket, local media and tracks, data channel, remote
// tracks and decoders are all new, with a new ICE username and DTLS
// certificate; the old call's objects are closed. What belongs to the
// controller (the AWS configuration and the control-plane answers) is kept.
func TestReconnectReusesNoCallObject(t *testing.T) {
	lc := startLoopbackCall(t, "reuse")
	old := lc.live(lc.ctrl.Connect)
	ctrl := lc.ctrl
	cfgBefore := ctrl.cp.loaded()
	cpCalls := lc.controlPlaneCalls()
	lc.seen = nil
	now := lc.live(ctrl.Reconnect)
	lc.await("the old call's teardown", func(e Event) bool { return IsPhase(PhaseTeardown)(e) && e.SessionID == old.session.id })

	same := func(what string, a, b any) {
		t.Helper()
		if a == b {
			t.Errorf("the new call reuses the old call's %s (%v)", what, a)
		}
	}
	same("session", old.session, now.session)
	same("peer connection", old.pc, now.pc)
	same("signaling socket", old.conn, now.conn)
	same("local media", old.local, now.local)
	same("data channel", old.dc, now.dc)
	same("ICE username fragment", old.iceUfrag, now.iceUfrag)
	same("DTLS certificate", old.fingerprint, now.fingerprint)
	same("ClientId", old.session.clientID, now.session.clientID)
	for _, a := range old.localTracks {
		for _, b := range now.localTracks {
			same("local track", a, b)
		}
	}
	for _, a := range old.remoteTracks {
		for _, b := range now.remoteTracks {
			same("remote track", a, b)
		}
	}
	for _, a := range old.decoders {
		for _, b := range now.decoders {
			if b <= a {
				t.Errorf("decoder %d of the new call was not opened after the old call's decoder %d", b, a)
			}
		}
	}

	// The old call was torn down: its peer connection and socket are closed.
	if st := old.pc.ConnectionState(); st != webrtc.PeerConnectionStateClosed {
		t.Errorf("the old peer connection is %s, want closed", st)
	}
	select {
	case <-old.conn.Done():
	default:
		t.Error("the old signaling socket is still open")
	}
	// What belongs to the controller stays: one AWS configuration, and the
	// control-plane answers (the Reconnect made no control-plane request).
	if cfg := ctrl.cp.loaded(); cfgBefore == nil || cfg != cfgBefore {
		t.Errorf("the controller's AWS configuration was not kept across the Reconnect (%p, then %p)", cfgBefore, cfg)
	}
	if n := lc.controlPlaneCalls(); n != cpCalls {
		t.Errorf("the Reconnect made %d control-plane requests, want none", n-cpCalls)
	}
}

// loopbackCall is a controller with the emulator and the demo master on
// loopback, the sessions it starts and its events.
type loopbackCall struct {
	t        *testing.T
	emu      *emulator.Emulator
	ctrl     *Controller
	sessions chan *session
	events   <-chan Event
	seen     []Event // events read so far
}

// startLoopbackCall starts the emulator, the demo master (320x240) on channel
// and a controller sending the test pattern and tone; all end with the test.
func startLoopbackCall(t *testing.T, channel string) *loopbackCall {
	t.Helper()
	ctx := context.Background()
	emu, err := emulator.Start(ctx, emulator.Config{Channels: []string{channel}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	c := emu.Credentials()
	aws := kvs.AWSOptions{Region: emu.Region(), EndpointURL: emu.Endpoint(), RootCAs: emu.CAPool(),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)}
	m, err := master.Start(ctx, master.Options{AWS: aws, Channel: channel, Width: 320, Height: 240, FPS: 30, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ctrl, err := NewController(Config{AWS: aws, Channel: channel, DataChannel: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Media: capture.Options{Video: capture.SourceTest, Audio: capture.SourceTone, Width: 320, Height: 240, FPS: 30}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctrl.Close() })
	lc := &loopbackCall{t: t, emu: emu, ctrl: ctrl, sessions: make(chan *session, 16)}
	ctrl.onSession = func(s *session) { lc.sessions <- s } // set before the first command reaches the loop
	events, unsubscribe := ctrl.Subscribe()
	t.Cleanup(unsubscribe)
	lc.events = events
	return lc
}

// await returns the first event (among those seen, then new ones) that
// matches; a failed call fails the test.
func (lc *loopbackCall) await(what string, match func(Event) bool) Event {
	lc.t.Helper()
	for _, e := range lc.seen {
		if match(e) {
			return e
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not a measure
	defer cancel()
	e, err := Await(ctx, lc.events, func(e Event) bool {
		if IsState(StateFailed)(e) {
			lc.t.Fatalf("call failed: %s: %s", e.Class, e.Message)
		}
		return match(e)
	}, func(e Event) { lc.seen = append(lc.seen, e) })
	if err != nil {
		lc.t.Fatalf("no %s: %v", what, err)
	}
	return e
}

// live connects (or reconnects) and returns the objects of the new live call.
func (lc *loopbackCall) live(act func()) callObjects {
	lc.t.Helper()
	act()
	ff := lc.await("first frame", IsPhase(PhaseFirstFrame))
	var s *session
	for s == nil || s.id != ff.SessionID {
		select {
		case s = <-lc.sessions:
		default:
			lc.t.Fatalf("no session %d among those started", ff.SessionID)
		}
	}
	return objectsOf(lc.t, s)
}

// controlPlaneCalls counts the control-plane requests the emulator served.
func (lc *loopbackCall) controlPlaneCalls() int {
	n := 0
	for _, e := range lc.emu.Events() {
		if e.Kind == emulator.EventControlPlane {
			n++
		}
	}
	return n
}
