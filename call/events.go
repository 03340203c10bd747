package call

import (
	"time"
)

// Class names why an attempt failed. The names are stable: logs, JSON events
// and QA reports use them.
type Class string

// The failure classes.
const (
	ClassNoAnswer           Class = "no_answer"
	ClassICEFailed          Class = "ice_failed"
	ClassICEDisconnected    Class = "ice_disconnected"
	ClassSignalingClosed    Class = "signaling_closed"
	ClassGoAway             Class = "go_away"
	ClassReconnectICEServer Class = "reconnect_ice_server"
	ClassStatusResponse     Class = "status_response"
	ClassControlPlane       Class = "control_plane"
	ClassAuth               Class = "auth"
	ClassMediaStall         Class = "media_stall"
	ClassViewerLimit        Class = "viewer_limit"
	ClassMedia              Class = "media"    // the master's media cannot be shown (a picture over the size cap)
	ClassSettings           Class = "settings" // a setting that cannot work here (e.g. TURN only, and no TURN server)
	ClassLocalMedia         Class = "local_media"
	ClassInternal           Class = "internal"
	// ClassTimeout and ClassInterrupted end a headless command, not an
	// attempt: no first frame within its time limit, or Ctrl+C.
	ClassTimeout     Class = "timeout"
	ClassInterrupted Class = "interrupted"
)

// Phase names a milestone of a session, timed from the user's action.
type Phase string

// The phases, in order. PhaseClientIDWait and PhaseTeardown are durations
// (of the wait for a ClientId out of its cooldown, and of the teardown); the
// others are timed from the user's action, the wait for a ClientId excluded.
const (
	PhaseClientIDWait   Phase = "client_id_wait"
	PhaseControlPlane   Phase = "control_plane_done"
	PhaseSignalingOpen  Phase = "signaling_open"
	PhaseOfferSent      Phase = "offer_sent"
	PhaseAnswerReceived Phase = "answer_received"
	PhaseICEConnected   Phase = "ice_connected"
	PhaseFirstRTP       Phase = "first_rtp"
	PhaseFirstFrame     Phase = "first_frame"
	PhaseTeardown       Phase = "teardown_done"
)

// Phases lists the phases in order.
var Phases = [...]Phase{PhaseClientIDWait, PhaseControlPlane, PhaseSignalingOpen, PhaseOfferSent, PhaseAnswerReceived, PhaseICEConnected, PhaseFirstRTP, PhaseFirstFrame, PhaseTeardown}

// IsDuration reports whether the phase's Elapsed is a duration of its own
// rather than the time since the user's action.
func (p Phase) IsDuration() bool { return p == PhaseClientIDWait || p == PhaseTeardown }

// EventKind tells which fields of an Event are set.
type EventKind string

// The event kinds.
const (
	EventState  EventKind = "state"  // State (and Retry/Backoff/Class/Message for Retrying, Failed, Waiting)
	EventPhase  EventKind = "phase"  // Phase, Elapsed (since the user's action); FrameInfo for first_frame
	EventError  EventKind = "error"  // Class, Message: one failed attempt
	EventStats  EventKind = "stats"  // Stats, about once a second while connected
	EventNotice EventKind = "notice" // Message: something the user should know (no camera, ClientId in cooldown, ...)
	EventData   EventKind = "data"   // Data: the data channel opened, a message went or came, a round trip was measured
)

// Event is what the controller publishes to the UI, the CLI and QA.
type Event struct {
	Time      time.Time
	Kind      EventKind
	SessionID uint64
	Attempt   int // 1 for the first attempt after a user action, 2.. for retries
	State     State
	Phase     Phase
	Elapsed   time.Duration // since the user's action (Connect/Reconnect click)
	Class     Class
	Message   string
	Retry     int           // with StateRetrying: the retry number
	Backoff   time.Duration // with StateRetrying / StateWaiting: how long until the next attempt
	// AnswerTimeout, with StateOffering and a no_answer StateRetrying: how
	// long the (next) offer waits for its answer.
	AnswerTimeout time.Duration
	ClientID      string
	Frame         *FrameInfo
	Stats         *Stats
	// Overruns, with PhaseTeardown: the teardown steps that overran their
	// time limit and were left running (Message says so in words).
	Overruns []string
	Data     *DataEvent
}

// DataKind tells what a DataEvent reports.
type DataKind string

// The data channel's events.
const (
	DataOpen    DataKind = "open"    // the data channel to the master is open
	DataClosed  DataKind = "closed"  // the master closed the data channel during the call
	DataMessage DataKind = "message" // a text message went to the master or came from it
	DataRTT     DataKind = "rtt"     // the master echoed a ping: RTT is the round trip
)

// DataEvent is what happened on the data channel.
type DataEvent struct {
	Kind       DataKind
	Label      string        // DataOpen, DataClosed: the channel's label
	Text       string        // DataMessage: the text
	FromMaster bool          // DataMessage: the master sent it (else this app did)
	RTT        time.Duration // DataRTT: the ping's round trip
}

// FrameInfo describes the first decoded frame of a session.
type FrameInfo struct {
	Width, Height int
	Codec         string
}

// Stats are live statistics of the current session, from pion's GetStats and
// the decoders.
type Stats struct {
	Codec         string
	Width, Height int
	FPS           float64
	FramesDecoded uint64
	FramesDropped uint64
	InboundKbps   float64
	OutboundKbps  float64
	RTT           time.Duration
	PacketsLost   int64
	LossPercent   float64
	Jitter        time.Duration
	AudioPackets  uint64
	// AudioLevelDBFS is the level of what the speaker plays (about the last 0.3 s).
	AudioLevelDBFS float64
	// AudioOutput names the output the call's audio plays on ("" when it is discarded).
	AudioOutput string
	// AudioUnderrun is how much silence the output played for want of audio, and AudioStarved
	// how many times it ran dry mid-call (each a drop-out heard), since the call started.
	AudioUnderrun time.Duration
	AudioStarved  uint64
	// InputLevelDBFS is the level of what the microphone (or tone) captures, muted or not.
	InputLevelDBFS float64
	LocalVideo     string // "camera:<label>", "test", "none"
	LocalAudio     string
	CandidateType  string        // local candidate type of the selected pair: host, srflx, relay
	DataRTT        time.Duration // the data channel's last measured round trip (0: none)
	// Latency and LatencyP95 are the median and 95th percentile, over the
	// last 5 s, of the master's frames' age when decoded, read from the
	// capture time a pattern master stamps into them (0: no stamped frames).
	Latency, LatencyP95 time.Duration
	LatencySamples      int
	// SenderReportDelay is the latest RTCP sender report's arrival against
	// the NTP time it carries: the network's one-way delay plus the two
	// clocks' difference (0: no report yet).
	SenderReportDelay time.Duration
	// AVSync is the median, over the last 10 s, of how much later the master's
	// audio is presented than its video: positive means the audio is late,
	// negative early. Read from a pattern master's sync marks (a flash and a
	// beep on the same instant each second), at the video sink and where the
	// decoded audio enters the output's buffer (plus the audio buffered ahead
	// of it; the output device's own latency not included). AVSyncSamples is
	// how many flash-beep pairs it covers (0: none, e.g. a camera master).
	AVSync        time.Duration
	AVSyncSamples int
}
