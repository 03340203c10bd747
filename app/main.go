// Command kvsviewer is a desktop viewer for Amazon Kinesis Video Streams
// WebRTC two-way calls with clean reconnects, plus the headless commands QA
// and tests use: call, qa and emulator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	// Imported for its init: it holds the standard log package's output (Fyne's
	// locale complaint) until run decides where it goes.
	"github.com/kvsviewer/kvsviewer/internal/initlog"
	_ "github.com/kvsviewer/kvsviewer/internal/memtune" // glibc malloc options set before any thread runs
	"github.com/kvsviewer/kvsviewer/internal/quietaudio"
	"github.com/kvsviewer/kvsviewer/internal/redact"
	"github.com/kvsviewer/kvsviewer/internal/version"
)

const usage = `usage: kvsviewer call [flags]       one headless call (--json for events)
       kvsviewer qa --cycles N      connect/hold/disconnect cycles and a report
       kvsviewer emulator [flags]   run the local KVS (and --master) for other processes
       kvsviewer master --channel C be the MASTER of a channel (test pattern, tone, data channel echo)
       kvsviewer [flags]            open the window (Demo mode when no AWS settings)
       kvsviewer --version          the build: version, commit, Go and library versions
run "kvsviewer <command> -h" for the flags of each command.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := command(args)
	return exitStatus(dispatch(ctx, cmd, args))
}

// command splits the command name off args: "" for the window, "help" and
// "version" for those requests.
func command(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	switch {
	case wantsHelp(args):
		return "help", nil
	case len(args) == 1 && (args[0] == "--version" || args[0] == "-version"):
		return "version", nil
	}
	return "", args
}

func dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "":
		// The window's log is the standard one again; what Fyne logged while
		// initialising (the locale it cannot parse, which is harmless) is dropped.
		initlog.Release(os.Stderr)
		return runWindow(ctx, args)
	case "call":
		return runCall(ctx, args)
	case "qa":
		return runQA(ctx, args)
	case "emulator":
		return runEmulator(ctx, args)
	case "master":
		return runMaster(ctx, args)
	case "help":
		printHelp()
		return nil
	case "version":
		fmt.Print(version.String())
		return nil
	}
	return usageError{error: fmt.Errorf("unknown command %q\n%s", cmd, usage)}
}

// exitStatus prints err (last, so the failure class ends the output) and
// returns the exit status: 0 ok, 1 failed, 2 a command line that cannot run.
func exitStatus(err error) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		if !ue.shown {
			fmt.Fprintln(os.Stderr, "kvsviewer:", err)
		}
		return 2
	}
	fmt.Fprintln(os.Stderr, "kvsviewer:", err)
	return 1
}

// exitError ends the program with that status; the message was given.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a command line the program cannot run: bad flags or
// settings. It exits with status 2; shown says the flag package has printed
// it already.
type usageError struct {
	error
	shown bool
}

func (e usageError) Unwrap() error { return e.error }

// wantsHelp reports whether the window's arguments ask for help (-h, -help or
// --help before a "--"), as its flag set would take them.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// printHelp prints the usage (the commands, the window last) and then the
// window's flags.
func printHelp() {
	fmt.Print(usage, "\nflags of the window:\n")
	fs := newWindowFlags().fs
	fs.SetOutput(os.Stdout)
	fs.PrintDefaults()
}

// newLogger logs to stderr: warnings and errors, or everything with -v. It
// becomes slog's default logger (for the packages that log to slog.Default(),
// such as the encoders of the local media), and the standard log package
// (Fyne, some libraries) logs into it at debug level, beginning with what was
// logged while the program started.
func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	h := redact.Handler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	l := slog.New(h)
	held := initlog.Release(slog.NewLogLogger(h, slog.LevelDebug).Writer())
	slog.SetLogLoggerLevel(slog.LevelDebug) // the log package's level from now on
	slog.SetDefault(l)                      // also takes over the log package's output
	for _, line := range held {
		l.Debug(strings.TrimSpace(line), "logged", "at start-up")
	}
	for _, line := range quietaudio.Held() {
		l.Debug(line, "logged", "by the sound libraries")
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
