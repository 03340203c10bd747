package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/media/sink"
)

// Controller runs calls: Connect, Disconnect and Reconnect are safe from any
// goroutine and never block; every state change happens on the controller's
// own event loop goroutine. Each attempt is a new session built from nothing;
// events of a session that is no longer current are dropped.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	ids      *idPolicy
	cp       *cpCache
	connects *rate.Limiter // ConnectAsViewer quota of the channel

	remote, local *sink.Latest
	micMuted      atomic.Bool
	cameraOff     atomic.Bool
	state         atomic.Int32

	in     chan any // commands and session events, consumed by the loop
	quit   chan struct{}
	closed sync.Once
	done   chan struct{}
	nextID atomic.Uint64

	subMu  sync.Mutex
	subs   map[int]chan Event
	subSeq int

	// Owned by the loop goroutine.
	cur          *session
	closing      map[uint64]*session
	want         bool // the user wants a call
	attempt      int
	click        time.Time
	retryGen     uint64
	curICE       webrtc.ICEConnectionState
	iceRestarted bool
	seen         map[Phase]bool
	shutdown     chan struct{} // closed by the loop once Close has torn everything down
}

// connectsPerSecond is the service's ConnectAsViewer quota per channel.
const connectsPerSecond = 3

type cmdKind int

const (
	cmdConnect cmdKind = iota
	cmdDisconnect
	cmdReconnect
	cmdClose
)

type command struct{ kind cmdKind }

// NewController validates cfg and starts the controller's event loop.
func NewController(cfg Config) (*Controller, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ids, err := newIDPolicy(cfg.ClientIDs)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		cfg:      cfg,
		log:      cfg.Logger,
		ids:      ids,
		cp:       &cpCache{},
		connects: rate.NewLimiter(connectsPerSecond, connectsPerSecond),
		remote:   sink.NewLatest(),
		local:    sink.NewLatest(),
		in:       make(chan any, 256),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		subs:     map[int]chan Event{},
		closing:  map[uint64]*session{},
		shutdown: make(chan struct{}),
	}
	go c.loop()
	return c, nil
}

// Connect starts a call unless one is already under way.
func (c *Controller) Connect() { c.send(command{cmdConnect}) }

// Disconnect ends the call (and any pending retry) with a full teardown.
func (c *Controller) Disconnect() { c.send(command{cmdDisconnect}) }

// Reconnect tears the whole call down and starts a new one from nothing,
// whatever the current state.
func (c *Controller) Reconnect() { c.send(command{cmdReconnect}) }

// State is the current state.
func (c *Controller) State() State { return State(c.state.Load()) }

// RemoteVideo is the sink holding the master's latest decoded frame.
func (c *Controller) RemoteVideo() *sink.Latest { return c.remote }

// LocalVideo is the sink holding the local camera preview: small copies
// (320 pixels wide) of the frames sent, about ten a second.
func (c *Controller) LocalVideo() *sink.Latest { return c.local }

// SetMicMuted mutes or unmutes the microphone of this and later calls.
func (c *Controller) SetMicMuted(m bool) {
	c.micMuted.Store(m)
	c.send(applyMedia{})
}

// SetCameraOff turns the camera off or on for this and later calls.
func (c *Controller) SetCameraOff(off bool) {
	c.cameraOff.Store(off)
	c.send(applyMedia{})
}

type applyMedia struct{}

// Subscribe returns a stream of events and a function that ends the
// subscription. Events are dropped (and logged) for a subscriber that does
// not keep up with a buffer of 4096.
func (c *Controller) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 4096)
	c.subMu.Lock()
	id := c.subSeq
	c.subSeq++
	c.subs[id] = ch
	c.subMu.Unlock()
	return ch, func() {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		if _, ok := c.subs[id]; ok {
			delete(c.subs, id)
			close(ch)
		}
	}
}

// Close ends any call, waits for its teardown and stops the controller.
func (c *Controller) Close() error {
	c.closed.Do(func() {
		c.send(command{cmdClose})
		<-c.shutdown
		close(c.quit)
		<-c.done
		c.subMu.Lock()
		for id, ch := range c.subs {
			delete(c.subs, id)
			close(ch)
		}
		c.subMu.Unlock()
	})
	return nil
}

func (c *Controller) send(v any) {
	select {
	case c.in <- v:
	case <-c.done:
	}
}

func (c *Controller) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for _, ch := range c.subs {
		select {
		case ch <- e:
		default:
			c.log.Warn("event subscriber is not keeping up; event dropped", "kind", e.Kind)
		}
	}
}

func (c *Controller) setState(s State, e Event) {
	c.state.Store(int32(s))
	e.Kind, e.State = EventState, s
	if c.cur != nil && e.SessionID == 0 {
		e.SessionID, e.ClientID = c.cur.id, c.cur.clientID
	}
	e.Attempt = c.attempt
	c.publish(e)
}

func (c *Controller) loop() {
	defer close(c.done)
	closing := false
	for {
		select {
		case <-c.quit:
			return
		case v := <-c.in:
			switch m := v.(type) {
			case command:
				if closing {
					continue
				}
				if m.kind == cmdClose {
					closing = true
				}
				c.handleCommand(m)
			case applyMedia:
				if c.cur != nil {
					c.cur.applyMedia(!c.micMuted.Load(), !c.cameraOff.Load())
				}
			case sessionEvent:
				c.handleSessionEvent(m)
			case retryFire:
				if m.gen == c.retryGen && c.want && c.cur == nil {
					c.start()
				}
			}
			if closing && c.cur == nil && len(c.closing) == 0 {
				select {
				case <-c.shutdown:
				default:
					close(c.shutdown)
				}
			}
		}
	}
}

type retryFire struct{ gen uint64 }

func (c *Controller) handleCommand(m command) {
	switch m.kind {
	case cmdConnect:
		if c.want && (c.cur != nil || c.State() == StateRetrying || c.State() == StateWaiting) {
			return // already connecting or connected
		}
		c.beginUserAction()
		c.start()
	case cmdReconnect:
		c.beginUserAction()
		if c.cur != nil {
			c.teardown(c.cur, "reconnect")
		}
		c.start()
	case cmdDisconnect, cmdClose:
		c.want = false
		c.retryGen++
		if c.cur != nil {
			c.teardown(c.cur, "disconnect")
		}
		if len(c.closing) == 0 {
			c.setState(StateIdle, Event{})
		}
	}
}

func (c *Controller) beginUserAction() {
	c.want = true
	c.attempt = 1
	c.click = time.Now()
	c.retryGen++
}

// start starts a new session. It may overlap the teardown of older ones: it
// resolves the channel and opens signaling at once, and opens the camera and
// microphone only once every older session has released its own.
func (c *Controller) start() {
	id, wait, notice := c.ids.acquire(time.Now())
	if notice != "" {
		c.log.Warn(notice)
		c.publish(Event{Kind: EventNotice, Message: notice, Attempt: c.attempt})
	}
	if wait > 0 {
		c.scheduleRetry(wait)
		c.setState(StateWaiting, Event{Backoff: wait, Message: notice})
		return
	}
	var after []<-chan struct{}
	for _, old := range c.closing {
		after = append(after, old.devFree)
	}
	s := newSession(c, c.nextID.Add(1), c.attempt, id, c.click, after)
	c.cur = s
	c.curICE = webrtc.ICEConnectionStateNew
	c.iceRestarted = false
	c.seen = map[Phase]bool{}
	c.remote.Reset()
	c.local.Reset()
	c.setState(StateConnecting, Event{SessionID: s.id, ClientID: id})
	s.start()
}

func (c *Controller) scheduleRetry(d time.Duration) {
	c.retryGen++
	gen := c.retryGen
	time.AfterFunc(d, func() { c.send(retryFire{gen}) })
}

// teardown moves s from current to closing and tears it down in the background.
func (c *Controller) teardown(s *session, why string) {
	if c.cur == s {
		c.cur = nil
	}
	// Before anything else, and before a new session resets the sinks: no
	// frame of this session may reach them any more.
	s.stopFrames()
	c.closing[s.id] = s
	c.log.Debug("teardown", "session", s.id, "why", why)
	if c.State() != StateClosing {
		c.setState(StateClosing, Event{SessionID: s.id, ClientID: s.clientID})
	}
	go func() {
		d := s.teardown()
		c.send(sessionEvent{id: s.id, kind: evTeardownDone, dur: d})
	}()
}

func (c *Controller) backoff(retry int) time.Duration {
	d := c.cfg.BackoffMin << min(retry-1, 20)
	if d > c.cfg.BackoffMax || d <= 0 {
		d = c.cfg.BackoffMax
	}
	// Equal jitter: half fixed, half random, so retries of many viewers spread out.
	return d/2 + rand.N(d/2+1)
}

// fail records a failed attempt, tears it down and retries or gives up.
func (c *Controller) fail(s *session, class Class, err error) {
	msg := describe(class, err)
	c.log.Warn("call attempt failed", "session", s.id, "attempt", c.attempt, "class", class, "error", msg)
	c.publish(Event{Kind: EventError, SessionID: s.id, Attempt: c.attempt, ClientID: s.clientID, Class: class, Message: msg, Elapsed: time.Since(c.click)})
	c.teardown(s, string(class))
	retries := c.attempt - 1
	if !retryable(class, err) || retries >= c.cfg.RetryLimit {
		c.want = false
		c.setState(StateFailed, Event{SessionID: s.id, Class: class, Message: msg})
		return
	}
	c.attempt++
	d := c.backoff(c.attempt - 1)
	c.scheduleRetry(d)
	c.setState(StateRetrying, Event{SessionID: s.id, Class: class, Message: msg, Retry: c.attempt - 1, Backoff: d})
}

func (c *Controller) handleSessionEvent(ev sessionEvent) {
	if ev.kind == evTeardownDone {
		s := c.closing[ev.id]
		delete(c.closing, ev.id)
		if s != nil {
			if err := c.ids.release(s.clientID, time.Now()); err != nil {
				c.log.Warn("ClientId pool not saved", "error", err)
			}
		}
		c.publish(Event{Kind: EventPhase, SessionID: ev.id, Phase: PhaseTeardown, Elapsed: ev.dur})
		if c.cur == nil {
			// The old call is gone: never leave its last picture on screen.
			c.remote.Reset()
			c.local.Reset()
		}
		if len(c.closing) == 0 && c.cur == nil && !c.want {
			c.setState(StateIdle, Event{})
		}
		return
	}
	s := c.cur
	if s == nil || ev.id != s.id {
		return // a late event of a session that is gone: it must not touch the new one
	}
	switch ev.kind {
	case evPhase:
		c.onPhase(s, ev)
	case evFail:
		c.fail(s, ev.class, ev.err)
	case evICE:
		c.onICE(s, ev.ice)
	case evTimer:
		c.onTimer(s, ev)
	case evGoAway:
		c.keepLiveOr(s, s.reopenSignaling, "service sent GO_AWAY: reopening signaling, media continues",
			ClassGoAway, errors.New("the service sent GO_AWAY before the call was up"))
	case evReconnectICE:
		c.cp.invalidateICE()
		c.keepLiveOr(s, s.refreshICEServers, "service sent RECONNECT_ICE_SERVER: refreshing ICE servers",
			ClassReconnectICEServer, errors.New("the service asked to refresh ICE servers before the call was up"))
	case evSignalingClosed:
		c.keepLiveOr(s, s.reopenSignaling, "signaling connection closed: reopening it, media continues",
			ClassSignalingClosed, ev.err)
	case evStats:
		c.publish(Event{Kind: EventStats, SessionID: s.id, Stats: ev.stats})
	case evNotice:
		c.publish(Event{Kind: EventNotice, SessionID: s.id, Message: ev.msg})
	case evStall:
		c.fail(s, ClassMediaStall, ev.err)
	}
}

// keepLiveOr handles a signaling event: a live call repairs itself with
// repair (on the session's goroutine) and keeps its media; a call not yet
// live fails with class, to be retried from nothing.
func (c *Controller) keepLiveOr(s *session, repair func(), notice string, class Class, err error) {
	if c.State() != StateLive {
		c.fail(s, class, err)
		return
	}
	c.publish(Event{Kind: EventNotice, SessionID: s.id, Message: notice})
	s.do(repair)
}

func (c *Controller) onPhase(s *session, ev sessionEvent) {
	if c.seen[ev.phase] {
		return
	}
	c.seen[ev.phase] = true
	c.publish(Event{Kind: EventPhase, SessionID: s.id, Attempt: c.attempt, ClientID: s.clientID, Phase: ev.phase, Elapsed: ev.at.Sub(c.click), Frame: ev.frame})
	switch ev.phase {
	case PhaseSignalingOpen:
		c.setState(StateConnecting, Event{})
	case PhaseOfferSent:
		c.setState(StateOffering, Event{})
		s.arm(timerAnswer, c.cfg.AnswerTimeout)
	case PhaseAnswerReceived:
		s.disarm(timerAnswer)
		c.setState(StateConnectingMedia, Event{})
		if !c.seen[PhaseICEConnected] {
			s.arm(timerICE, c.cfg.ICEConnectTimeout)
		}
	case PhaseICEConnected:
		s.disarm(timerICE)
		if !c.seen[PhaseFirstFrame] {
			s.arm(timerFirstFrame, c.cfg.MediaStallTimeout)
		}
	case PhaseFirstFrame:
		s.disarm(timerFirstFrame)
		s.disarm(timerAnswer)
		c.setState(StateLive, Event{})
	}
}

func (c *Controller) onICE(s *session, st webrtc.ICEConnectionState) {
	c.curICE = st
	switch st {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		s.disarm(timerDisconnected)
		s.disarm(timerRestart)
	case webrtc.ICEConnectionStateDisconnected:
		s.arm(timerDisconnected, c.cfg.ICEDisconnectedGrace)
	case webrtc.ICEConnectionStateFailed:
		c.fail(s, ClassICEFailed, errors.New("ICE failed: no candidate pair works"))
	}
}

func (c *Controller) onTimer(s *session, ev sessionEvent) {
	switch ev.timer {
	case timerAnswer:
		if !c.seen[PhaseAnswerReceived] {
			c.fail(s, ClassNoAnswer, fmt.Errorf("no SDP answer within %s", c.cfg.AnswerTimeout))
		}
	case timerICE:
		if !c.seen[PhaseICEConnected] {
			c.fail(s, ClassICEFailed, fmt.Errorf("ICE not connected %s after the answer", c.cfg.ICEConnectTimeout))
		}
	case timerFirstFrame:
		if !c.seen[PhaseFirstFrame] {
			c.fail(s, ClassMediaStall, fmt.Errorf("connected but no video frame within %s", c.cfg.MediaStallTimeout))
		}
	case timerDisconnected:
		if c.curICE != webrtc.ICEConnectionStateDisconnected {
			return
		}
		if c.iceRestarted {
			c.fail(s, ClassICEDisconnected, errors.New("ICE stayed disconnected after an ICE restart"))
			return
		}
		c.iceRestarted = true
		c.publish(Event{Kind: EventNotice, SessionID: s.id, Message: "ICE disconnected: trying an ICE restart"})
		s.do(s.iceRestart)
		s.arm(timerRestart, c.cfg.AnswerTimeout+c.cfg.ICEDisconnectedGrace)
	case timerRestart:
		if c.curICE != webrtc.ICEConnectionStateConnected && c.curICE != webrtc.ICEConnectionStateCompleted {
			c.fail(s, ClassICEDisconnected, errors.New("ICE restart did not reconnect"))
		}
	}
}

// cpCache keeps control-plane answers that outlive a call: the channel ARN and
// endpoints (stable) and the ICE servers (until shortly before they expire).
type cpCache struct {
	mu  sync.Mutex
	key string
	res *controlPlaneResult
}

func (p *cpCache) invalidateICE() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.res != nil {
		p.res.ice.Expires = time.Time{}
	}
}

// retryable says whether a failure class is worth another attempt.
func retryable(class Class, err error) bool {
	switch class {
	case ClassAuth, ClassLocalMedia:
		return false
	case ClassControlPlane:
		return !isChannelNotFound(err)
	}
	return !errors.Is(err, context.Canceled)
}
