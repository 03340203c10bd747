package spectrum

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// sine returns n samples at 48 kHz of a hz sine of peak amp.
func sine(hz, amp float64, n int) []float64 {
	const rate = 48000
	out := make([]float64, n)
	for i := range out {
		out[i] = amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)+0.3)
	}
	return out
}

func TestAnalyzeTones(t *testing.T) {
	for _, tc := range []struct {
		hz, amp float64
		n       int
	}{
		{440, 0.25, 8192}, {1000, 0.5, 8192}, {997.3, 0.1, 4800}, {440, 0.25, 48000}, {60, 0.9, 16384}, {15000, 0.3, 8192},
	} {
		got := Analyze(sine(tc.hz, tc.amp, tc.n), 48000)
		if math.Abs(got.Hz-tc.hz) > 0.5 {
			t.Errorf("%.1f Hz over %d samples: got %.2f Hz", tc.hz, tc.n, got.Hz)
		}
		want := 20 * math.Log10(tc.amp/math.Sqrt2)
		if math.Abs(got.LevelDBFS-want) > 0.1 {
			t.Errorf("%.1f Hz at %.2f: level %.2f dBFS, want %.2f", tc.hz, tc.amp, got.LevelDBFS, want)
		}
	}
}

// TestAnalyzeDominant: the stronger of two tones wins, also in noise and after a gap.
func TestAnalyzeDominant(t *testing.T) {
	x := sine(440, 0.25, 9600)
	beep := sine(1000, 0.1, 9600)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] += beep[i] + 0.02*(rng.Float64()*2-1)
	}
	clear(x[3000:3500]) // a 10 ms gap
	if got := Analyze(x, 48000); math.Abs(got.Hz-440) > 1 {
		t.Errorf("got %.2f Hz, want 440", got.Hz)
	}
}

func TestAnalyzeSilence(t *testing.T) {
	for _, x := range [][]float64{nil, make([]float64, 4800), {1e-7, -1e-7}} {
		if got := Analyze(x, 48000); got.Hz != 0 || got.LevelDBFS != MinLevel {
			t.Errorf("silence of %d samples: %+v", len(x), got)
		}
	}
}

func TestMeter(t *testing.T) {
	m := NewMeter(48000, 8192)
	if got := m.Result(); got.LevelDBFS != MinLevel || got.Hz != 0 {
		t.Errorf("empty meter: %+v", got)
	}
	write := func(hz float64, stereo bool) {
		ch := 1
		if stereo {
			ch = 2
		}
		phase := 0.0
		for range 30 { // 30 packets of 20 ms: the ring wraps
			pcm := make([]int16, 960*ch)
			for i := range 960 {
				v := int16(math.Round(8192 * math.Sin(phase)))
				phase += 2 * math.Pi * hz / 48000
				for c := range ch {
					pcm[i*ch+c] = v
				}
			}
			m.Write(pcm, ch)
		}
	}
	write(440, false)
	if got := m.Result(); math.Abs(got.Hz-440) > 1 || math.Abs(got.LevelDBFS+15.05) > 0.2 {
		t.Errorf("440 Hz mono: %+v", got)
	}
	write(660, true)
	if got := m.Result(); math.Abs(got.Hz-660) > 1 {
		t.Errorf("660 Hz stereo after 440: %+v", got)
	}
	m.Write(make([]int16, 8192), 1)
	if got := m.Result(); got.Hz != 0 || got.LevelDBFS != MinLevel {
		t.Errorf("after a window of silence: %+v", got)
	}
}

func TestGaps(t *testing.T) {
	x := make([]float64, 48000) // 1 s: silence, tone from 100 ms, gaps, silence after 900 ms
	tone := sine(440, 0.25, len(x))
	copy(x[4800:43200], tone[4800:43200])
	clear(x[9600:12480])  // 60 ms at 200 ms
	clear(x[24000:24960]) // 20 ms at 500 ms: shorter than asked
	got := Gaps(x, 48000, 0.001, 50*time.Millisecond)
	if len(got) != 1 || got[0].Start != 200*time.Millisecond || got[0].Length < 59*time.Millisecond || got[0].Length > 61*time.Millisecond {
		t.Errorf("gaps %+v, want one of 60 ms at 200 ms", got)
	}
	if got := Gaps(x, 48000, 0.001, 10*time.Millisecond); len(got) != 2 {
		t.Errorf("gaps over 10 ms: %+v, want 2", got)
	}
	if got := Gaps(make([]float64, 4800), 48000, 0.001, time.Millisecond); len(got) != 0 {
		t.Errorf("silence has gaps: %+v", got)
	}
}

func BenchmarkAnalyze8192(b *testing.B) {
	x := sine(440, 0.25, 8192)
	for b.Loop() {
		Analyze(x, 48000)
	}
}
