package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
)

// emulatorFlags are `kvsviewer emulator`'s flags.
type emulatorFlags struct {
	listen, channels, faults, eventLog, codec string
	master, verbose                           bool
}

func (f *emulatorFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "address to listen on (loopback)")
	fs.BoolVar(&f.master, "master", false, "also run the demo master on the channel")
	fs.StringVar(&f.channels, "channel", "demo-channel", "channels to create, comma-separated")
	fs.StringVar(&f.faults, "fault", "", "faults, e.g. drop-offer-every=3,delay-answer=1s,reuse-cooldown=60s")
	fs.StringVar(&f.eventLog, "event-log", "", "append the JSON-lines event log to this file")
	fs.StringVar(&f.codec, "codec", "auto", "the master's codec: auto, h264 or vp8")
	fs.BoolVar(&f.verbose, "v", false, "debug logs on stderr")
}

func runEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	var f emulatorFlags
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{err, true}
	}
	faults, err := emulator.ParseFaults(f.faults)
	if err != nil {
		return usageError{error: fmt.Errorf("--fault: %w", err)}
	}
	log := newLogger(f.verbose)
	cfg := emulator.Config{Listen: f.listen, Channels: strings.Split(f.channels, ","), Faults: faults, Logger: log}
	if f.eventLog != "" {
		fh, err := os.OpenFile(f.eventLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("--event-log: %w", err)
		}
		defer func() { _ = fh.Close() }()
		cfg.EventLog = fh
	}
	e, err := emulator.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start the emulator: %w", err)
	}
	defer func() { _ = e.Close() }()
	printEmulator(e, cfg.Channels[0])
	if f.master {
		m, err := startMaster(ctx, e, cfg.Channels[0], f.codec, log)
		if err != nil {
			return err
		}
		defer func() { _ = m.Close() }()
		fmt.Println("demo master connected")
	}
	fmt.Println("press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}

// printEmulator prints where the emulator listens and how to call it.
func printEmulator(e *emulator.Emulator, channel string) {
	fmt.Printf("KVS emulator listening on %s (region %s)\n", e.Endpoint(), e.Region())
	fmt.Printf("channel ARN: %s\nCA file: %s\n", e.ChannelARN(channel), e.CAFile())
	fmt.Println("point a viewer at it with:")
	for _, kv := range e.Env() {
		fmt.Printf("  export %s\n", kv)
	}
	fmt.Printf("  kvsviewer call --channel %s --ca-file %s\n", channel, e.CAFile())
}

// startMaster runs the demo master on the emulator's channel.
func startMaster(ctx context.Context, e *emulator.Emulator, channel, codec string, log *slog.Logger) (*master.Master, error) {
	c := e.Credentials()
	m, err := master.Start(ctx, master.Options{
		AWS: kvs.AWSOptions{Region: e.Region(), EndpointURL: e.Endpoint(), RootCAs: e.CAPool(),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)},
		Channel: channel, Codec: codec, Loopback: true, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("start demo master: %w", err)
	}
	return m, nil
}
