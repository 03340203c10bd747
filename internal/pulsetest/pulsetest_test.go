package pulsetest

import (
	"errors"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/media/spectrum"
)

// TestDaemon starts a daemon, checks its devices and a recording of the microphone, and that
// nothing is left once its test ended: no process, no directory, no environment.
func TestDaemon(t *testing.T) {
	before := os.Getenv("PULSE_SERVER")
	var pid int
	var dir string
	t.Run("running", func(t *testing.T) {
		s := Start(t)
		pid, dir = s.PID(), s.Dir()
		if got := os.Getenv("PULSE_SERVER"); got != s.Server() {
			t.Errorf("PULSE_SERVER %q, want %q", got, s.Server())
		}
		info, err := s.Pactl("info")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Default Sink: " + SpeakerSink, "Default Source: " + MicSource} {
			if !strings.Contains(info, want) {
				t.Errorf("pactl info lacks %q:\n%s", want, info)
			}
		}
		sources, err := s.Pactl("list", "sources")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sources, "Description: "+MicDescription) {
			t.Errorf("no source described %q:\n%s", MicDescription, sources)
		}
		rec, err := s.Record(MicSource)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		samples := rec.Stop()
		if len(samples) < Rate/2 {
			t.Fatalf("recorded %d samples in 1 s: %s", len(samples), rec.Messages())
		}
		got := spectrum.AnalyzeInt16(samples[len(samples)/2:], 1, Rate)
		if math.Abs(got.Hz-MicHz) > 2 || got.LevelDBFS < -12 {
			t.Errorf("the microphone records %.1f Hz at %.1f dBFS, want %d Hz at about -9 dBFS", got.Hz, got.LevelDBFS, MicHz)
		}
		t.Logf("recorded %d samples: %.1f Hz at %.1f dBFS", len(samples), got.Hz, got.LevelDBFS)
	})
	if pid == 0 {
		t.Fatal("the daemon did not start")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the daemon (pid %d) is still there after its test: %v", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("its directory %s is still there: %v", dir, err)
	}
	if got := os.Getenv("PULSE_SERVER"); got != before {
		t.Errorf("PULSE_SERVER %q after the test, want %q back", got, before)
	}
}
