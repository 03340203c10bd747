package pattern

import (
	"errors"
	"io"
	"math"
	"testing"

	"github.com/pion/mediadevices/pkg/wave"
)

func TestToneSignal(t *testing.T) {
	for _, channels := range []int{1, 2} {
		tone := NewTone(440, 48000, channels)
		var samples []float64
		prev := 0.0
		maxStep := 0.0
		for i := range 10 {
			a, release, err := tone.Read()
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			c, ok := a.(*wave.Int16Interleaved)
			if !ok {
				t.Fatalf("chunk is %T, want *wave.Int16Interleaved", a)
			}
			if info := c.ChunkInfo(); info != (wave.ChunkInfo{Len: 960, Channels: channels, SamplingRate: 48000}) {
				t.Fatalf("chunk info %+v", info)
			}
			for s := 0; s < c.Size.Len; s++ {
				v := float64(c.Data[s*channels])
				for ch := 1; ch < channels; ch++ {
					if c.Data[s*channels+ch] != c.Data[s*channels] {
						t.Fatalf("channels differ at sample %d", s)
					}
				}
				if i > 0 || s > 0 {
					maxStep = math.Max(maxStep, math.Abs(v-prev))
				}
				prev = v
				samples = append(samples, v)
			}
			release()
		}
		tone.Close()

		var sum float64
		crossings := 0
		for i, v := range samples {
			sum += v * v
			if i > 0 && (samples[i-1] < 0) != (v < 0) {
				crossings++
			}
		}
		rms := math.Sqrt(sum/float64(len(samples))) / 32768
		dbfs := 20 * math.Log10(rms)
		if want := 20 * math.Log10(ToneAmplitude/math.Sqrt2); math.Abs(dbfs-want) > 0.1 {
			t.Errorf("%d ch: level %.2f dBFS, want %.2f", channels, dbfs, want)
		}
		// 200 ms of 440 Hz: 176 zero crossings.
		if crossings < 174 || crossings > 178 {
			t.Errorf("%d ch: %d zero crossings in 200 ms, want about 176", channels, crossings)
		}
		// Continuous across chunk boundaries: no step larger than the sine's steepest slope.
		if limit := ToneAmplitude*32767*2*math.Pi*440/48000 + 1; maxStep > limit {
			t.Errorf("%d ch: step of %.0f between samples, limit %.0f", channels, maxStep, limit)
		}
	}
}

func TestToneClose(t *testing.T) {
	tone := NewTone(-1, 0, 9)
	if tone.freq != 440 || tone.rate != 48000 || tone.channels != 2 {
		t.Errorf("defaults: %v Hz %v/s %v ch", tone.freq, tone.rate, tone.channels)
	}
	if _, _, err := tone.Read(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		for {
			if _, _, err := tone.Read(); err != nil {
				done <- err
				return
			}
		}
	}()
	tone.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Errorf("Read after Close: %v, want io.EOF", err)
	}
	if err := tone.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
