package call

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/internal/redact"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// negotiation is the offer/answer state of a session.
type negotiation struct {
	offerAt  time.Time                 // when the first offer started going out (run goroutine)
	answered bool                      // an answer was applied (run goroutine)
	remoteOK bool                      // the remote description is set (run goroutine)
	pending  []webrtc.ICECandidateInit // remote candidates that came before the answer (run goroutine)

	candMu    sync.Mutex // guards the four below: pion's gatherer calls in from its goroutine
	offerSent bool
	inOffer   map[string]bool           // the candidates the offer carries (sdpCandidates), once sent
	outCands  []webrtc.ICECandidateInit // local candidates gathered before the offer went out
	hostReady chan struct{}             // closed at the first host candidate gathered before the offer (made by prepare)
	hostSeen  bool                      // hostReady is closed
}

// prepare builds the peer connection, adds the local tracks and sets the
// local offer (gathering starts; candidates wait for the offer to go out).
func (s *session) prepare(local *capture.Local) (*webrtc.PeerConnection, error) {
	if err := rtc.CheckServers(s.cpRes.ice.Servers, s.rtcOptions(nil)); err != nil {
		return nil, err
	}
	api, err := rtc.NewAPI(s.rtcOptions(local.Selector))
	if err != nil {
		return nil, fmt.Errorf("build WebRTC API: %w", err)
	}
	pc, err := api.NewPeerConnection(rtc.Configuration(s.cpRes.ice.Servers, s.rtcOptions(nil)))
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	if !s.adopt(func() { s.pc = pc }) {
		_ = pc.Close()
		return nil, context.Canceled
	}
	// Before gathering starts (SetLocalDescription, below).
	s.neg.hostReady = make(chan struct{})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			s.sendCandidate(c.ToJSON())
		}
	})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		if st == webrtc.ICEConnectionStateConnected {
			s.iceUp.Store(true)
			s.phase(PhaseICEConnected, time.Now(), nil)
		}
		s.post(sessionEvent{kind: evICE, ice: st})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
		s.goFunc(func() { s.receive(pc, tr) })
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			s.goFunc(func() { s.readReports(rx, tr.SSRC()) })
		}
	})
	if err := addTracks(pc, local); err != nil {
		return nil, err
	}
	if s.deps.cfg.DataChannel {
		if err := s.openDataChannel(pc); err != nil {
			return nil, err
		}
	}
	if local.Video != nil {
		s.preview(local)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("set local description: %w", err)
	}
	return pc, nil
}

// addTracks offers to receive video and audio and sends what local has.
// It adds the send-track wrappers, never the raw mediadevices tracks: those
// can make the teardown of a call that never connected hang (see capture.SendTrack).
func addTracks(pc *webrtc.PeerConnection, local *capture.Local) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		tr := local.AudioSend
		if kind == webrtc.RTPCodecTypeVideo {
			tr = local.VideoSend
		}
		if tr == nil {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return fmt.Errorf("add %s transceiver: %w", kind, err)
			}
			continue
		}
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
			return fmt.Errorf("add local %s track: %w", kind, err)
		}
	}
	return nil
}

// gatherWait bounds the wait for every candidate when trickle ICE is off.
const gatherWait = 10 * time.Second

// hostWait bounds the wait for a first host candidate before a trickled
// offer goes out. Host candidates are ready within a ms or two of
// SetLocalDescription: the offer carries those gathered by then, so the
// master can start its connectivity checks as soon as it answers, and the
// rest (server reflexive, relay) trickle.
const hostWait = 5 * time.Millisecond

// sendOffer sends the local offer, then the candidates gathered so far.
// With trickle ICE off it first waits for every candidate, which the offer
// then carries.
func (s *session) sendOffer(ctx context.Context, conn *kvs.Conn, pc *webrtc.PeerConnection) error {
	if s.deps.cfg.NoTrickle {
		select {
		case <-webrtc.GatheringCompletePromise(pc):
		case <-time.After(gatherWait):
			s.log.Warn("candidate gathering not complete: sending the offer with what was found", "after", gatherWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	} else if s.deps.cfg.SendCandidates.Has(CandidateHost) {
		select {
		case <-s.neg.hostReady:
		case <-time.After(hostWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// pion's LocalDescription carries the candidates gathered so far.
	offer := *pc.LocalDescription()
	offer.SDP = s.deps.cfg.SendCandidates.filterSDP(offer.SDP)
	// Anything received before the offer started going out is stale.
	s.neg.offerAt = time.Now()
	if err := conn.SendOffer(ctx, offer, s.correlationID("offer")); err != nil {
		return fmt.Errorf("send offer: %w", err)
	}
	s.phase(PhaseOfferSent, time.Now(), nil)
	s.flushCandidates(conn, sdpCandidates(offer.SDP))
	s.goFunc(func() { s.statsLoop(pc) })
	return nil
}

func (s *session) correlationID(what string) string {
	return what + "-" + strconv.FormatUint(s.id, 10)
}

// sendCandidate trickles a local candidate, after the offer: a candidate that
// reached the master before the offer would be dropped by it.
func (s *session) sendCandidate(c webrtc.ICECandidateInit) {
	if s.deps.cfg.NoTrickle || !s.deps.cfg.SendCandidates.allows(c.Candidate) {
		return // in the offer, or filtered out
	}
	n := &s.neg
	n.candMu.Lock()
	if n.inOffer[strings.TrimPrefix(c.Candidate, "candidate:")] {
		n.candMu.Unlock()
		return // pion put it in the offer before it reported it
	}
	if !n.offerSent {
		n.outCands = append(n.outCands, c)
		if !n.hostSeen && candidateType(c.Candidate) == CandidateHost {
			n.hostSeen = true
			close(n.hostReady)
		}
		n.candMu.Unlock()
		return
	}
	n.candMu.Unlock()
	conn := s.signaling()
	if conn == nil {
		return
	}
	if err := conn.SendCandidate(s.ctx, c, "", ""); err != nil && s.ctx.Err() == nil {
		s.log.Debug("candidate not sent", "error", err)
	}
}

// flushCandidates trickles the candidates gathered before the offer that the
// offer does not carry (inOffer).
func (s *session) flushCandidates(conn *kvs.Conn, inOffer map[string]bool) {
	n := &s.neg
	n.candMu.Lock()
	n.offerSent, n.inOffer = true, inOffer
	pending := n.outCands
	n.outCands = nil
	n.candMu.Unlock()
	for _, c := range pending {
		if inOffer[strings.TrimPrefix(c.Candidate, "candidate:")] {
			continue
		}
		if err := conn.SendCandidate(s.ctx, c, "", ""); err != nil {
			s.log.Debug("candidate not sent", "error", err)
		}
	}
}

// serve handles signaling messages and repairs until the session ends.
func (s *session) serve(ctx context.Context) {
	for {
		conn := s.signaling()
		select {
		case <-ctx.Done():
			return
		case <-s.repairs.ready:
			s.runRepairs()
		case <-conn.Done():
			if ctx.Err() != nil {
				return
			}
			err := conn.Err()
			if err == nil {
				err = kvs.ErrSignalingClosed
			}
			s.signalingDropped.Store(true)
			s.post(sessionEvent{kind: evSignalingClosed, err: err})
			// Wait for the controller's decision: a repair, or the teardown.
			select {
			case <-ctx.Done():
				return
			case <-s.repairs.ready:
				s.runRepairs()
			}
		case m, ok := <-conn.Messages():
			if ok {
				s.handle(m)
			}
		}
	}
}

func (s *session) handle(m kvs.Message) {
	if (m.Type == kvs.TypeSDPAnswer || m.Type == kvs.TypeICECandidate) && m.Received.Before(s.neg.offerAt) {
		// Queued by the service for this ClientId before this session's offer
		// existed: it belongs to an earlier session and must not touch this one.
		s.log.Debug("stale message dropped", "type", m.Type)
		return
	}
	switch m.Type {
	case kvs.TypeSDPAnswer:
		s.onAnswer(m)
	case kvs.TypeICECandidate:
		s.onRemoteCandidate(m.Candidate)
	case kvs.TypeGoAway:
		s.post(sessionEvent{kind: evGoAway})
	case kvs.TypeReconnectICEServer:
		s.post(sessionEvent{kind: evReconnectICE})
	case kvs.TypeStatusResponse:
		s.onStatus(m.Status)
	}
}

func (s *session) onRemoteCandidate(c *webrtc.ICECandidateInit) {
	if c == nil || !s.deps.cfg.AcceptCandidates.allows(c.Candidate) {
		return
	}
	if !s.neg.remoteOK {
		s.neg.pending = append(s.neg.pending, *c)
		return
	}
	if err := s.pc.AddICECandidate(*c); err != nil {
		s.log.Debug("remote candidate rejected", "error", err)
	}
}

// onStatus handles the service refusing one of our messages: a refused
// offer fails the attempt, anything else is a notice.
func (s *session) onStatus(st *kvs.StatusResponse) {
	if st == nil {
		return
	}
	// The service's words are shown to the user: bounded, and without secrets.
	err := fmt.Errorf("service refused a message (%s %s): %s", redact.Truncate(st.StatusCode, 16),
		redact.Truncate(st.ErrorType, 64), redact.Truncate(redact.String(st.Description), 200))
	if st.CorrelationID == s.correlationID("offer") && !s.neg.answered {
		s.failed(ClassStatusResponse, err)
		return
	}
	s.notice(err.Error())
}

func (s *session) onAnswer(m kvs.Message) {
	n := &s.neg
	if m.Answer != nil && n.answered && !s.iceUp.Load() && s.pc.SignalingState() == webrtc.SignalingStateStable {
		// A second answer before ICE came up: the first one answered an
		// earlier offer of this ClientId, and the master has moved on to ours.
		// This peer connection cannot be saved; start over at once rather
		// than wait for the ICE timeout.
		s.failed(ClassICEFailed, errors.New("a second SDP answer arrived before ICE connected: the first answered an earlier offer"))
		return
	}
	if m.Answer == nil || s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		// Not an answer to an offer of ours that is still open: a late or
		// duplicate answer (e.g. to an earlier offer of the same ClientId).
		s.log.Debug("answer ignored", "signaling_state", s.pc.SignalingState().String())
		return
	}
	// Held until answer_received is posted: media can only start once the
	// answer is being applied, so the first frame, which takes phaseMu too,
	// is always reported after the answer (the state machine relies on it).
	answer := *m.Answer
	answer.SDP = s.deps.cfg.AcceptCandidates.filterSDP(answer.SDP)
	s.phaseMu.Lock()
	err := s.pc.SetRemoteDescription(answer)
	restart := n.answered
	if err == nil {
		n.answered, n.remoteOK = true, true
		if !restart {
			s.phase(PhaseAnswerReceived, time.Now(), nil)
		}
	}
	s.phaseMu.Unlock()
	if err != nil {
		s.log.Warn("answer rejected", "error", err)
		return
	}
	for _, c := range n.pending {
		if err := s.pc.AddICECandidate(c); err != nil {
			s.log.Debug("queued remote candidate rejected", "error", err)
		}
	}
	n.pending = nil
}
