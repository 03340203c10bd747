// Command kvsviewer is a desktop viewer for Amazon Kinesis Video Streams
// WebRTC two-way calls with clean reconnects, plus the headless commands QA
// and tests use: call, qa and emulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	// Imported for its init: it holds the standard log package's output (Fyne's
	// locale complaint) until run decides where it goes.
	"github.com/kvsviewer/kvsviewer/internal/initlog"
)

const usage = `usage: kvsviewer [flags]            open the window (Demo mode when no AWS settings)
       kvsviewer call [flags]       one headless call (--json for events)
       kvsviewer qa --cycles N      connect/hold/disconnect cycles and a report
       kvsviewer emulator [flags]   run the local KVS (and --master) for other processes
run "kvsviewer <command> -h" for the flags of each.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "":
		// The window's log is the standard one again; what Fyne logged while
		// initialising (the locale it cannot parse, which is harmless) is dropped.
		initlog.Release(os.Stderr)
		err = runWindow(ctx, args)
	case "call":
		err = runCall(ctx, args)
	case "qa":
		err = runQA(ctx, args)
	case "emulator":
		err = runEmulator(ctx, args)
	case "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", cmd, usage)
		return 2
	}
	var ec exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ec):
		return int(ec)
	default:
		fmt.Fprintln(os.Stderr, "kvsviewer:", err)
		return 1
	}
}

// exitCode ends the program with that status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// newLogger logs to stderr: warnings and errors, or everything with -v. The
// standard log package (Fyne, some libraries) logs into it at debug level from
// then on, beginning with what was logged while the program started.
func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	l := slog.New(h)
	held := initlog.Release(slog.NewLogLogger(h, slog.LevelDebug).Writer())
	log.SetFlags(0) // the handler adds the time
	for _, line := range held {
		l.Debug(strings.TrimSpace(line), "logged", "at start-up")
	}
	return l
}

// clientIDStore is where the ClientId pool of AWS calls is kept between runs.
func clientIDStore() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "kvsviewer", "client-ids.json")
}
