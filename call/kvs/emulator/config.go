// Config, the service limits the emulator enforces, and the checks and
// defaults Start applies to them (listen address, channel names, credentials).

package emulator

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config configures Start. The zero value is usable.
type Config struct {
	Listen           string            // host:port, default "127.0.0.1:0"; must be loopback unless AllowNonLoopback
	AllowNonLoopback bool              // allow a non-loopback Listen address
	Region           string            // default "us-west-2"
	AccountID        string            // default "123456789012"
	Credentials      []aws.Credentials // accepted credentials; default one generated test credential
	Channels         []string          // channels created at start; default ["demo-channel"]
	MessageTTL       time.Duration     // undelivered-message TTL of the start channels, default 60s (5-120s)
	Faults           Faults            // initial faults
	EventLog         io.Writer         // optional JSON-lines sink of every event, in addition to the bounded in-memory log
	EventLogSize     int               // events kept in memory (Events, WaitEvent), default DefaultEventLogSize
	MaxQueued        int               // undelivered messages kept per recipient on a channel, default DefaultMaxQueued
	MaxQueuedChannel int               // undelivered messages kept per channel, default DefaultMaxQueuedChannel
	Logger           *slog.Logger      // default: discard
	Now              func() time.Time  // clock for signatures, URL expiry, message TTL, stale holds, reuse cooldown (fault timers use real time); default time.Now
	CADir            string            // where ca.pem is written; default a temporary directory removed on Close
}

// Service limits the emulator enforces.
const (
	MaxViewersPerChannel = 10
	SDPMessagesPerSecond = 5
	ICEMessagesPerSecond = 20
	DefaultMessageTTL    = 60 * time.Second
	MinMessageTTL        = 5 * time.Second
	MaxMessageTTL        = 120 * time.Second
	// TURNCredentialTTL is the Ttl of the ICE servers GetIceServerConfig returns.
	TURNCredentialTTL = 300 * time.Second
	// DefaultMaxQueued is how many undelivered messages a channel keeps for one
	// recipient; beyond it the oldest is dropped.
	DefaultMaxQueued = 256
	// DefaultMaxQueuedChannel is how many undelivered messages a channel keeps
	// in all; beyond it the oldest is dropped.
	DefaultMaxQueuedChannel = 1024
)

// channelNamePattern is KVS's channel name pattern less its length (1-256, in
// validChannelName): a counted repetition compiles to 256 copies of the class.
var channelNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`)

// validChannelName reports whether KVS accepts name as a channel name.
func validChannelName(name string) bool {
	return len(name) <= 256 && channelNamePattern.MatchString(name)
}

// withDefaults fills in the defaults of cfg and checks its message TTL and
// channel names.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.MessageTTL == 0 {
		cfg.MessageTTL = DefaultMessageTTL
	}
	if cfg.EventLogSize <= 0 {
		cfg.EventLogSize = DefaultEventLogSize
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxQueuedChannel <= 0 {
		cfg.MaxQueuedChannel = DefaultMaxQueuedChannel
	}
	if cfg.MessageTTL < MinMessageTTL || cfg.MessageTTL > MaxMessageTTL {
		return cfg, fmt.Errorf("message TTL %s outside %s-%s", cfg.MessageTTL, MinMessageTTL, MaxMessageTTL)
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []string{"demo-channel"}
	}
	for _, name := range cfg.Channels {
		if !validChannelName(name) {
			return cfg, fmt.Errorf("invalid channel name %q", clip(name, 60))
		}
	}
	return cfg, nil
}

// startCredentials returns the credentials the emulator accepts: a copy of
// given, or one generated test credential when none are given.
func startCredentials(given []aws.Credentials) ([]aws.Credentials, error) {
	creds := slices.Clone(given)
	if len(creds) == 0 {
		c, err := generateCredentials()
		if err != nil {
			return nil, err
		}
		creds = []aws.Credentials{c}
	}
	for i, c := range creds {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("credential %d lacks an access key id or secret", i)
		}
	}
	return creds, nil
}

// listenIP checks that cfg.Listen is a loopback address, unless
// cfg.AllowNonLoopback, and returns its IP (nil when the host is a name).
func listenIP(cfg Config) (net.IP, error) {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	if !hostIsLoopback(host) && !cfg.AllowNonLoopback {
		return nil, fmt.Errorf("listen address %q is not loopback (set AllowNonLoopback to allow it)", cfg.Listen)
	}
	return net.ParseIP(host), nil
}

// hostIsLoopback reports whether a host (without port) names the loopback interface.
func hostIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func generateCredentials() (aws.Credentials, error) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	buf := make([]byte, 16+40)
	if _, err := rand.Read(buf); err != nil {
		return aws.Credentials{}, fmt.Errorf("generate test credential: %w", err)
	}
	id := []byte("AKIA")
	for _, b := range buf[:16] {
		id = append(id, upper[int(b)%len(upper)])
	}
	secret := make([]byte, 0, 40)
	for _, b := range buf[16:] {
		secret = append(secret, secretChars[int(b)%len(secretChars)])
	}
	return aws.Credentials{AccessKeyID: string(id), SecretAccessKey: string(secret), Source: "kvs-emulator"}, nil
}
