package main

import (
	"context"
	"flag"
	stdlog "log"
	"log/slog"
	"os"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/internal/memtune"
	"github.com/kvsviewer/kvsviewer/internal/redact"
	"github.com/kvsviewer/kvsviewer/internal/startup"
	"github.com/kvsviewer/kvsviewer/ui"
)

// windowGCPercent is the window's Go collector target (GOGC), unless the
// environment sets one. The window's live heap is mostly pictures and parsed
// fonts that stay live for the whole call: at 25 its heap held about 20 MB
// less in a 720p30 call than at Go's default of 100, for a collection every
// two seconds instead of every ten (a few ms of CPU each; the window's CPU
// use did not change measurably).
const windowGCPercent = 25

// windowFlags are the window's command line: the settings flags, which
// override the saved settings for this run, and the window's own.
type windowFlags struct {
	fs         *flag.FlagSet
	verbose    bool
	connect    bool
	glVideo    bool
	tour       string
	tourCycles int
}

func newWindowFlags() *windowFlags {
	f := &windowFlags{fs: flag.NewFlagSet("kvsviewer", flag.ContinueOnError)}
	// Bound to a scratch copy: only the flags given are applied, over the
	// saved settings (givenSettings).
	scratch := call.DefaultSettings()
	bindSettings(f.fs, &scratch)
	f.fs.BoolVar(&f.verbose, "v", false, "debug logs on stderr")
	f.fs.BoolVar(&f.connect, "connect", false, "connect as soon as the window is open")
	f.fs.BoolVar(&f.glVideo, "gl-video", false, "draw the video through Fyne's OpenGL canvas instead of X11 child windows (slower without a GPU)")
	f.fs.StringVar(&f.tour, "tour", "", "screenshot tour: walk through the README's screens, handshaking through files in this directory")
	f.fs.IntVar(&f.tourCycles, "tour-qa-cycles", 50, "QA cycles of the screenshot tour")
	return f
}

// runWindow opens the desktop window. Flags override the saved settings for
// this run; with no AWS settings the window starts in Demo mode.
func runWindow(ctx context.Context, args []string) error {
	f := newWindowFlags()
	if err := f.fs.Parse(args); err != nil {
		return usageError{err, true}
	}
	logs := ui.NewLogBuffer(5000, slog.LevelDebug)
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	// The log pane gets everything (it filters by level, and redacts, itself);
	// stderr the warnings, redacted too.
	stderr := redact.Handler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	log := slog.New(slog.NewMultiHandler(logs, stderr))
	slog.SetDefault(log)
	// A window that cannot open says why in words (stderr and a desktop
	// notification), instead of a GLFW panic or no window at all.
	if err := startup.CheckDisplay(os.Getenv); err != nil {
		startup.Report(err)
		return exitError{1}
	}
	stdlog.SetOutput(startup.Watch(stdlog.Writer(), os.Getenv, func(err error) {
		startup.Report(err)
		os.Exit(1) // Fyne would panic next, or run on with no window
	}))
	defer func() {
		if v := recover(); v != nil {
			startup.Report(startup.Explain(v, os.Getenv))
			os.Exit(1)
		}
	}()
	memtune.SetGCPercent(windowGCPercent)
	return ui.Run(ui.Options{
		Overrides: givenSettings(f.fs),
		Connect:   f.connect, GLVideo: f.glVideo, Logger: log, Logs: logs, Context: ctx,
		Tour: f.tour, TourQACycles: f.tourCycles,
	})
}
