package call

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// Config is everything a Controller needs to make calls. The zero value of
// each duration and limit means its default (see WithDefaults).
type Config struct {
	AWS       kvs.AWSOptions
	Channel   string // channel name or ARN
	ClientIDs ClientIDConfig

	AnswerTimeout        time.Duration // no SDP answer within this: no_answer (default 5 s)
	ICEConnectTimeout    time.Duration // answer set but ICE not connected within this: ice_failed (default 10 s)
	ICEDisconnectedGrace time.Duration // ICE disconnected this long: try one ICE restart (default 3 s)
	MediaStallTimeout    time.Duration // connected but no decoded frame for this long: media_stall (default 5 s)
	RetryLimit           int           // retries after the first attempt; negative: none (default 5)
	BackoffMin           time.Duration // first retry delay before jitter (default 250 ms)
	BackoffMax           time.Duration // retry delay cap (default 8 s)
	TeardownStepLimit    time.Duration // each teardown step may take this long before it is reported and skipped (default 2 s)

	Media capture.Options
	NAT   string // "all" (STUN+TURN), "relay" (TURN only), "stun" (STUN only)

	Logger *slog.Logger
}

// ClientIDConfig selects how each attempt's viewer ClientId is chosen.
type ClientIDConfig struct {
	Policy    string        // "pool" (default), "fixed" or "fresh"
	ID        string        // the id for "fixed"; the prefix of generated ids otherwise
	PoolSize  int           // ids in the pool (default 8)
	Cooldown  time.Duration // an id is reused only this long after its session closed (default 60 s; negative: none)
	NoWait    bool          // "fixed": connect during the cooldown after a warning instead of waiting it out
	StorePath string        // where the pool is persisted; "" keeps it in memory
}

// FieldError is a validation error tied to one settings field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// WithDefaults returns c with every unset duration and limit set to its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AnswerTimeout, 5*time.Second)
	def(&c.ICEConnectTimeout, 10*time.Second)
	def(&c.ICEDisconnectedGrace, 3*time.Second)
	def(&c.MediaStallTimeout, 5*time.Second)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 8*time.Second)
	def(&c.TeardownStepLimit, 2*time.Second)
	def(&c.ClientIDs.Cooldown, 60*time.Second)
	if c.RetryLimit == 0 {
		c.RetryLimit = 5
	}
	if c.ClientIDs.Policy == "" {
		c.ClientIDs.Policy = "pool"
	}
	if c.ClientIDs.PoolSize == 0 {
		c.ClientIDs.PoolSize = 8
	}
	if c.NAT == "" {
		c.NAT = "all"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks the settings a user can get wrong and returns every problem
// found, joined; each is a *FieldError.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.Channel == "" {
		bad("channel", "enter a channel name or ARN")
	} else if len(c.Channel) > 2048 {
		bad("channel", "too long")
	}
	switch c.ClientIDs.Policy {
	case "", "pool", "fresh":
		if c.ClientIDs.ID != "" && len(c.ClientIDs.ID) > 200 {
			bad("client_id", "prefix too long (at most 200 characters)")
		}
	case "fixed":
		if err := kvs.ValidateClientID(c.ClientIDs.ID); err != nil {
			bad("client_id", "%v", err)
		}
	default:
		bad("client_id_policy", "must be pool, fixed or fresh")
	}
	if c.ClientIDs.PoolSize < 0 || c.ClientIDs.PoolSize > 64 {
		bad("pool_size", "must be between 1 and 64")
	}
	if c.AnswerTimeout < 0 || (c.AnswerTimeout > 0 && c.AnswerTimeout < 100*time.Millisecond) || c.AnswerTimeout > 2*time.Minute {
		bad("answer_timeout", "must be between 100ms and 2m")
	}
	if c.RetryLimit > 1000 {
		bad("retry_limit", "at most 1000")
	}
	switch c.NAT {
	case "", "all", "relay", "stun":
	default:
		bad("nat", "must be all, relay or stun")
	}
	switch c.Media.Codec {
	case "", "auto", "h264", "vp8":
	default:
		bad("codec", "must be auto, h264 or vp8")
	}
	switch c.Media.Video {
	case "", "auto", "camera", "test", "none":
	default:
		bad("video", "must be auto, camera, test or none")
	}
	switch c.Media.Audio {
	case "", "auto", "mic", "tone", "none":
	default:
		bad("audio", "must be auto, mic, tone or none")
	}
	return errors.Join(errs...)
}
