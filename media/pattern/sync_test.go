package pattern

import (
	"image"
	"math"
	"testing"
	"time"
)

// TestFlashOnTheSyncInstant: a pattern with sync marks flashes on the frames of the first
// FlashDuration of each second, ReadFlash sees it there and nowhere else (the moving box
// anywhere, either style, marks off), and the flash frame's stamp says how long after the
// second it was captured.
func TestFlashOnTheSyncInstant(t *testing.T) {
	sec := time.Date(2026, 12, 1, 14, 0, 7, 0, time.UTC)
	for _, style := range []Style{StyleMaster, StyleViewer} {
		g := New(320, 240, 30, style)
		g.SetSyncMarks(true)
		plain := New(320, 240, 30, style)
		g.start, plain.start = sec, sec
		for ms := -50; ms < 2000; ms += 7 {
			at := sec.Add(time.Duration(ms) * time.Millisecond)
			want := syncPhase(at) < FlashDuration
			if got := ReadFlash(g.Frame(uint32(ms), at)); got != want {
				t.Errorf("%s at +%d ms: ReadFlash %v, want %v", style, ms, got, want)
			}
			if ReadFlash(plain.Frame(uint32(ms), at)) {
				t.Errorf("%s at +%d ms: a pattern without marks reads as a flash", style, ms)
			}
		}
	}
	g := New(640, 360, 30, StyleMaster)
	g.SetSyncMarks(true)
	at := sec.Add(1037 * time.Millisecond)
	img := g.Frame(1, at)
	stamp, ok := ReadStamp(img)
	if !ok || !ReadFlash(img) {
		t.Fatalf("flash frame: stamp read %v, flash %v", ok, ReadFlash(img))
	}
	// The reader's clock may be hours off the master's: the phase comes from the stamp.
	for _, skew := range []time.Duration{0, 3 * time.Second, -time.Hour, 2 * time.Hour} {
		if got := SyncPhase(stamp, at.Add(80*time.Millisecond+skew)); got != 37*time.Millisecond {
			t.Errorf("reader clock %s off: SyncPhase %s, want 37ms", skew, got)
		}
	}
	// A frame rate below 10 fps flashes for one frame interval, so no flash falls between frames.
	slow := New(320, 240, 5, StyleMaster)
	slow.SetSyncMarks(true)
	if !ReadFlash(slow.Frame(0, sec.Add(190*time.Millisecond))) {
		t.Error("at 5 fps, a frame 190 ms after the second does not flash")
	}
}

// TestReadFlashBadInput: tiny or empty images are no flash, and do not panic.
func TestReadFlashBadInput(t *testing.T) {
	g := New(0, 0, 30, StyleMaster) // the smallest pattern
	g.SetSyncMarks(true)
	f := g.Frame(0, time.Unix(5, 0))
	if !ReadFlash(f) {
		t.Error("the smallest pattern's flash is not read")
	}
	f.Rect.Max.Y = 10
	if ReadFlash(f) {
		t.Error("a 10-row image reads as a flash")
	}
	if ReadFlash(image.NewRGBA(image.Rect(0, 0, 0, 0))) {
		t.Error("an empty image reads as a flash")
	}
}

// toneAt returns chunks chunks of a beeping mono tone whose first sample is at from (one chunk
// read every ToneChunk).
func toneAt(offset time.Duration, from time.Time, chunks int) []int16 {
	tone := NewTone(440, 48000, 1)
	defer tone.Close()
	tone.SetBeeps(offset)
	var out []int16
	buf := make([]int16, 960)
	for i := range chunks {
		tone.fill(buf, from.Add(time.Duration(i+1)*ToneChunk))
		out = append(out, buf...)
	}
	return out
}

// TestBeepOnTheSyncInstant: the tone beeps on the second, shifted by its offset (either
// sign), and the detector finds each onset to within 0.2 ms, in chunks of any size, and never
// in the plain tone.
func TestBeepOnTheSyncInstant(t *testing.T) {
	from := time.Date(2026, 12, 1, 14, 0, 6, 503_000_000, time.UTC)
	for _, offset := range []time.Duration{0, 120 * time.Millisecond, -120 * time.Millisecond, 7 * time.Millisecond} {
		pcm := toneAt(offset, from, 150) // 3 s
		for _, chunk := range []int{960, 480, 37} {
			d := NewBeepDetector(48000)
			var onsets []time.Time
			for i := 0; i < len(pcm); i += chunk {
				end := min(i+chunk, len(pcm))
				onsets = d.Write(pcm[i:end], 1, from.Add(time.Duration(i)*time.Second/48000), onsets)
			}
			if len(onsets) != 3 {
				t.Fatalf("offset %s, chunks of %d: %d onsets %v, want 3", offset, chunk, len(onsets), onsets)
			}
			for _, o := range onsets {
				if p := syncPhase(o.Add(-offset)); p > 200*time.Microsecond {
					t.Errorf("offset %s, chunks of %d: onset %s is %s after its instant, want within 0.2 ms",
						offset, chunk, o.Format("15:04:05.000000"), p)
				}
			}
		}
	}
	plain := NewTone(440, 48000, 2)
	defer plain.Close()
	buf := make([]int16, 1920)
	d := NewBeepDetector(48000)
	for i := range 100 {
		plain.fill(buf, from.Add(time.Duration(i)*ToneChunk))
		if got := d.Write(buf, 2, from, nil); len(got) > 0 {
			t.Fatalf("the plain tone beeps at %v", got)
		}
	}
}

// TestBeepDetectorIgnoresOtherLoudSounds: a loud tone at another frequency, and clipped
// noise, are not beeps.
func TestBeepDetectorIgnoresOtherLoudSounds(t *testing.T) {
	loud := make([]int16, 48000)
	for i := range loud {
		loud[i] = int16(0.9 * math.MaxInt16 * math.Sin(2*math.Pi*300*float64(i)/48000))
	}
	if got := NewBeepDetector(48000).Write(loud, 1, time.Unix(0, 0), nil); len(got) > 0 {
		t.Errorf("a loud 300 Hz tone reads as %d beeps", len(got))
	}
	square := make([]int16, 48000)
	for i := range square {
		square[i] = math.MaxInt16
		if (i/7)%2 == 0 {
			square[i] = -math.MaxInt16
		}
	}
	if got := NewBeepDetector(0).Write(square, 1, time.Unix(0, 0), nil); len(got) > 0 {
		t.Errorf("a loud 3.4 kHz square wave reads as %d beeps", len(got))
	}
	if got := NewBeepDetector(48000).Write(nil, 0, time.Unix(0, 0), nil); len(got) > 0 {
		t.Error("no samples give a beep")
	}
}
