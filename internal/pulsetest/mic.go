package pulsetest

// Microphones fed a known sine.

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Mic is a microphone of the daemon: a source recording the monitor of a null sink into which
// pacat plays a sine that the test can change.
type Mic struct {
	// Name is the source's name (its device id); Description the name users see.
	Name, Description string

	feed         string // the null sink pacat plays into
	sink, source int    // module indices
	hz           atomic.Uint64
	pacat        *exec.Cmd
	stdin        io.WriteCloser
	fed          chan struct{} // closed when the writer stopped
}

// AddMic adds a microphone: the source name (description desc) records a hz sine (0:
// silence) of peak amplitude 0.5 (about -9 dBFS RMS).
func (s *Server) AddMic(name, desc string, hz float64) (*Mic, error) {
	m := &Mic{Name: name, Description: desc, feed: name + "_feed", fed: make(chan struct{})}
	m.SetTone(hz)
	var err error
	if m.sink, err = s.LoadModule("module-null-sink", "sink_name="+m.feed, "rate="+strconv.Itoa(Rate), "channels=1",
		"sink_properties="+description(desc+" feed")); err != nil {
		return nil, err
	}
	if m.source, err = s.LoadModule("module-remap-source", "source_name="+name, "master="+m.feed+".monitor",
		"source_properties="+description(desc)); err != nil {
		return nil, err
	}
	if err := s.feed(m); err != nil {
		return nil, err
	}
	return m, nil
}

// feed starts pacat playing m's sine into its feed sink, with 100 ms of buffer: less
// underruns on a loaded machine. (The sink renders in blocks of the least latency its streams
// and its monitor's ask for: the microphone's recorders keep those short.)
func (s *Server) feed(m *Mic) error {
	cmd := exec.Command("pacat", "--playback", "--device="+m.feed, "--raw", "--format=s16le",
		"--rate="+strconv.Itoa(Rate), "--channels=1", "--latency-msec=100")
	cmd.Env = s.clientEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("pacat: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pacat: %w", err)
	}
	if f, ok := stdin.(*os.File); ok {
		// A small pipe: a new tone is heard within tens of milliseconds.
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSize, 4096)
	}
	m.pacat, m.stdin = cmd, stdin
	go m.write()
	s.t.Cleanup(m.stop)
	return nil
}

// fSetPipeSize is F_SETPIPE_SZ.
const fSetPipeSize = 1031

// write writes m's sine to pacat in 10 ms blocks until pacat goes away; the pipe paces it.
func (m *Mic) write() {
	defer close(m.fed)
	const block = Rate / 100
	buf := make([]byte, 2*block)
	var phase float64
	for {
		hz := math.Float64frombits(m.hz.Load())
		for i := range block {
			v := int16(0)
			if hz > 0 {
				v = int16(math.Round(0.5 * math.MaxInt16 * math.Sin(phase)))
				phase = math.Mod(phase+2*math.Pi*hz/Rate, 2*math.Pi)
			}
			buf[2*i], buf[2*i+1] = byte(v), byte(uint16(v)>>8)
		}
		if _, err := m.stdin.Write(buf); err != nil {
			return
		}
	}
}

// stop ends the feed: pacat gets the end of its input, and is killed if it does not exit.
func (m *Mic) stop() {
	_ = m.stdin.Close() // the writer's next Write fails
	done := make(chan struct{})
	go func() {
		_ = m.pacat.Wait() // stopped by us: its exit status says nothing
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = m.pacat.Process.Kill()
		<-done
	}
	<-m.fed
}

// SetTone makes m record a hz sine from now on, or silence for hz <= 0.
func (m *Mic) SetTone(hz float64) { m.hz.Store(math.Float64bits(max(hz, 0))) }

// RemoveMic unloads m's source: the microphone disappears (its feed stays).
func (s *Server) RemoveMic(m *Mic) error { return s.UnloadModule(m.source) }
