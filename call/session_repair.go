package call

import (
	"fmt"
	"slices"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/rtc"
)

// repair is something a live call does to keep itself up without a new
// session: the controller asks for it, the session's run goroutine does it.
type repair int

const (
	repairReopenSignaling   repair = iota // GO_AWAY or a dropped socket: a new socket, same media
	repairRefreshICEServers               // RECONNECT_ICE_SERVER: new TURN credentials
	repairICERestart                      // ICE disconnected: a new offer with fresh ICE credentials
)

var repairNames = [...]string{"reopen signaling", "refresh ICE servers", "ICE restart"}

func (r repair) String() string { return repairNames[r] }

// repairQueue holds the repairs asked for and not yet run. It never drops
// one: a repair asked for again while still pending is the same work and is
// merged with it.
type repairQueue struct {
	mu      sync.Mutex
	pending []repair
	ready   chan struct{} // holds a token while pending is not empty
}

func newRepairQueue() repairQueue { return repairQueue{ready: make(chan struct{}, 1)} }

// push queues r and reports whether it was merged with the same pending repair.
func (q *repairQueue) push(r repair) (merged bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if slices.Contains(q.pending, r) {
		return true
	}
	q.pending = append(q.pending, r)
	select {
	case q.ready <- struct{}{}:
	default: // a token is already there
	}
	return false
}

// take returns every pending repair, in the order asked for.
func (q *repairQueue) take() []repair {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}

// requestRepair asks the session's run goroutine to do r.
func (s *session) requestRepair(r repair) {
	if s.repairs.push(r) {
		s.log.Debug("repair already pending", "repair", r.String())
	}
}

// runRepairs does the pending repairs (on the run goroutine).
func (s *session) runRepairs() {
	for _, r := range s.repairs.take() {
		if s.ctx.Err() != nil {
			return
		}
		switch r {
		case repairReopenSignaling:
			s.reopenSignaling()
		case repairRefreshICEServers:
			s.refreshICEServers()
		case repairICERestart:
			s.iceRestart()
		}
	}
}

// iceRestart sends a new offer with fresh ICE credentials on the same
// peer connection.
func (s *session) iceRestart() {
	// The master's candidates of the restart can overtake its answer (it
	// trickles them as soon as it sets the answer locally). Until the answer
	// is applied pion drops them ("ufrag doesn't match"), and a relay-only
	// call left with no remote candidate never sends a check, so the restart
	// cannot connect. Queue them, as for the first answer: onAnswer applies
	// the restart's answer, then adds them.
	s.neg.remoteOK = false
	// The restart gathers anew: its candidates all trickle, also one that
	// looks like a candidate of the first offer.
	s.neg.candMu.Lock()
	s.neg.inOffer = nil
	s.neg.candMu.Unlock()
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err == nil {
		err = s.signaling().SendOffer(s.ctx, *s.pc.LocalDescription(), s.correlationID("restart"))
	}
	if err != nil {
		s.failed(ClassICEDisconnected, fmt.Errorf("ICE restart: %w", err))
	}
}

// reopenSignaling replaces the signaling connection, keeping the media.
func (s *session) reopenSignaling() {
	if old := s.signaling(); old != nil {
		_ = old.Close()
	}
	if _, err := s.dial(s.ctx); err != nil {
		s.failed(ClassSignalingClosed, fmt.Errorf("reopen signaling: %w", err))
		return
	}
	s.notice("signaling reopened")
}

// refreshICEServers fetches new ICE servers and applies them to the peer connection.
func (s *session) refreshICEServers() {
	cfg, res, err := s.controlPlane(s.ctx)
	if err != nil {
		s.failed(classify(err, ClassReconnectICEServer), fmt.Errorf("refresh ICE servers: %w", err))
		return
	}
	s.kcfg, s.cpRes = cfg, res
	if err := s.pc.SetConfiguration(rtc.Configuration(res.ice.Servers, s.rtcOptions(nil))); err != nil {
		s.log.Warn("new ICE servers not applied", "error", err)
	}
}
