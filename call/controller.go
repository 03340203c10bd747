package call

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/internal/redact"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// Controller runs calls: Connect, Disconnect and Reconnect are safe from any
// goroutine and never block; every state change happens on the controller's
// own event loop goroutine (loop.go). Each attempt is a new session built from
// nothing; events of a session that is no longer current are dropped.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	ids      *idPolicy
	cp       *cpCache
	connects *rate.Limiter // ConnectAsViewer quota of the channel

	remote, local *sink.Latest
	micMuted      atomic.Bool
	cameraOff     atomic.Bool
	input         atomic.Pointer[capture.Local] // the current session's local media, for InputLevel
	published     atomic.Int32                  // the last state published, for State()

	inbox     chan loopMsg  // commands and session events, consumed by the loop
	stopped   chan struct{} // closed when the loop has ended
	closeOnce sync.Once
	subs      subscribers

	lp loopState // owned by the loop goroutine

	// onSession, when set (by tests, before the first command), is called on
	// the loop goroutine with each new session just before it starts.
	onSession func(*session)
}

// connectsPerSecond is the service's ConnectAsViewer quota per channel.
const connectsPerSecond = 3

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
		log:      slog.New(redact.Handler(cfg.Logger.Handler())),
		ids:      ids,
		cp:       &cpCache{},
		connects: rate.NewLimiter(connectsPerSecond, connectsPerSecond),
		remote:   sink.NewLatest(),
		local:    sink.NewLatest(),
		inbox:    make(chan loopMsg, 256),
		stopped:  make(chan struct{}),
		subs:     subscribers{m: map[int]chan Event{}},
		lp:       loopState{closing: map[uint64]*session{}},
	}
	go c.loop()
	return c, nil
}

// Connect starts a call unless one is already under way.
func (c *Controller) Connect() { c.send(cmdConnect) }

// Disconnect ends the call (and any pending retry) with a full teardown.
func (c *Controller) Disconnect() { c.send(cmdDisconnect) }

// Reconnect tears the whole call down and starts a new one from nothing,
// whatever the current state.
func (c *Controller) Reconnect() { c.send(cmdReconnect) }

// State is the state last published.
func (c *Controller) State() State { return State(c.published.Load()) }

// RemoteVideo is the sink holding the master's latest decoded frame.
func (c *Controller) RemoteVideo() *sink.Latest { return c.remote }

// LocalVideo is the sink holding the local camera preview: small copies
// (320 pixels wide) of the frames sent, about ten a second.
func (c *Controller) LocalVideo() *sink.Latest { return c.local }

// DropPictures makes both video sinks count and describe their frames without
// keeping copies (sink.Latest.DropPictures), for an owner that never shows
// them: a headless call that takes no snapshot, a QA cycle.
func (c *Controller) DropPictures() {
	c.remote.DropPictures()
	c.local.DropPictures()
}

// SetMicMuted mutes or unmutes the microphone of this and later calls.
func (c *Controller) SetMicMuted(m bool) {
	c.micMuted.Store(m)
	c.send(applyMedia{})
}

// InputLevel is the level of what the current call's microphone (or tone) captures, muted or
// not, in dBFS over about the last 0.3 s: capture.MinLevel without a call. A window polls it
// for its input meter, so users see the microphone is alive before they talk.
func (c *Controller) InputLevel() float64 {
	if l := c.input.Load(); l != nil {
		return l.InputLevel()
	}
	return capture.MinLevel
}

// SetCameraOff turns the camera off or on for this and later calls.
func (c *Controller) SetCameraOff(off bool) {
	c.cameraOff.Store(off)
	c.send(applyMedia{})
}

// SendMessage sends text to the master on the current call's data channel
// (the message then comes back as an EventData). It fails with
// ErrNoDataChannel when there is no open data channel.
func (c *Controller) SendMessage(text string) error {
	reply := make(chan error, 1)
	c.send(sendText{text: text, reply: reply})
	select {
	case err := <-reply:
		return err
	case <-c.stopped:
		return ErrNoDataChannel
	}
}

// Subscribe returns a stream of events and a function that ends the
// subscription. Events are dropped (and logged) for a subscriber that does
// not keep up with a buffer of 4096.
func (c *Controller) Subscribe() (<-chan Event, func()) { return c.subs.add() }

// Close ends any call, waits for its teardown and stops the controller; the
// HTTP client's connections and the subscriptions' channels are closed. It is safe to call more than once.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() {
		c.send(cmdClose)
		<-c.stopped
		c.cp.close() // the HTTP client's connections end with the controller
		c.subs.closeAll()
	})
	return nil
}

// send hands m to the loop, or drops it once the loop has ended.
func (c *Controller) send(m loopMsg) {
	select {
	case c.inbox <- m:
	case <-c.stopped:
	}
}

// publish hands e to every subscriber. Its words pass through redaction
// here, the one way out to the window, the JSON events and QA reports.
func (c *Controller) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Message = redact.String(e.Message)
	if e.Data != nil && e.Data.Text != "" {
		d := *e.Data
		d.Text = redact.String(d.Text)
		e.Data = &d
	}
	if dropped := c.subs.publish(e); dropped > 0 {
		c.log.Warn("event subscriber is not keeping up; event dropped", "kind", e.Kind)
	}
}

// subscribers fans events out to the subscriptions.
type subscribers struct {
	mu  sync.Mutex
	m   map[int]chan Event
	seq int
}

func (s *subscribers) add() (<-chan Event, func()) {
	ch := make(chan Event, 4096)
	s.mu.Lock()
	id := s.seq
	s.seq++
	s.m[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.m[id]; ok {
			delete(s.m, id)
			close(ch)
		}
	}
}

// publish offers e to every subscription and returns how many were full.
func (s *subscribers) publish(e Event) (dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.m {
		select {
		case ch <- e:
		default:
			dropped++
		}
	}
	return dropped
}

func (s *subscribers) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ch := range s.m {
		delete(s.m, id)
		close(ch)
	}
}
