package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/kvsviewer/kvsviewer/ui"
)

// runWindow opens the desktop window. Flags prefill (and override) the saved
// settings; with no AWS settings the window starts in Demo mode.
func runWindow(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kvsviewer", flag.ContinueOnError)
	var f callFlags
	f.register(fs)
	connect := fs.Bool("connect", false, "connect as soon as the window is open")
	glVideo := fs.Bool("gl-video", false, "draw the video through Fyne's OpenGL canvas instead of X11 child windows (slower without a GPU)")
	tour := fs.String("tour", "", "screenshot tour: walk through the README's screens, handshaking through files in this directory")
	tourCycles := fs.Int("tour-qa-cycles", 50, "QA cycles of the screenshot tour")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logs := ui.NewLogBuffer(5000, slog.LevelDebug)
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	// The log pane gets everything (it filters by level itself); stderr the warnings.
	log := slog.New(slog.NewMultiHandler(logs, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	slog.SetDefault(log)
	// Only flags given on the command line override the saved settings.
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	pick := func(name, v string) string {
		if given[name] {
			return v
		}
		return ""
	}
	return ui.Run(ui.Options{
		Demo: f.demo, Channel: f.channel, Region: f.region, Profile: f.prof,
		EndpointURL: f.endpoint, CAFile: f.caFile, ClientID: f.clientID,
		ClientIDPolicy: pick("client-id-policy", f.idPolicy), Codec: pick("codec", f.codec),
		Video: pick("video", f.video), Audio: pick("audio", f.audio), Faults: f.faults,
		Connect: *connect, GLVideo: *glVideo, Logger: log, Logs: logs, Context: ctx,
		Tour: *tour, TourQACycles: *tourCycles,
	})
}
