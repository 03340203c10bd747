package pulsetest

// Recording a source (a speaker's monitor) with parec.

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Recording is parec recording a source as Rate Hz mono 16-bit samples.
type Recording struct {
	cmd     *exec.Cmd
	stderr  *bytes.Buffer // parec's messages: read only after done
	started time.Time
	done    chan struct{} // closed when the reader reached the end

	stopOnce sync.Once

	mu      sync.Mutex
	samples []int16
	odd     []byte // a trailing byte of a sample split between reads
}

// Record starts recording source (e.g. SpeakerSink+".monitor") with parec at a 20 ms latency.
// The recording ends with Stop, or with the test.
func (s *Server) Record(source string) (*Recording, error) {
	cmd := exec.Command("parec", "--device="+source, "--raw", "--format=s16le", "--rate="+strconv.Itoa(Rate),
		"--channels=1", "--latency-msec=20")
	cmd.Env = s.clientEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("parec: %w", err)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start parec: %w", err)
	}
	r := &Recording{cmd: cmd, stderr: stderr, started: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			r.add(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	s.t.Cleanup(func() { r.Stop() })
	return r, nil
}

func (r *Recording) add(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b = append(r.odd, b...)
	for i := 0; i+1 < len(b); i += 2 {
		r.samples = append(r.samples, int16(uint16(b[i])|uint16(b[i+1])<<8))
	}
	r.odd = append(r.odd[:0], b[len(b)&^1:]...)
}

// Len returns the number of samples recorded so far.
func (r *Recording) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// Since returns a copy of the samples recorded after the first from.
func (r *Recording) Since(from int) []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.samples[min(from, len(r.samples)):]...)
}

// WaitSamples waits up to limit until n samples were recorded. A new null sink renders its
// first block up to 2 s late (its latency before anyone asked for less): a test that records
// a sink it added waits for its first samples before it plays.
func (r *Recording) WaitSamples(n int, limit time.Duration) error { return r.waitSamples(n, limit) }

// waitSamples waits until n samples were recorded.
func (r *Recording) waitSamples(n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for r.Len() < n {
		select {
		case <-r.done:
			return fmt.Errorf("parec %s ended: %s", strings.Join(r.cmd.Args[1:], " "), r.Messages())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("parec %s: %d samples within %s", strings.Join(r.cmd.Args[1:], " "), r.Len(), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Samples returns a copy of what was recorded so far.
func (r *Recording) Samples() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.samples...)
}

// Stop ends the recording (idempotent) and returns every sample recorded.
func (r *Recording) Stop() []int16 {
	r.stopOnce.Do(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM) // fails only when parec already exited
		select {
		case <-r.done:
		case <-time.After(stopTimeout):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		_ = r.cmd.Wait() // stopped by us: its exit status says nothing
	})
	return r.Samples()
}

// Messages stops the recording and returns what parec wrote to stderr.
func (r *Recording) Messages() string {
	r.Stop()
	return r.stderr.String()
}
