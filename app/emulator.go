package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
)

func runEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	withMaster := fs.Bool("master", false, "also run the demo master on the channel")
	channels := fs.String("channel", "demo-channel", "channels to create, comma-separated")
	faults := fs.String("fault", "", "faults, e.g. drop-offer-every=3,delay-answer=1s,reuse-cooldown=60s")
	eventLog := fs.String("event-log", "", "append the JSON-lines event log to this file")
	codec := fs.String("codec", "auto", "the master's codec: auto, h264 or vp8")
	verbose := fs.Bool("v", false, "debug logs on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := emulator.ParseFaults(*faults)
	if err != nil {
		return fmt.Errorf("--fault: %w", err)
	}
	log := newLogger(*verbose)
	cfg := emulator.Config{Listen: *listen, Channels: strings.Split(*channels, ","), Faults: f, Logger: log}
	if *eventLog != "" {
		fh, err := os.OpenFile(*eventLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer fh.Close()
		cfg.EventLog = fh
	}
	e, err := emulator.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Printf("KVS emulator listening on %s (region %s)\n", e.Endpoint(), e.Region())
	fmt.Printf("channel ARN: %s\nCA file: %s\n", e.ChannelARN(cfg.Channels[0]), e.CAFile())
	fmt.Println("point a viewer at it with:")
	for _, kv := range e.Env() {
		fmt.Printf("  export %s\n", kv)
	}
	fmt.Printf("  kvsviewer call --channel %s --ca-file %s\n", cfg.Channels[0], e.CAFile())
	if *withMaster {
		c := e.Credentials()
		m, err := master.Start(ctx, master.Options{
			AWS: kvs.AWSOptions{Region: e.Region(), EndpointURL: e.Endpoint(), RootCAs: e.CAPool(),
				Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)},
			Channel: cfg.Channels[0], Codec: *codec, Loopback: true, Logger: log,
		})
		if err != nil {
			return fmt.Errorf("start demo master: %w", err)
		}
		defer m.Close()
		fmt.Println("demo master connected")
	}
	fmt.Println("press Ctrl-C to stop")
	<-ctx.Done()
	return nil
}
