package call

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/internal/memtune"
	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// One session is one connection attempt. Its code is split by phase:
// session_setup.go (control plane, local media, signaling), session_negotiate.go
// (offer, answer, candidates, the signaling loop), session_repair.go (keeping a
// live call up), session_media.go (decoding and previews) and
// session_teardown.go (releasing everything).

type evKind int

const (
	evPhase evKind = iota
	evFail
	evICE
	evTimer
	evGoAway
	evReconnectICE
	evSignalingClosed
	evStats
	evNotice
	evStall
	evData
)

type timerKind int

const (
	timerSetup timerKind = iota
	timerAnswer
	timerICE
	timerFirstFrame
	timerDisconnected
	timerRestart
	numTimers
)

// sessionEvent is what a session's goroutines and timers tell the controller's
// loop. It always carries the session id, so the loop can drop events of a
// session that is no longer current.
type sessionEvent struct {
	id    uint64
	kind  evKind
	phase Phase
	at    time.Time
	frame *FrameInfo
	class Class
	err   error
	ice   webrtc.ICEConnectionState
	timer timerKind
	stats *Stats
	msg   string
	data  *DataEvent
}

// sessionDeps is everything a session uses that outlives it; the controller
// provides it, and a test can provide its own.
type sessionDeps struct {
	cfg       Config
	log       *slog.Logger
	post      func(sessionEvent) // hands an event to the controller's loop; never blocks for long
	cp        *cpCache           // control-plane answers shared by the controller's sessions
	connects  *rate.Limiter      // the channel's ConnectAsViewer quota
	remote    *sink.Latest       // where the master's video goes
	local     *sink.Latest       // where the local preview goes
	micMuted  func() bool
	cameraOff func() bool
	// input is where the session shows its local media for the input level meter (nil: nowhere).
	input *atomic.Pointer[capture.Local]
}

// sessionInfo identifies one attempt.
type sessionInfo struct {
	id       uint64
	attempt  int
	clientID string
	click    time.Time
	after    []<-chan struct{} // older sessions' devFree: wait for them before opening the camera and mic
}

// session owns every resource of one connection attempt. Nothing of it is
// ever reused: a new attempt builds a new session.
type session struct {
	sessionInfo
	deps sessionDeps
	log  *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the session started
	repairs repairQueue    // repairs the loop asked for, run on the run goroutine

	mu      sync.Mutex // guards the resources below, torn and opening
	torn    bool
	opening bool // the camera and microphone are being opened
	conn    *kvs.Conn
	pc      *webrtc.PeerConnection
	local   *capture.Local
	player  *audioout.Player
	recv    []*receive.Stats // the remote tracks' counters, with their decoders' serials
	timers  [numTimers]*time.Timer

	neg     negotiation // run goroutine only, but for the candidates it guards itself
	data    dataChannel
	latency latencyMeter // the master's frames' capture-to-decode time
	avsync  avSyncMeter  // the master's audio against its video, when presented

	iceUp            atomic.Bool // ICE has connected at least once
	signalingDropped atomic.Bool // a signaling socket of the session was closed under it
	statsMu          sync.Mutex  // held around pc.GetStats; teardown takes it before pc.Close
	phaseMu          sync.Mutex  // orders answer_received before first_frame (see onAnswer)

	devFree  chan struct{} // closed once this session holds no camera or microphone
	freeOnce sync.Once

	frameMu   sync.RWMutex // held while a frame goes into the controller's sinks
	framesOff bool         // set by stopFrames: frames of this session are dropped

	cpRes *controlPlaneResult
	kcfg  kvs.Config
}

func newSession(deps sessionDeps, info sessionInfo) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		sessionInfo: info,
		deps:        deps,
		devFree:     make(chan struct{}),
		log:         deps.log.With("session", info.id, "client_id", info.clientID),
		ctx:         ctx,
		cancel:      cancel,
		repairs:     newRepairQueue(),
	}
}

func (s *session) post(ev sessionEvent) {
	ev.id = s.id
	s.deps.post(ev)
}

func (s *session) phase(p Phase, at time.Time, f *FrameInfo) {
	s.post(sessionEvent{kind: evPhase, phase: p, at: at, frame: f})
}

func (s *session) notice(msg string) { s.post(sessionEvent{kind: evNotice, msg: msg}) }

func (s *session) failed(class Class, err error) {
	if s.ctx.Err() != nil {
		return // torn down: the failure is a consequence, not a cause
	}
	s.post(sessionEvent{kind: evFail, class: class, err: err})
}

// goFunc starts a goroutine owned by the session, unless it is torn down.
func (s *session) goFunc(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *session) start() {
	memtune.Begin() // ended by teardown
	s.goFunc(s.run)
}

func (s *session) arm(t timerKind, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return
	}
	if old := s.timers[t]; old != nil {
		old.Stop()
	}
	s.timers[t] = time.AfterFunc(d, func() { s.post(sessionEvent{kind: evTimer, timer: t}) })
}

func (s *session) disarm(t timerKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.timers[t]; old != nil {
		old.Stop()
		s.timers[t] = nil
	}
}

// adopt stores a resource in the session, or reports false when the session
// was torn down meanwhile (the caller then closes the resource itself).
func (s *session) adopt(set func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn {
		return false
	}
	set()
	return true
}

// signaling returns the session's current signaling connection.
func (s *session) signaling() *kvs.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}
