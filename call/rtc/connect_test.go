package rtc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// sigMsg is one signaling message: a description or a trickled candidate.
type sigMsg struct {
	sdp  *webrtc.SessionDescription
	cand *webrtc.ICECandidateInit
}

// link is one direction of a fake signaling channel: messages are delivered
// in order, each after hop, by a single goroutine (like one WebSocket). Sends
// and deliveries give up once done is closed, so pion callbacks that fire
// during teardown never block.
type link struct {
	out  chan sigMsg // the sender writes here
	in   chan sigMsg // the receiver reads here
	done <-chan struct{}
}

func newLink(hop time.Duration, done <-chan struct{}, wg *sync.WaitGroup) *link {
	l := &link{out: make(chan sigMsg, 64), in: make(chan sigMsg, 64), done: done}
	wg.Go(func() {
		for {
			var m sigMsg
			select {
			case m = <-l.out:
			case <-done:
				return
			}
			if hop > 0 {
				time.Sleep(hop)
			}
			select {
			case l.in <- m:
			case <-done:
				return
			}
		}
	})

	return l
}

// send queues m unless the call is over.
func (l *link) send(m sigMsg) {
	select {
	case l.out <- m:
	case <-l.done:
	}
}

// scenario describes the signaling of one test call.
type scenario struct {
	// hop delays every signaling message, in each direction.
	hop time.Duration
	// sdpAfterSLD sends each description after SetLocalDescription, so the
	// peer's first trickled candidates can overtake it (they are queued).
	sdpAfterSLD bool
	// dropAnswerCands loses every candidate the answerer trickles: the
	// offerer learns the answerer's address only from its connectivity
	// checks, as a peer-reflexive candidate. That is what happens when the
	// remote's candidate is an mDNS name we cannot resolve, when a NAT maps
	// it to an address it never signaled, or when the signaling service
	// drops the message.
	dropAnswerCands bool
}

// connectResult holds the times of one offer/answer exchange, measured from
// the moment the offerer calls SetRemoteDescription(answer).
type connectResult struct {
	offererICE time.Duration // offerer ICE connected
	offererPC  time.Duration // offerer peer connection connected (DTLS done)
	answerICE  time.Duration // answerer ICE connected
	// pair is the offerer's selected candidate pair.
	pair *webrtc.ICECandidatePair
	// pwds are the ICE passwords of both peers (from their descriptions).
	pwds []string
}

// peerSide is one peer of a test call and its signaling loop.
type peerSide struct {
	pc        *webrtc.PeerConnection
	iceUp     chan struct{}
	pcUp      chan struct{}
	failed    chan struct{}
	onceICE   sync.Once
	oncePC    sync.Once
	onceFail  sync.Once
	iceUpAt   time.Time
	pcUpAt    time.Time
	queue     []webrtc.ICECandidateInit
	remoteSet bool
}

func newPeerSide(api *webrtc.API, cfg webrtc.Configuration, out *link) (*peerSide, error) {
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	p := &peerSide{pc: pc, iceUp: make(chan struct{}), pcUp: make(chan struct{}), failed: make(chan struct{})}
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		switch s {
		case webrtc.ICEConnectionStateConnected:
			p.onceICE.Do(func() { p.iceUpAt = time.Now(); close(p.iceUp) })
		case webrtc.ICEConnectionStateFailed:
			p.onceFail.Do(func() { close(p.failed) })
		default:
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			p.oncePC.Do(func() { p.pcUpAt = time.Now(); close(p.pcUp) })
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		out.send(sigMsg{cand: &init})
	})

	return p, nil
}

// addCandidate adds a remote candidate, or queues it until the remote
// description is set (what a KVS client must do).
func (p *peerSide) addCandidate(c webrtc.ICECandidateInit) error {
	if !p.remoteSet {
		p.queue = append(p.queue, c)

		return nil
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("add candidate: %w", err)
	}

	return nil
}

// setRemote sets the remote description and flushes queued candidates.
func (p *peerSide) setRemote(d webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("set remote %s: %w", d.Type, err)
	}
	p.remoteSet = true
	q := p.queue
	p.queue = nil
	for _, c := range q {
		if err := p.addCandidate(c); err != nil {
			return err
		}
	}

	return nil
}

// handle is the answerer's reaction to one signaling message.
func (p *peerSide) handle(m sigMsg, reply *link, afterSLD bool) error {
	if m.cand != nil {
		return p.addCandidate(*m.cand)
	}
	if m.sdp == nil {
		return nil
	}
	if err := p.setRemote(*m.sdp); err != nil {
		return err
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	// Sent before SetLocalDescription, the answer carries no candidates:
	// they all come by trickle after it (as from a KVS master).
	if !afterSLD {
		reply.send(sigMsg{sdp: &answer})
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	if afterSLD {
		reply.send(sigMsg{sdp: p.pc.LocalDescription()})
	}

	return nil
}

// connectOnce runs one offer/answer exchange with trickle ICE between a new
// offerer (offAPI) and a new answerer (ansAPI), with one video transceiver,
// and closes both peers before returning.
func connectOnce(ctx context.Context, offAPI, ansAPI *webrtc.API, cfg webrtc.Configuration, sc scenario) (res connectResult, err error) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	toAns := newLink(sc.hop, done, &wg)
	toOff := newLink(sc.hop, done, &wg)
	stop := func() {
		close(done)
		wg.Wait()
	}

	off, err := newPeerSide(offAPI, cfg, toAns)
	if err != nil {
		stop()

		return res, err
	}
	ansOut := toOff
	if sc.dropAnswerCands {
		ansOut = &link{out: make(chan sigMsg), done: done} // never read: send gives up at teardown
	}
	ans, err := newPeerSide(ansAPI, cfg, ansOut)
	if err != nil {
		close(done)
		err = errors.Join(err, off.pc.Close())
		wg.Wait()

		return res, err
	}
	defer func() {
		close(done)
		err = errors.Join(err, off.pc.Close(), ans.pc.Close())
		wg.Wait()
	}()

	tr, err := off.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		return res, fmt.Errorf("add transceiver: %w", err)
	}

	// The answerer's signaling loop.
	ansErr := make(chan error, 1)
	wg.Go(func() {
		for {
			var m sigMsg
			select {
			case m = <-toAns.in:
			case <-done:
				return
			}
			if err := ans.handle(m, toOff, sc.sdpAfterSLD); err != nil {
				ansErr <- err

				return
			}
		}
	})

	offer, err := off.pc.CreateOffer(nil)
	if err != nil {
		return res, fmt.Errorf("create offer: %w", err)
	}
	if !sc.sdpAfterSLD {
		toAns.send(sigMsg{sdp: &offer})
	}
	if err := off.pc.SetLocalDescription(offer); err != nil {
		return res, fmt.Errorf("set local offer: %w", err)
	}
	if sc.sdpAfterSLD {
		toAns.send(sigMsg{sdp: off.pc.LocalDescription()})
	}

	var start time.Time
	iceUp := off.iceUp
	for start.IsZero() || iceUp != nil {
		select {
		case m := <-toOff.in:
			switch {
			case m.sdp != nil:
				start = time.Now()
				if err := off.setRemote(*m.sdp); err != nil {
					return res, err
				}
			case m.cand != nil:
				if err := off.addCandidate(*m.cand); err != nil {
					return res, err
				}
			}
		case <-iceUp:
			if start.IsZero() {
				return res, errors.New("offerer connected before the answer")
			}
			iceUp = nil
		case <-off.failed:
			return res, errors.New("offerer ICE failed")
		case err := <-ansErr:
			return res, fmt.Errorf("answerer: %w", err)
		case <-ctx.Done():
			return res, fmt.Errorf("offerer not connected: %w", ctx.Err())
		}
	}

	for _, ch := range []chan struct{}{off.pcUp, ans.iceUp} {
		select {
		case <-ch:
		case <-ctx.Done():
			return res, fmt.Errorf("peers not connected: %w", ctx.Err())
		}
	}
	res.offererICE = off.iceUpAt.Sub(start)
	res.offererPC = off.pcUpAt.Sub(start)
	res.answerICE = ans.iceUpAt.Sub(start)
	for _, d := range []*webrtc.SessionDescription{off.pc.LocalDescription(), off.pc.RemoteDescription()} {
		for line := range strings.SplitSeq(d.SDP, "\r\n") {
			if pwd, ok := strings.CutPrefix(line, "a=ice-pwd:"); ok {
				res.pwds = append(res.pwds, pwd)
			}
		}
	}
	res.pair, err = tr.Receiver().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return res, fmt.Errorf("selected pair: %w", err)
	}

	return res, nil
}
