package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
	"github.com/kvsviewer/kvsviewer/call/master"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// BenchmarkFirstFrameVsJSSDKViewer compares, against the same master (ours,
// through the emulator), the time to the first decoded frame of the JS SDK's
// browser viewer (from the page's start, and from its SignalingClient.open)
// with this app's (from Connect). Each iteration starts a fresh Chromium and
// a fresh controller.
func BenchmarkFirstFrameVsJSSDKViewer(b *testing.B) {
	bundle := sdkBundle(b)
	log := slog.New(slog.DiscardHandler)
	var browserPage, browserOpen, ours []float64
	for i := range b.N {
		emu, err := emulator.Start(context.Background(), emulator.Config{Channels: []string{channel}, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		m, err := master.Start(context.Background(), master.Options{AWS: awsOptions(emu), Channel: channel, Loopback: true, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		arn := emu.ChannelARN(channel)
		ff, _ := browserFirstFrame(b, bundle, emu, arn, fmt.Sprintf("jssdk-bench-%d", i))
		browserPage, browserOpen = append(browserPage, ff.num("since_page_ms")), append(browserOpen, ff.num("since_open_ms"))
		ours = append(ours, ourFirstFrame(b, emu, log))
		_ = m.Close()
		_ = emu.Close()
	}
	b.ReportMetric(median(browserPage), "jssdk-page-ms")
	b.ReportMetric(median(browserOpen), "jssdk-open-ms")
	b.ReportMetric(median(ours), "ours-connect-ms")
	b.ReportMetric(median(ours)/median(browserOpen), "ratio-vs-open")
}

// BenchmarkFirstFrameOnJSSDKMaster: the master is the official JS SDK in
// headless Chromium (its fake 640x480 camera), through the emulator, and
// viewers take turns against it: the JS SDK's own browser viewer (a fresh
// Chromium each time, timed from Chromium's launch, from the page's start
// and from its SignalingClient.open), this app's controller (from Connect)
// and, when KVSVIEWER_BIN names a built kvsviewer, its `call` command (from
// the process's start). The ratios are ours over the browser viewer's.
func BenchmarkFirstFrameOnJSSDKMaster(b *testing.B) {
	bundle := sdkBundle(b)
	log := slog.New(slog.DiscardHandler)
	emu := startEmulator(b, log)
	arn := emu.ChannelARN(channel)
	mp := servePage(b, masterPage, bundle, pageConfig(emu, arn, wssEndpoint(b, emu, arn, types.ChannelRoleMaster), ""))
	chromium(b, mp.URL, emu.CAFile())
	mp.wait(b, 60*time.Second, "open signaling connection", func(r report) bool { return r.event() == "open" })
	bin := os.Getenv("KVSVIEWER_BIN")
	var launch, page, open, connect, process []float64
	ours := map[call.Phase][]float64{}
	for i := range b.N {
		ff, fromLaunch := browserFirstFrame(b, bundle, emu, arn, fmt.Sprintf("jssdk-viewer-%d", i))
		launch, page, open = append(launch, fromLaunch), append(page, ff.num("since_page_ms")), append(open, ff.num("since_open_ms"))
		for p, ms := range ourPhases(b, emu, log) {
			ours[p] = append(ours[p], ms)
		}
		connect = append(connect, ours[call.PhaseFirstFrame][i])
		if bin != "" {
			process = append(process, processFirstFrame(b, bin, emu))
		}
	}
	b.ReportMetric(median(launch), "jssdk-launch-ms")
	b.ReportMetric(median(page), "jssdk-page-ms")
	b.ReportMetric(median(open), "jssdk-open-ms")
	b.ReportMetric(median(connect), "ours-connect-ms")
	// Where our time goes against a browser master: its answer, ICE, its first packet.
	for _, p := range []call.Phase{call.PhaseAnswerReceived, call.PhaseICEConnected, call.PhaseFirstRTP} {
		if len(ours[p]) > 0 {
			b.ReportMetric(median(ours[p]), "ours-"+string(p)+"-ms")
		}
	}
	b.ReportMetric(median(connect)/median(page), "ratio-connect-vs-page")
	if len(process) > 0 {
		b.ReportMetric(median(process), "ours-process-ms")
		b.ReportMetric(median(process)/median(page), "ratio-process-vs-page")
		b.ReportMetric(median(process)/median(launch), "ratio-process-vs-launch")
	}
}

// browserFirstFrame runs the JS SDK viewer page once in a fresh Chromium and
// returns its first_frame report and the milliseconds from Chromium's launch
// to that report.
func browserFirstFrame(b *testing.B, bundle string, emu *emulator.Emulator, arn, clientID string) (report, float64) {
	b.Helper()
	p := servePage(b, viewerPage, bundle, pageConfig(emu, arn, wssEndpoint(b, emu, arn, types.ChannelRoleViewer), clientID))
	start := time.Now()
	stop := chromium(b, p.URL, emu.CAFile())
	defer stop()
	ff := p.wait(b, 60*time.Second, "the browser's first frame", func(r report) bool { return r.event() == "first_frame" })
	return ff, millis(time.Since(start))
}

// ourFirstFrame makes one call with this app's controller and returns the
// milliseconds from Connect to its first frame.
func ourFirstFrame(b *testing.B, emu *emulator.Emulator, log *slog.Logger) float64 {
	b.Helper()
	return ourPhases(b, emu, log)[call.PhaseFirstFrame]
}

// ourPhases makes one call with this app's controller and returns the
// milliseconds from Connect to each phase up to the first frame.
func ourPhases(b *testing.B, emu *emulator.Emulator, log *slog.Logger) map[call.Phase]float64 {
	b.Helper()
	ctrl, err := call.NewController(call.Config{AWS: awsOptions(emu), Channel: channel, DataChannel: true,
		Media: capture.Options{Video: "test", Audio: "tone", Width: 640, Height: 480, FPS: 30, PatternStyle: pattern.StyleViewer}, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ctrl.Close() }()
	events, _ := ctrl.Subscribe()
	phases := map[call.Phase]float64{}
	start := time.Now()
	ctrl.Connect()
	if _, err := call.Await(deadline(b, 30*time.Second), events, func(e call.Event) bool {
		if e.Kind == call.EventPhase {
			phases[e.Phase] = millis(e.Elapsed)
		}
		return e.Kind == call.EventPhase && e.Phase == call.PhaseFirstFrame
	}, nil); err != nil {
		b.Fatalf("no first frame: %v", err)
	}
	phases[call.PhaseFirstFrame] = millis(time.Since(start))
	return phases
}

// processFirstFrame runs `bin call --json` against the emulator, as a user
// would with the emulator's settings in the environment, and returns the
// milliseconds from the process's start to its first_frame event. The call
// is then ended with an interrupt, as Ctrl-C does.
func processFirstFrame(b *testing.B, bin string, emu *emulator.Emulator) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "call", "--json", "--channel", channel, "--ca-file", emu.CAFile(),
		"--video", "test", "--audio", "tone", "--width", "640", "--height", "480", "--duration", "20s")
	cmd.Env = append(append(os.Environ(), emu.Env()...), "XDG_CONFIG_HOME="+b.TempDir())
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
	}()
	var seen []string
	for sc := bufio.NewScanner(out); sc.Scan(); {
		var ev struct {
			Event string `json:"event"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Event == "first_frame" {
			return millis(time.Since(start))
		}
		seen = append(seen, ev.Event)
	}
	b.Fatalf("%s call: no first_frame event; it said %v", bin, seen)
	return 0
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
