// Package pulsetest runs a private PulseAudio daemon for one test, so that the real audio path
// (miniaudio's PulseAudio backend, devices that come and go) can be tested on a machine without
// sound card. It is for tests only.
//
// The daemon runs without hardware: its own runtime directory (socket, cookie, state) in a
// temporary directory, no system daemon, no autospawn, no D-Bus and no realtime scheduling (a
// container's RT budget would starve its timers). Start loads:
//
//   - the sink SpeakerSink ("Test Speaker"), a null sink, the default sink: what is played into
//     it can be recorded from its monitor, SpeakerSink+".monitor";
//   - the source MicSource ("Test Microphone"), the default source: a remap of the monitor of a
//     null sink ("Test Microphone feed") into which pacat plays a MicHz sine (Mic.SetTone
//     changes it).
//
// As root (CI runs as root) the daemon is still a per-user one: pulseaudio only warns that it
// is not meant for root outside --system mode, and its HOME, XDG and PULSE_* directories are
// the temporary one, so nothing is written to /root and no system daemon is involved.
//
// Start points the test process at the daemon (PULSE_SERVER, PULSE_CLIENTCONFIG, PULSE_COOKIE,
// PULSE_RUNTIME_PATH, restored when the test ends), so libpulse, which miniaudio loads at run
// time, and the pactl and parec commands reach it. When the test ends the daemon is stopped and
// waited for, and its directory removed: no process is left behind.
package pulsetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The devices Start creates.
const (
	// SpeakerSink is the default sink's name; SpeakerDescription its description.
	SpeakerSink        = "speaker"
	SpeakerDescription = "Test Speaker"
	// MicSource is the default source's name; MicDescription its description.
	MicSource      = "mic"
	MicDescription = "Test Microphone"
	// MicHz is the frequency of the sine MicSource records.
	MicHz = 440
	// Rate is the sample rate of the devices and of Record.
	Rate = 48000
)

// SkipMessage is why a test is skipped when PulseAudio is missing.
const SkipMessage = "PulseAudio is not installed: make deps installs it (pulseaudio, pulseaudio-utils)"

// idleExit is how long, in seconds, the daemon lives on without any client. A test keeps
// clients connected from Start to its end (the speaker's recording); a test binary killed
// before its cleanup (a -timeout panic) leaves a daemon whose clients die with it, and this
// ends it (measured: two such daemons were found still running 40 minutes later).
const idleExit = 30

// startTimeout bounds the wait for the daemon's socket; stopTimeout the wait for its exit
// after SIGTERM, before SIGKILL.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 3 * time.Second
	pactlTimeout = 10 * time.Second
)

// Server is a running private PulseAudio daemon.
type Server struct {
	t       testing.TB
	dir     string
	socket  string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the daemon exited (and was reaped)

	mic     *Mic
	speaker *Recording
	sinks   map[string]int // module index by sink name
}

// Start starts a private daemon for t, with the default devices described in the package
// comment, and points the process at it. It skips t when PulseAudio is not installed. Tests
// using it must not run in parallel (the environment is the process's).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		t.Skip(SkipMessage)
	}
	for _, tool := range []string{"pactl", "parec"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(SkipMessage)
		}
	}
	// Not t.TempDir: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "pulsetest")
	if err != nil {
		t.Fatalf("pulsetest: %v", err)
	}
	s := &Server{t: t, dir: dir, socket: filepath.Join(dir, "native"), logPath: filepath.Join(dir, "daemon.log"),
		exited: make(chan struct{}), sinks: map[string]int{}}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("pulsetest: remove %s: %v", dir, err)
		}
	})
	if err := s.launch(bin); err != nil {
		t.Fatalf("pulsetest: %v\n%s", err, s.log())
	}
	t.Cleanup(s.stop)
	s.pointProcess()
	if err := s.addDefaults(); err != nil {
		t.Fatalf("pulsetest: %v\n%s", err, s.log())
	}
	if err := s.warmUp(); err != nil {
		t.Fatalf("pulsetest: %v\n%s", err, s.log())
	}
	return s
}

// warmUp starts the speaker's recording and waits until the speaker and the microphone both
// deliver samples. A null sink renders in blocks as long as the latency its streams and its
// monitor's ask for, 2 s when none asks: the recording keeps the speaker at 20 ms blocks, so a
// player starts at once, and the microphone's feed is at its 20 ms blocks once samples flow.
func (s *Server) warmUp() error {
	speaker, err := s.Record(SpeakerSink + ".monitor")
	if err != nil {
		return err
	}
	s.speaker = speaker
	mic, err := s.Record(MicSource)
	if err != nil {
		return err
	}
	defer mic.Stop()
	for _, r := range []*Recording{speaker, mic} {
		if err := r.waitSamples(Rate/10, startTimeout); err != nil {
			return err
		}
	}
	return nil
}

// launch writes the configuration, starts the daemon and waits for its socket.
func (s *Server) launch(bin string) error {
	script := "load-module module-native-protocol-unix auth-anonymous=1 socket=" + s.socket + "\n"
	conf := fmt.Sprintf("autospawn = no\ndefault-server = unix:%s\ncookie-file = %s\n", s.socket, filepath.Join(s.dir, "cookie"))
	for name, text := range map[string]string{"default.pa": script, "client.conf": conf} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer func() { _ = logf.Close() }() // the child has its own copy
	cmd := exec.Command(bin, "-n", "-F", filepath.Join(s.dir, "default.pa"),
		"--daemonize=no", "--system=no", "--exit-idle-time="+strconv.Itoa(idleExit), "--use-pid-file=no",
		"--realtime=no", "--high-priority=yes", "--log-target=stderr", "--log-level=notice")
	cmd.Env = append(cleanEnv(), "HOME="+s.dir, "XDG_RUNTIME_DIR="+s.dir, "XDG_CONFIG_HOME="+s.dir,
		"PULSE_RUNTIME_PATH="+s.dir, "PULSE_STATE_PATH="+s.dir, "PULSE_CLIENTCONFIG="+filepath.Join(s.dir, "client.conf"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		_ = cmd.Wait() // its exit status is in the log; stop only needs it reaped
		close(s.exited)
	}()
	return s.waitSocket()
}

// cleanEnv is the process's environment without what would point the daemon elsewhere.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PULSE_"), strings.HasPrefix(k, "XDG_"), k == "HOME",
			k == "DISPLAY", k == "DBUS_SESSION_BUS_ADDRESS":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// waitSocket waits until the daemon accepts connections on its socket.
func (s *Server) waitSocket() error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("the daemon exited at start")
		default:
		}
		if c, err := net.Dial("unix", s.socket); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("no socket %s within %s", s.socket, startTimeout)
}

// clientEnv is the environment of the pactl, parec and pacat commands: the process's, pointed
// at the daemon whatever the test did to it.
func (s *Server) clientEnv() []string {
	return append(os.Environ(), "PULSE_SERVER=unix:"+s.socket, "PULSE_CLIENTCONFIG="+filepath.Join(s.dir, "client.conf"),
		"PULSE_COOKIE="+filepath.Join(s.dir, "cookie"), "PULSE_RUNTIME_PATH="+s.dir)
}

// pointProcess sets the environment that makes libpulse clients of this process (miniaudio,
// pactl, parec, pacat) use the daemon, and write nothing in the user's home.
func (s *Server) pointProcess() {
	s.t.Setenv("PULSE_SERVER", "unix:"+s.socket)
	s.t.Setenv("PULSE_CLIENTCONFIG", filepath.Join(s.dir, "client.conf"))
	s.t.Setenv("PULSE_COOKIE", filepath.Join(s.dir, "cookie"))
	s.t.Setenv("PULSE_RUNTIME_PATH", s.dir)
}

// addDefaults creates the default speaker and microphone.
func (s *Server) addDefaults() error {
	if _, err := s.AddSink(SpeakerSink, SpeakerDescription); err != nil {
		return err
	}
	mic, err := s.AddMic(MicSource, MicDescription, MicHz)
	if err != nil {
		return err
	}
	s.mic = mic
	if _, err := s.Pactl("set-default-sink", SpeakerSink); err != nil {
		return err
	}
	_, err = s.Pactl("set-default-source", MicSource)
	return err
}

// stop stops the daemon (SIGTERM, then SIGKILL) and waits for it.
func (s *Server) stop() {
	if s.cmd.Process.Signal(syscall.SIGTERM) == nil {
		select {
		case <-s.exited:
			return
		case <-time.After(stopTimeout):
			s.t.Logf("pulsetest: the daemon did not stop within %s: killing it", stopTimeout)
		}
	}
	s.kill()
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill() // fails only when it already exited
	<-s.exited
}

// log returns the daemon's log.
func (s *Server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no daemon log: " + err.Error() + ")"
	}
	return "daemon log:\n" + string(b)
}

// Log writes the daemon's log to the test log.
func (s *Server) Log() { s.t.Log(s.log()) }

// PID is the daemon's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Dir is the daemon's runtime directory.
func (s *Server) Dir() string { return s.dir }

// Server is the PULSE_SERVER value of the daemon.
func (s *Server) Server() string { return "unix:" + s.socket }

// Speaker is the recording of the default speaker's monitor: everything played into
// SpeakerSink since Start (Len and Since pick out a part).
func (s *Server) Speaker() *Recording { return s.speaker }

// Mic returns the default microphone.
func (s *Server) Mic() *Mic { return s.mic }

// Pactl runs pactl with args against the daemon and returns its output.
func (s *Server) Pactl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pactlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pactl", args...)
	cmd.Env = s.clientEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("pactl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// LoadModule loads a module and returns its index.
func (s *Server) LoadModule(name string, args ...string) (int, error) {
	out, err := s.Pactl(append([]string{"load-module", name}, args...)...)
	if err != nil {
		return 0, err
	}
	idx, err := strconv.Atoi(out)
	if err != nil {
		return 0, fmt.Errorf("load-module %s: unexpected answer %q", name, out)
	}
	return idx, nil
}

// UnloadModule unloads the module with index idx: its devices disappear.
func (s *Server) UnloadModule(idx int) error {
	_, err := s.Pactl("unload-module", strconv.Itoa(idx))
	return err
}

// description is a device.description property value for module arguments.
func description(desc string) string {
	return `device.description="` + strings.ReplaceAll(desc, " ", `\ `) + `"`
}

// AddSink adds a null sink (stereo) called name with the description desc and returns its
// module index. What it plays can be recorded from name+".monitor".
func (s *Server) AddSink(name, desc string) (int, error) {
	idx, err := s.LoadModule("module-null-sink", "sink_name="+name, "rate="+strconv.Itoa(Rate), "channels=2",
		"sink_properties="+description(desc))
	if err == nil {
		s.sinks[name] = idx
	}
	return idx, err
}

// RemoveSink unloads the sink name that AddSink (or Start) added: the output disappears.
func (s *Server) RemoveSink(name string) error {
	idx, ok := s.sinks[name]
	if !ok {
		return fmt.Errorf("pulsetest: no sink %q was added", name)
	}
	delete(s.sinks, name)
	return s.UnloadModule(idx)
}
