package call

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// loopMsg is what the event loop consumes: a command, a session event, a
// retry timer or a finished teardown.
type loopMsg interface{ isLoopMsg() }

// command is a user action.
type command int

const (
	cmdConnect command = iota
	cmdDisconnect
	cmdReconnect
	cmdClose
)

// applyMedia asks the loop to apply mute and camera-off to the current call.
type applyMedia struct{}

// retryDue is a scheduled retry (or ClientId wait) coming due; gen tells
// whether it was cancelled meanwhile.
type retryDue struct{ gen uint64 }

// sendText asks the loop to send a data channel message on the current call.
type sendText struct {
	text  string
	reply chan<- error
}

// teardownDone reports that a session has released everything it held.
type teardownDone struct {
	id  uint64
	res teardownResult
}

// idFree reports that a session whose teardown left steps behind has
// finished them: its ClientId may go back to the pool.
type idFree struct {
	clientID string
	clean    bool
}

func (command) isLoopMsg()      {}
func (applyMedia) isLoopMsg()   {}
func (sendText) isLoopMsg()     {}
func (retryDue) isLoopMsg()     {}
func (teardownDone) isLoopMsg() {}
func (idFree) isLoopMsg()       {}
func (sessionEvent) isLoopMsg() {}

// loopState is everything only the loop goroutine reads and writes.
type loopState struct {
	m          machine
	action     userAction
	cur        *attempt            // the current session, nil when there is none
	closing    map[uint64]*session // sessions being torn down
	retryGen   uint64              // bumped to cancel a scheduled retry
	lastID     uint64              // the last session id given out
	answerWait time.Duration       // the answer timeout of the next offer (grows for a slow master)
	stopping   bool                // Close was called: end once every session is torn down
}

// userAction is what the user last asked for.
type userAction struct {
	want    bool      // the user wants a call
	click   time.Time // when they asked: phases are timed from here
	attempt int       // the attempt number of the next or current session (1 = the first)

	waitingSince time.Time // when it started waiting for a ClientId (zero: not waiting)
}

func (c *Controller) loop() {
	defer close(c.stopped)
	for {
		switch m := (<-c.inbox).(type) {
		case command:
			c.onCommand(m)
		case applyMedia:
			if a := c.lp.cur; a != nil {
				a.s.applyMedia(!c.micMuted.Load(), !c.cameraOff.Load())
			}
		case sendText:
			m.reply <- c.sendMessage(m.text)
		case retryDue:
			if m.gen == c.lp.retryGen && c.lp.action.want && c.lp.cur == nil {
				c.start()
			}
		case teardownDone:
			c.onTeardownDone(m)
		case idFree:
			c.releaseID(m.clientID, m.clean)
		case sessionEvent:
			c.onSessionEvent(m)
		}
		if c.lp.stopping && c.lp.cur == nil && len(c.lp.closing) == 0 {
			return
		}
	}
}

// sendMessage sends text on the current session's data channel (pion only
// queues it for SCTP: the loop does not wait on the network).
func (c *Controller) sendMessage(text string) error {
	a := c.lp.cur
	if a == nil {
		return ErrNoDataChannel
	}
	return a.s.sendMessage(text)
}

// moveTo changes the state through the transition table and publishes it.
// A move the table refuses is a bug: it is logged and the state stays.
func (c *Controller) moveTo(to State, e Event) {
	from := c.lp.m.state
	if err := c.lp.m.moveTo(to); err != nil {
		c.log.Error("bug: "+err.Error(), "from", from.String(), "to", to.String())
		return
	}
	c.published.Store(int32(to))
	idle := to == StateIdle || to == StateFailed
	c.cp.inUse.Store(!idle) // the ICE servers are refreshed in the background only while a call is under way
	if idle {
		c.cp.closeIdle() // no call is up: no keep-alive connection is left open
	}
	e.Kind, e.State = EventState, to
	if a := c.lp.cur; a != nil && e.SessionID == 0 {
		e.SessionID, e.ClientID = a.s.id, a.s.clientID
	}
	e.Attempt = c.lp.action.attempt
	c.publish(e)
}

func (c *Controller) onCommand(cmd command) {
	if c.lp.stopping {
		return
	}
	switch cmd {
	case cmdConnect:
		st := c.lp.m.state
		if c.lp.action.want && (c.lp.cur != nil || st == StateRetrying || st == StateWaiting) {
			return // already connecting or connected
		}
		c.beginUserAction()
		c.start()
	case cmdReconnect:
		c.beginUserAction()
		if a := c.lp.cur; a != nil {
			c.teardown(a.s, "reconnect")
		}
		c.start()
	case cmdDisconnect, cmdClose:
		c.lp.stopping = cmd == cmdClose
		c.lp.action.want = false
		c.lp.retryGen++
		if a := c.lp.cur; a != nil {
			c.teardown(a.s, "disconnect")
		}
		c.quiesce()
	}
}

func (c *Controller) beginUserAction() {
	c.lp.action = userAction{want: true, click: time.Now(), attempt: 1}
	c.lp.retryGen++
}

// quiesce moves to Closing while teardowns still run and to Idle once none
// is left: for when the user wants no call.
func (c *Controller) quiesce() {
	to := StateIdle
	if len(c.lp.closing) > 0 {
		to = StateClosing
	}
	if c.lp.m.state != to {
		c.moveTo(to, Event{})
	}
}

// start starts a new session. It may overlap the teardown of older ones: it
// resolves the channel and opens signaling at once, and opens the camera and
// microphone only once every older session has released its own.
func (c *Controller) start() {
	now := time.Now()
	g := c.acquireID(now)
	if g.notice != "" {
		c.log.Warn(g.notice)
		c.publish(Event{Kind: EventNotice, Message: g.notice, Attempt: c.lp.action.attempt})
	}
	if g.wait > 0 {
		if c.lp.action.waitingSince.IsZero() {
			c.lp.action.waitingSince = now
		}
		c.scheduleRetry(g.wait)
		c.moveTo(StateWaiting, Event{Backoff: g.wait, Message: g.notice})
		return
	}
	waited := c.endIDWait(now)
	var after []<-chan struct{}
	for _, old := range c.lp.closing {
		after = append(after, old.devFree)
	}
	c.lp.lastID++
	s := newSession(c.sessionDeps(), sessionInfo{
		id: c.lp.lastID, attempt: c.lp.action.attempt, clientID: g.id, click: c.lp.action.click, after: after,
	})
	c.lp.cur = &attempt{s: s, ice: webrtc.ICEConnectionStateNew, seen: map[Phase]bool{}}
	c.remote.Reset()
	c.local.Reset()
	if waited > 0 {
		c.publish(Event{Kind: EventPhase, Phase: PhaseClientIDWait, Elapsed: waited, SessionID: s.id, ClientID: g.id, Attempt: c.lp.action.attempt})
	}
	c.moveTo(StateConnecting, Event{SessionID: s.id, ClientID: g.id})
	// Nothing before the offer may wait for ever (a black-holed endpoint, a
	// proxy that never answers): the whole set-up has a deadline.
	s.arm(timerSetup, c.cfg.SetupTimeout)
	if c.onSession != nil {
		c.onSession(s)
	}
	s.start()
}

// acquireID asks the ClientId policy for an id. A pool file that cannot be
// used (locked by a stuck process, unwritable) must not stop the call: a new
// id, not kept, does no harm.
func (c *Controller) acquireID(now time.Time) idGrant {
	g, err := c.ids.acquire(now)
	if err != nil {
		c.log.Warn("ClientId pool unavailable: using a new id", "error", err)
		g = idGrant{id: c.ids.newID(), notice: "the ClientId pool could not be used (" + err.Error() + "): using a new id"}
	}
	return g
}

// endIDWait ends a wait for a ClientId and returns how long it was: that
// time is reported as its own phase and taken out of the timings that
// follow (control plane, first frame), which are timed from the click.
func (c *Controller) endIDWait(now time.Time) time.Duration {
	a := &c.lp.action
	if a.waitingSince.IsZero() {
		return 0
	}
	waited := now.Sub(a.waitingSince)
	a.waitingSince = time.Time{}
	a.click = a.click.Add(waited)
	return waited
}

// sessionDeps is what a session may use of the controller.
func (c *Controller) sessionDeps() sessionDeps {
	return sessionDeps{
		cfg: c.cfg, log: c.log, post: func(ev sessionEvent) { c.send(ev) },
		cp: c.cp, connects: c.connects, remote: c.remote, local: c.local,
		micMuted: c.micMuted.Load, cameraOff: c.cameraOff.Load, input: &c.input,
	}
}

func (c *Controller) scheduleRetry(d time.Duration) {
	c.lp.retryGen++
	gen := c.lp.retryGen
	time.AfterFunc(d, func() { c.send(retryDue{gen}) })
}

// teardown moves s from current to closing and tears it down in the background.
func (c *Controller) teardown(s *session, why string) {
	if a := c.lp.cur; a != nil && a.s == s {
		c.lp.cur = nil
	}
	// Before anything else, and before a new session resets the sinks: no
	// frame of this session may reach them any more.
	s.stopFrames()
	c.lp.closing[s.id] = s
	c.log.Debug("teardown", "session", s.id, "why", why)
	if c.lp.m.state != StateClosing {
		c.moveTo(StateClosing, Event{SessionID: s.id, ClientID: s.clientID})
	}
	go func() {
		res := s.teardown()
		c.send(teardownDone{id: s.id, res: res})
		if res.lingering != nil {
			// Steps left behind may still use the ClientId: keep it out of
			// the pool until they have finished.
			<-res.lingering
			c.send(idFree{clientID: s.clientID, clean: res.clean})
		}
	}()
}

func (c *Controller) onTeardownDone(m teardownDone) {
	if s := c.lp.closing[m.id]; s != nil {
		delete(c.lp.closing, m.id)
		if m.res.lingering == nil {
			c.releaseID(s.clientID, m.res.clean)
		}
	}
	e := Event{Kind: EventPhase, SessionID: m.id, Phase: PhaseTeardown, Elapsed: m.res.took, Overruns: m.res.overruns}
	if len(m.res.overruns) > 0 {
		e.Message = fmt.Sprintf("teardown steps overran %s and were left running: %s", c.cfg.TeardownStepLimit, strings.Join(m.res.overruns, ", "))
		c.log.Warn(e.Message, "session", m.id)
	}
	c.publish(e)
	if c.lp.cur != nil {
		return
	}
	// The old call is gone: never leave its last picture on screen.
	c.remote.Reset()
	c.local.Reset()
	if c.lp.m.state == StateClosing {
		c.quiesce()
	}
}

// releaseID gives a session's ClientId back to the policy.
func (c *Controller) releaseID(id string, clean bool) {
	if err := c.ids.release(id, time.Now(), clean); err != nil {
		c.log.Warn("ClientId pool not saved", "error", err)
	}
}

// fail records a failed attempt, tears it down and retries or gives up.
func (c *Controller) fail(s *session, class Class, err error) {
	msg := describe(class, err)
	n := c.lp.action.attempt
	c.log.Warn("call attempt failed", "session", s.id, "attempt", n, "class", class, "error", msg)
	c.publish(Event{Kind: EventError, SessionID: s.id, Attempt: n, ClientID: s.clientID, Class: class, Message: msg, Elapsed: time.Since(c.lp.action.click)})
	c.teardown(s, string(class))
	if class == ClassViewerLimit {
		c.ids.channelFull(true) // the next attempt replaces a stale session rather than add one
		c.ids.refusedAtTheDoor(s.clientID)
	}
	if class == ClassAuth {
		c.cp.forget() // credentials fixed on disk meanwhile are read by the next Connect
	}
	if !retryable(class, err) || c.cfg.NoRetries || n-1 >= c.cfg.RetryLimit {
		c.lp.action.want = false
		c.moveTo(StateFailed, Event{SessionID: s.id, Class: class, Message: msg})
		return
	}
	c.lp.action.attempt++
	d := c.backoff(n)
	c.scheduleRetry(d)
	retry := Event{SessionID: s.id, Class: class, Message: msg, Retry: n, Backoff: d}
	if class == ClassNoAnswer {
		// Say what the watchdog does about it: a slow master gets more time.
		retry.AnswerTimeout = c.answerWait()
		retry.Message = fmt.Sprintf("%s; retrying in %s and waiting %s for the answer", msg, d.Round(time.Millisecond), retry.AnswerTimeout)
		c.log.Info("no answer: the next offer waits longer", "answer_timeout", retry.AnswerTimeout)
	}
	c.moveTo(StateRetrying, retry)
}

// answerWait is how long the next offer waits for its answer: the
// configured timeout at first, doubled after each offer that went
// unanswered, and twice the last answer time once one came (a slow master
// keeps getting the time it needs; a fast one brings the watchdog back
// down), always between AnswerTimeout and MaxAnswerTimeout.
func (c *Controller) answerWait() time.Duration {
	if c.lp.answerWait == 0 {
		return c.cfg.AnswerTimeout
	}
	return c.lp.answerWait
}

// noAnswerAfter grows the answer timeout after an offer waited d in vain.
func (c *Controller) noAnswerAfter(d time.Duration) {
	c.lp.answerWait = min(2*d, c.cfg.MaxAnswerTimeout)
}

// answeredAfter sets the answer timeout from an answer that took d.
func (c *Controller) answeredAfter(d time.Duration) {
	c.lp.answerWait = min(max(2*d, c.cfg.AnswerTimeout), c.cfg.MaxAnswerTimeout)
}

// backoff is the delay before retry number retry (1 = the first retry):
// exponential from BackoffMin up to BackoffMax, with equal jitter.
func (c *Controller) backoff(retry int) time.Duration {
	d := c.cfg.BackoffMin << min(retry-1, 20)
	if d > c.cfg.BackoffMax || d <= 0 {
		d = c.cfg.BackoffMax
	}
	// Equal jitter: half fixed, half random, so retries of many viewers spread out.
	return d/2 + rand.N(d/2+1)
}
