package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kvsviewer-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "kvsviewer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// events runs the binary and returns its JSON events, failing on a non-JSON line.
func events(t *testing.T, env []string, args ...string) ([]map[string]any, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var e map[string]any
		if jerr := json.Unmarshal(sc.Bytes(), &e); jerr != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		evs = append(evs, e)
	}
	return evs, err
}

func find(evs []map[string]any, name string) map[string]any {
	for _, e := range evs {
		if e["event"] == name {
			return e
		}
	}
	return nil
}

func TestCallDemoJSON(t *testing.T) {
	shot := filepath.Join(t.TempDir(), "first.png")
	evs, err := events(t, nil, "call", "--demo", "--duration", "2s", "--json", "--width", "640", "--height", "360", "--snapshot", shot)
	if err != nil {
		t.Fatalf("call --demo: %v", err)
	}
	for _, name := range []string{"control_plane_done", "signaling_open", "offer_sent", "answer_received", "ice_connected", "first_rtp", "first_frame", "teardown_done"} {
		if find(evs, name) == nil {
			t.Errorf("no %s event", name)
		}
	}
	ff := find(evs, "first_frame")
	if ff == nil || ff["width"] != 1280.0 || ff["height"] != 720.0 || ff["codec"] != "H264" {
		t.Fatalf("first_frame %v, want the demo master's 1280x720 H264", ff)
	}
	var last float64
	for _, e := range evs {
		if e["event"] == "frames" {
			n := e["decoded"].(float64)
			if n <= last {
				t.Fatalf("frames count did not rise: %v after %v", n, last)
			}
			last = n
		}
	}
	if last < 20 {
		t.Fatalf("only %v frames decoded in 2 s", last)
	}
	fh, err := os.Open(shot)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer func() { _ = fh.Close() }()
	img, err := png.Decode(fh)
	if err != nil || img.Bounds().Dx() != 1280 {
		t.Fatalf("snapshot: %v %v", err, img.Bounds())
	}
}

func TestQADemoJSONSummary(t *testing.T) {
	evs, err := events(t, nil, "qa", "--demo", "--cycles", "3", "--hold", "200ms", "--json", "--width", "320", "--height", "240")
	if err != nil {
		t.Fatalf("qa --demo: %v", err)
	}
	sum := evs[len(evs)-1]
	if sum["event"] != "summary" || sum["cycles"] != 3.0 || sum["ok"] != 3.0 || sum["failed"] != 0.0 {
		t.Fatalf("summary %v", sum)
	}
	phases := sum["phases"].(map[string]any)
	if _, ok := phases["first_frame_ms"].(map[string]any)["p95"]; !ok {
		t.Fatalf("summary phases %v", phases)
	}
	if _, ok := sum["resources"].(map[string]any)["goroutines_delta"]; !ok {
		t.Fatalf("summary resources %v", sum["resources"])
	}
}

// TestEmulatorProcess runs the emulator (with its master) as its own process
// and calls it with the printed CA file: the path a QA engineer takes.
func TestEmulatorProcess(t *testing.T) {
	cmd := exec.Command(bin, "emulator", "--master")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	var env []string
	var caFile string
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		line := strings.TrimSpace(sc.Text())
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
		if f, ok := strings.CutPrefix(line, "CA file: "); ok {
			caFile = f
		}
		if line == "demo master connected" {
			break
		}
	}
	if caFile == "" || len(env) == 0 {
		t.Fatalf("emulator printed no CA file or env (env %v)", env)
	}
	evs, err := events(t, env, "call", "--channel", "demo-channel", "--ca-file", caFile, "--duration", "1s", "--json", "--width", "320", "--height", "240")
	if err != nil {
		t.Fatalf("call against the emulator process: %v (events %v)", err, evs)
	}
	if find(evs, "first_frame") == nil {
		t.Fatalf("no first frame: %v", evs)
	}
}

func TestBadInputIsAClearError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"call"}, "no channel"},
		{[]string{"call", "--channel", "x", "--fault", "drop-offers=1"}, "--fault: works only in Demo mode"},
		{[]string{"qa", "--demo", "--fault", "nonsense=1"}, "--fault"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"qa", "--demo", "--viewers", "11"}, "--viewers 11: from 1 to 10"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: err %v, output %q, want it to say %q", tc.args, err, out, tc.want)
		}
		if strings.Contains(string(out), "panic") {
			t.Errorf("%v panicked: %s", tc.args, out)
		}
	}
}

// cLocaleEnv is the environment with LANG=C.UTF-8 as the only locale setting:
// the locale Fyne's lang package cannot parse (it logs an error at init).
func cLocaleEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "LANG" && k != "LC_ALL" && k != "LC_MESSAGES" {
			env = append(env, kv)
		}
	}
	return append(env, "LANG=C.UTF-8")
}

// runC runs the binary in the C locale and returns its stdout and stderr.
func runC(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = cLocaleEnv()
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\nstderr:\n%s", args, err, e.String())
	}
	return o.String(), e.String()
}

// TestNoLibraryNoise: the headless commands and the help print nothing of
// Fyne's (its lang package logs "Error parsing user locale C" while
// initialising), nor libx264's information ("x264 [info]: ..."), nor what
// libasound and libjack say when there is no sound server (here there is
// none: the microphone driver's probe at start-up makes them talk).
func TestNoLibraryNoise(t *testing.T) {
	for _, args := range [][]string{
		{"call", "--demo", "--duration", "1s", "--width", "320", "--height", "240"},
		{"--help"},
		{"help"},
		{"call", "--help"},
	} {
		_, stderr := runC(t, args...)
		if strings.Contains(stderr, "Fyne error") || strings.Contains(stderr, "locale") {
			t.Errorf("%v: stderr has Fyne's output:\n%s", args, stderr)
		}
		if strings.Contains(stderr, "x264 [") {
			t.Errorf("%v: stderr has libx264's log:\n%s", args, stderr)
		}
		if strings.Contains(stderr, "ALSA lib") || strings.Contains(stderr, "jack server") {
			t.Errorf("%v: stderr has the sound libraries' complaints:\n%s", args, stderr)
		}
	}
}

// TestHelpListsCommands: -h, --help and help start with the commands (call,
// qa, emulator, master, then the window) and go on with the window's flags.
func TestHelpListsCommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help", "-help"} {
		stdout, stderr := runC(t, arg)
		if stderr != "" {
			t.Errorf("%s: stderr %q", arg, stderr)
		}
		lines := strings.Split(stdout, "\n")
		want := []string{"usage: kvsviewer call ", "kvsviewer qa ", "kvsviewer emulator ", "kvsviewer master ", "kvsviewer [flags] "}
		if len(lines) < len(want) {
			t.Fatalf("%s: stdout %q", arg, stdout)
		}
		for i, w := range want {
			if !strings.HasPrefix(strings.TrimSpace(lines[i]), w) {
				t.Errorf("%s: line %d is %q, want it to start with %q", arg, i+1, lines[i], w)
			}
		}
		i := strings.Index(stdout, "flags of the window:")
		if i < 0 || !strings.Contains(stdout[i:], "\n  -connect\n") || !strings.Contains(stdout[i:], "\n  -demo\n") {
			t.Errorf("%s: no window flags after the commands:\n%s", arg, stdout)
		}
	}
}

// TestWindowNoLocaleError: the window does not show Fyne's complaint about the
// C locale either (it is harmless: Fyne falls back to English).
func TestWindowNoLocaleError(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no X display (run under xvfb-run)")
	}
	cmd := exec.Command(bin, "--demo")
	cmd.Env = cLocaleEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("window: %v\nstderr:\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Fyne error") || strings.Contains(s, "locale") {
		t.Fatalf("window stderr has Fyne's locale error:\n%s", s)
	}
}

// TestNewLoggerLevels: with the headless commands' logger, slog.Default()'s
// warnings still reach stderr as warnings (the x264 encoder of the local
// media logs there), and the standard log package's lines are debug lines.
func TestNewLoggerLevels(t *testing.T) {
	prevSlog, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	defer func() {
		slog.SetDefault(prevSlog)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
		slog.SetLogLoggerLevel(slog.LevelInfo)
	}()
	for _, verbose := range []bool{false, true} {
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stderr
		os.Stderr = f
		newLogger(verbose)
		os.Stderr = saved
		slog.Warn("a warning")
		slog.Info("some information")
		log.Print("a std log line")
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		out := string(b)
		if !strings.Contains(out, `level=WARN msg="a warning"`) {
			t.Errorf("verbose %v: slog.Warn is not a warning on stderr: %q", verbose, out)
		}
		if got := strings.Contains(out, `level=DEBUG msg="a std log line"`); got != verbose {
			t.Errorf("verbose %v: std log line at debug: %v; stderr %q", verbose, got, out)
		}
		if got := strings.Contains(out, "some information"); got != verbose {
			t.Errorf("verbose %v: info shown: %v; stderr %q", verbose, got, out)
		}
	}
}

// TestVersion: --version names the build and the libraries a bug report
// needs.
func TestVersion(t *testing.T) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	for _, want := range []string{"kvsviewer ", "commit:", "built:", "go1.", "fyne.io/fyne/v2 ", "github.com/pion/webrtc/v4 ",
		"github.com/pion/mediadevices ", "github.com/aws/aws-sdk-go-v2 "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--version lacks %q:\n%s", want, out)
		}
	}
}

// TestFailedRunsExitNonZeroWithTheClass: a call that never reaches a first
// frame and a QA run with a failed cycle exit 1 with the failure class on
// their last line.
func TestFailedRunsExitNonZeroWithTheClass(t *testing.T) {
	for _, tc := range []struct {
		args []string
		last string
	}{
		{[]string{"call", "--demo", "--nat", "relay", "--fault", "no-turn=1", "--duration", "1s"}, "kvsviewer: call failed: settings: "},
		{[]string{"qa", "--demo", "--nat", "relay", "--fault", "no-turn=1", "--cycles", "1"}, "kvsviewer: qa: 1 of 1 cycles failed: settings 1"},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1", tc.args, err)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.last) {
			t.Errorf("%v: last line %q, want %q", tc.args, last, tc.last)
		}
	}
}

// startEmulator runs `kvsviewer emulator` (no master) and returns the env
// and CA file that point a client at it; it is stopped when the test ends.
func startEmulator(t *testing.T, args ...string) (env []string, caFile string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"emulator"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			env = append(env, kv)
		}
		if f, ok := strings.CutPrefix(line, "CA file: "); ok {
			caFile = f
		}
		if strings.HasPrefix(line, "press Ctrl-C") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if caFile == "" || len(env) == 0 {
		t.Fatalf("emulator printed no CA file or env (env %v)", env)
	}
	return env, caFile
}

// TestMasterCommand runs `kvsviewer master` as the master of the emulator's
// channel in its own process, calls it with this app's viewer, and stops it
// with Ctrl+C: its JSON events tell the viewer's way through the call.
func TestMasterCommand(t *testing.T) {
	env, caFile := startEmulator(t)
	master := exec.Command(bin, "master", "--channel", "demo-channel", "--ca-file", caFile, "--width", "320", "--height", "240", "--json")
	master.Env = append(os.Environ(), env...)
	var out lockedBuffer
	master.Stdout = &out
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the master connects to signaling
	evs, err := events(t, env, "call", "--channel", "demo-channel", "--ca-file", caFile, "--duration", "2s", "--json", "--width", "320", "--height", "240")
	if err != nil || find(evs, "first_frame") == nil {
		t.Fatalf("call against kvsviewer master: %v (events %v)", err, evs)
	}
	if ff := find(evs, "first_frame"); ff["width"] != 320.0 {
		t.Errorf("first frame %v, want the master's 320x240", ff)
	}
	if find(evs, "datachannel_rtt") == nil {
		t.Error("no data channel round trip: the master does not echo")
	}
	// The master sees the viewer's connection close a moment after the call ended.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), `"viewer_left"`) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	_ = master.Process.Signal(os.Interrupt)
	if err := master.Wait(); err != nil {
		t.Errorf("master after Ctrl+C: %v", err)
	}
	for _, kind := range []string{"viewer_joined", "answered", "ice_connected", "first_frame", "viewer_left"} {
		if !strings.Contains(out.String(), `"event":"`+kind+`"`) {
			t.Errorf("master printed no %s event:\n%s", kind, out.String())
		}
	}
}

// lockedBuffer is a strings.Builder safe for a process's output and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
