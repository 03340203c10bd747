package call

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// attempt is what the loop knows of the current session: the session and the
// watchdog state of this one attempt. A new attempt starts with a new one.
type attempt struct {
	s            *session
	ice          webrtc.ICEConnectionState // the last ICE state reported
	iceRestarted bool                      // the one ICE restart was tried
	seen         map[Phase]bool            // phases reported so far
	offerAt      time.Time                 // when the offer went out
	answerWait   time.Duration             // how long this offer waits for its answer
}

// onSessionEvent handles an event of the current session; events of any
// other session are late and dropped, so they can never touch the new call.
func (c *Controller) onSessionEvent(ev sessionEvent) {
	a := c.lp.cur
	if a == nil || ev.id != a.s.id {
		return
	}
	s := a.s
	switch ev.kind {
	case evPhase:
		c.onPhase(a, ev)
	case evFail:
		c.fail(s, ev.class, ev.err)
	case evICE:
		c.onICE(a, ev.ice)
	case evTimer:
		c.onTimer(a, ev.timer)
	case evGoAway:
		c.keepLiveOr(s, repairReopenSignaling, "service sent GO_AWAY: reopening signaling, media continues",
			ClassGoAway, errors.New("the service sent GO_AWAY before the call was up"))
	case evReconnectICE:
		c.cp.invalidateICE()
		c.keepLiveOr(s, repairRefreshICEServers, "service sent RECONNECT_ICE_SERVER: refreshing ICE servers",
			ClassReconnectICEServer, errors.New("the service asked to refresh ICE servers before the call was up"))
	case evSignalingClosed:
		c.keepLiveOr(s, repairReopenSignaling, "signaling connection closed: reopening it, media continues",
			ClassSignalingClosed, ev.err)
	case evStats:
		c.publish(Event{Kind: EventStats, SessionID: s.id, Stats: ev.stats})
	case evNotice:
		c.publish(Event{Kind: EventNotice, SessionID: s.id, Message: ev.msg})
	case evStall:
		c.fail(s, ClassMediaStall, ev.err)
	case evData:
		c.publish(Event{Kind: EventData, SessionID: s.id, Data: ev.data})
	}
}

// keepLiveOr handles a signaling event: a live call repairs itself with r
// (on the session's goroutine) and keeps its media; a call not yet live
// fails with class, to be retried from nothing.
func (c *Controller) keepLiveOr(s *session, r repair, notice string, class Class, err error) {
	if c.lp.m.state != StateLive {
		c.fail(s, class, err)
		return
	}
	c.publish(Event{Kind: EventNotice, SessionID: s.id, Message: notice})
	s.requestRepair(r)
}

// onPhase publishes a phase the first time it is reached, moves the state
// and arms or disarms the watchdog of the next phase.
func (c *Controller) onPhase(a *attempt, ev sessionEvent) {
	if a.seen[ev.phase] {
		return
	}
	a.seen[ev.phase] = true
	s := a.s
	c.publish(Event{Kind: EventPhase, SessionID: s.id, Attempt: c.lp.action.attempt, ClientID: s.clientID,
		Phase: ev.phase, Elapsed: ev.at.Sub(c.lp.action.click), Frame: ev.frame})
	switch ev.phase {
	case PhaseOfferSent:
		s.disarm(timerSetup)
		a.offerAt, a.answerWait = ev.at, c.answerWait()
		c.moveTo(StateOffering, Event{AnswerTimeout: a.answerWait})
		s.arm(timerAnswer, a.answerWait)
	case PhaseAnswerReceived:
		s.disarm(timerAnswer)
		c.answeredAfter(ev.at.Sub(a.offerAt))
		c.moveTo(StateConnectingMedia, Event{})
		if !a.seen[PhaseICEConnected] {
			s.arm(timerICE, c.cfg.ICEConnectTimeout)
		}
	case PhaseICEConnected:
		s.disarm(timerICE)
		if !a.seen[PhaseFirstFrame] {
			s.arm(timerFirstFrame, c.cfg.MediaStallTimeout)
		}
	case PhaseFirstFrame:
		s.disarm(timerFirstFrame)
		c.ids.channelFull(false)
		c.moveTo(StateLive, Event{})
	}
}

func (c *Controller) onICE(a *attempt, st webrtc.ICEConnectionState) {
	a.ice = st
	switch st {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		a.s.disarm(timerDisconnected)
		a.s.disarm(timerRestart)
	case webrtc.ICEConnectionStateDisconnected:
		a.s.arm(timerDisconnected, c.cfg.ICEDisconnectedGrace)
	case webrtc.ICEConnectionStateFailed:
		c.fail(a.s, ClassICEFailed, errors.New("ICE failed: no candidate pair works"))
	}
}

// onTimer handles a watchdog that fired: the phase it waited for did not come.
func (c *Controller) onTimer(a *attempt, t timerKind) {
	s := a.s
	switch t {
	case timerSetup:
		c.onSetupTooLong(a)
	case timerAnswer:
		if !a.seen[PhaseAnswerReceived] {
			c.noAnswerAfter(a.answerWait)
			c.fail(s, ClassNoAnswer, fmt.Errorf("no SDP answer within %s", a.answerWait))
		}
	case timerICE:
		if !a.seen[PhaseICEConnected] {
			c.fail(s, ClassICEFailed, fmt.Errorf("ICE not connected %s after the answer", c.cfg.ICEConnectTimeout))
		}
	case timerFirstFrame:
		if !a.seen[PhaseFirstFrame] {
			c.fail(s, ClassMediaStall, fmt.Errorf("connected but no video frame within %s", c.cfg.MediaStallTimeout))
		}
	case timerDisconnected:
		c.onICEDisconnectedTooLong(a)
	case timerRestart:
		if a.ice != webrtc.ICEConnectionStateConnected && a.ice != webrtc.ICEConnectionStateCompleted {
			c.fail(s, ClassICEDisconnected, errors.New("ICE restart did not reconnect"))
		}
	}
}

// onSetupTooLong fails an attempt that did not send its offer within
// SetupTimeout, classed by the step it was stuck in.
func (c *Controller) onSetupTooLong(a *attempt) {
	if a.seen[PhaseOfferSent] {
		return
	}
	limit := c.cfg.SetupTimeout
	switch {
	case !a.seen[PhaseControlPlane]:
		c.fail(a.s, ClassControlPlane, fmt.Errorf("the KVS control plane did not answer within %s", limit))
	case !a.seen[PhaseSignalingOpen]:
		c.fail(a.s, ClassSignalingClosed, fmt.Errorf("the signaling connection did not open within %s", limit))
	default:
		c.fail(a.s, ClassInternal, fmt.Errorf("the call was not ready to send its offer within %s (camera, microphone or WebRTC set-up)", limit))
	}
}

// onICEDisconnectedTooLong tries one ICE restart on the same peer
// connection; a second disconnection that outlasts the grace fails the attempt.
func (c *Controller) onICEDisconnectedTooLong(a *attempt) {
	if a.ice != webrtc.ICEConnectionStateDisconnected {
		return
	}
	if a.iceRestarted {
		c.fail(a.s, ClassICEDisconnected, errors.New("ICE stayed disconnected after an ICE restart"))
		return
	}
	a.iceRestarted = true
	c.publish(Event{Kind: EventNotice, SessionID: a.s.id, Message: "ICE disconnected: trying an ICE restart"})
	a.s.requestRepair(repairICERestart)
	a.s.arm(timerRestart, c.answerWait()+c.cfg.ICEDisconnectedGrace)
}
