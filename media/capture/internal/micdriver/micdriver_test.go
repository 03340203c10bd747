package micdriver

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/wave"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/internal/pulsetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func microphones() []driver.Driver {
	return driver.GetManager().Query(driver.FilterDeviceType(driver.Microphone))
}

// TestRecordThenClose registers the microphones of a private PulseAudio daemon, records its
// default source's tone, and closes it: the reader then ends with io.EOF (upstream, a read after
// the close waited for ever), and no goroutine of the device is left. A second Register
// replaces the microphones rather than adding to them.
func TestRecordThenClose(t *testing.T) {
	if n := len(microphones()); n != 0 {
		t.Fatalf("%d microphones registered before Register", n)
	}
	pulsetest.Start(t)
	if err := Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range microphones() {
			driver.GetManager().Delete(d.ID())
		}
	})
	var mic driver.Driver
	first := len(microphones())
	for _, d := range microphones() {
		t.Logf("microphone %q (%s), priority %v", d.Info().Name, d.Info().Label, d.Info().Priority)
		if d.Info().Priority == driver.PriorityHigh {
			mic = d
		}
	}
	if mic == nil {
		t.Fatal("no default microphone registered")
	}
	if err := Register(); err != nil {
		t.Fatal(err)
	}
	if n := len(microphones()); n != first {
		t.Errorf("%d microphones after a second Register, want the first's %d", n, first)
	}
	for _, d := range microphones() {
		if d.Info().Priority == driver.PriorityHigh {
			mic = d
		}
	}

	if err := mic.Open(); err != nil {
		t.Fatal(err)
	}
	props := mic.Properties()
	if len(props) == 0 {
		t.Fatal("no properties")
	}
	p := props[0]
	r, err := mic.(driver.AudioRecorder).AudioRecord(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk, _, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if chunk.ChunkInfo().SamplingRate != sampleRate || chunk.ChunkInfo().Len == 0 {
		t.Errorf("chunk %+v, want samples at %d Hz", chunk.ChunkInfo(), sampleRate)
	}
	if _, ok := chunk.(*wave.Float32Interleaved); !ok && p.IsFloat {
		t.Errorf("a %T chunk for a float format", chunk)
	}
	if err := mic.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := r.Read(); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("read after Close: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read after Close did not return")
	}
}
