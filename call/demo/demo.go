// Package demo runs the built-in KVS emulator and the demo master in-process
// on 127.0.0.1, so the app makes a real two-way call with no AWS account.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
)

// Channel is the demo's signaling channel.
const Channel = "demo-channel"

// EventLogSize is how many events the demo's emulator keeps in memory. Nothing
// in the app reads them (tests read their own emulator's), and with the
// emulator's default of 10,000 the log grew by about 1 MB over a 1000-cycle
// demo QA run until it was full.
const EventLogSize = 32

// Options configure Start.
type Options struct {
	Faults    emulator.Faults
	FaultSpec string // faults in the flags' syntax (see CheckFaults); when set, it replaces Faults
	NoMaster  bool   // run only the emulator (the master runs elsewhere)
	Codec     string // the master's codec preference ("auto", "h264", "vp8")
	Width     int    // the master's picture; default 1280x720@30
	Height    int
	FPS       int
	// AVOffset makes the master's audio late by this much on purpose (master.Options.AVOffset).
	AVOffset time.Duration
	// NoDataChannel makes the master ignore the viewers' data channels.
	NoDataChannel bool
	Logger        *slog.Logger
}

// Demo is a running emulator plus demo master.
type Demo struct {
	Emulator *emulator.Emulator
	Master   *master.Master // nil with NoMaster
}

// Start starts the emulator and, unless o.NoMaster, the demo master.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FaultSpec != "" {
		f, err := emulator.ParseFaults(o.FaultSpec)
		if err != nil {
			return nil, fmt.Errorf("demo faults: %w", err)
		}
		o.Faults = f
	}
	e, err := emulator.Start(ctx, emulator.Config{
		Channels:     []string{Channel},
		Faults:       o.Faults,
		EventLogSize: EventLogSize,
		Logger:       o.Logger.With("component", "emulator"),
	})
	if err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	d := &Demo{Emulator: e}
	if o.NoMaster {
		return d, nil
	}
	m, err := master.Start(ctx, master.Options{
		AWS: d.AWSOptions(), Channel: Channel,
		Width: o.Width, Height: o.Height, FPS: o.FPS, Codec: o.Codec, NoDataChannel: o.NoDataChannel,
		AVOffset: o.AVOffset,
		Loopback: true,
		Logger:   o.Logger.With("component", "master"),
	})
	if err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("start demo master: %w", err)
	}
	d.Master = m
	return d, nil
}

// AWSOptions point a KVS client at the emulator, trusting its CA in-process.
func (d *Demo) AWSOptions() kvs.AWSOptions {
	c := d.Emulator.Credentials()
	return kvs.AWSOptions{
		Region:      d.Emulator.Region(),
		EndpointURL: d.Emulator.Endpoint(),
		RootCAs:     d.Emulator.CAPool(),
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
	}
}

// Channel is the demo channel's name.
func (d *Demo) Channel() string { return Channel }

// Configure points cfg at the demo: the emulator's endpoint, credentials and
// CA, the demo channel, the ClientId cooldown its faults emulate, and an
// in-memory ClientId pool (the demo service lives only as long as the app).
func (d *Demo) Configure(cfg *call.Config) {
	cfg.AWS = d.AWSOptions()
	cfg.Channel = Channel
	cfg.ClientIDs.Cooldown = ClientIDCooldown(d.Emulator.ActiveFaults())
	cfg.ClientIDs.StorePath = ""
}

// CheckFaults reports whether spec is a valid fault list, such as
// "drop-offer-every=3,delay-answer=1s" (see the README for every fault).
func CheckFaults(spec string) error {
	_, err := emulator.ParseFaults(spec)
	return err
}

// SetFaults parses spec (see CheckFaults) and puts those faults in force.
func (d *Demo) SetFaults(spec string) error {
	f, err := emulator.ParseFaults(spec)
	if err != nil {
		return err
	}
	d.Emulator.SetFaults(f)
	return nil
}

// ClientIDCooldown is how long the demo service with faults f makes a viewer
// wait before reusing a ClientId: the emulated cooldown when that fault is on,
// else none (-1, as call.ClientIDConfig.Cooldown takes it).
func ClientIDCooldown(f emulator.Faults) time.Duration {
	if f.ReuseCooldown > 0 {
		return f.ReuseCooldown
	}
	return -1
}

// Close stops the master, then the emulator.
func (d *Demo) Close() error {
	var err error
	if d.Master != nil {
		err = d.Master.Close()
	}
	if cerr := d.Emulator.Close(); err == nil {
		err = cerr
	}
	return err
}
