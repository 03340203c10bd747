package call

import (
	"log/slog"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/rtc"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// Config is everything a Controller needs to make calls. The zero value of
// each duration and limit means its default (see WithDefaults). Users edit
// Settings; Settings.Config maps them here.
type Config struct {
	AWS       kvs.AWSOptions
	Channel   string // channel name or ARN
	ClientIDs ClientIDConfig

	SetupTimeout         time.Duration // no offer sent within this after the attempt began: control_plane / signaling_closed (default 20 s)
	AnswerTimeout        time.Duration // no SDP answer within this: no_answer (default 5 s); grows for a slow master
	MaxAnswerTimeout     time.Duration // the answer timeout grows up to this (default 30 s)
	ICEConnectTimeout    time.Duration // answer set but ICE not connected within this: ice_failed (default 10 s)
	ICEDisconnectedGrace time.Duration // ICE disconnected this long: try one ICE restart (default 3 s)
	MediaStallTimeout    time.Duration // connected but no decoded frame for this long: media_stall (default 5 s)
	RetryLimit           int           // retries after a failed attempt (default 5)
	NoRetries            bool          // no automatic retry: the first failed attempt fails the call
	BackoffMin           time.Duration // first retry delay before jitter (default 250 ms)
	BackoffMax           time.Duration // retry delay cap (default 8 s)
	TeardownStepLimit    time.Duration // each teardown step may take this long before it is reported and skipped (default 2 s)

	Media capture.Options
	// AudioOutput is the output the master's audio plays on: an ID or name from
	// audioout.ListDevices, "" for the default. A missing one plays on the default, with a notice.
	AudioOutput string
	NAT         NATMode
	DataChannel bool // open a data channel to the master (messages and its round trip)
	// NoTrickle gathers every candidate before the offer goes out, in it,
	// and trickles none (the test page's "trickle ICE" off).
	NoTrickle bool
	// SendCandidates and AcceptCandidates filter the local candidates sent
	// and the master's accepted, by type (zero: all).
	SendCandidates, AcceptCandidates CandidateTypes

	Logger *slog.Logger
}

// NATMode says which ICE candidates a call may use.
type NATMode = rtc.NATMode

// The NAT modes.
const (
	NATAll   = rtc.NATAll   // STUN and TURN (the default)
	NATRelay = rtc.NATRelay // TURN only: the media always goes through a relay
	NATSTUN  = rtc.NATSTUN  // STUN only: no relay
)

// IDPolicy says how each attempt's viewer ClientId is chosen.
type IDPolicy string

// The ClientId policies.
const (
	// PolicyPool keeps a per-install pool of ids, each reused only after its cooldown.
	PolicyPool IDPolicy = "pool"
	// PolicyFixed always uses ClientIDConfig.ID, waiting out (or warning about) its cooldown.
	PolicyFixed IDPolicy = "fixed"
	// PolicyFresh makes a new random id for every attempt.
	PolicyFresh IDPolicy = "fresh"
)

// ClientIDConfig selects how each attempt's viewer ClientId is chosen.
type ClientIDConfig struct {
	Policy    IDPolicy      // PolicyPool when empty
	ID        string        // the id for PolicyFixed; the prefix of generated ids otherwise
	PoolSize  int           // the pool grows up to this many ids (default 64)
	Cooldown  time.Duration // an id is reused only this long after its session closed (default 60 s; negative: none)
	NoWait    bool          // PolicyFixed: connect during the cooldown after a warning instead of waiting it out
	StorePath string        // where the pool is persisted; "" keeps it in memory
}

// The defaults of WithDefaults.
const (
	DefaultAnswerTimeout    = 5 * time.Second
	DefaultMaxAnswerTimeout = 30 * time.Second
	DefaultRetryLimit       = 5
	DefaultPoolSize         = 64
)

// WithDefaults returns c with every unset duration and limit set to its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SetupTimeout, 20*time.Second)
	def(&c.AnswerTimeout, DefaultAnswerTimeout)
	def(&c.MaxAnswerTimeout, max(DefaultMaxAnswerTimeout, c.AnswerTimeout))
	def(&c.ICEConnectTimeout, 10*time.Second)
	def(&c.ICEDisconnectedGrace, 3*time.Second)
	def(&c.MediaStallTimeout, 5*time.Second)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 8*time.Second)
	def(&c.TeardownStepLimit, 2*time.Second)
	def(&c.ClientIDs.Cooldown, 60*time.Second)
	if c.RetryLimit == 0 {
		c.RetryLimit = DefaultRetryLimit
	}
	if c.ClientIDs.Policy == "" {
		c.ClientIDs.Policy = PolicyPool
	}
	if c.ClientIDs.PoolSize == 0 {
		c.ClientIDs.PoolSize = DefaultPoolSize
	}
	if c.NAT == "" {
		c.NAT = NATAll
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
