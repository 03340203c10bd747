package x264

import (
	"bytes"
	"strings"
	"testing"

	mdx264 "github.com/pion/mediadevices/pkg/codec/x264"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/kvsviewer/kvsviewer/internal/stderrtest"
)

// threadOptions are the settings that follow from the thread count, which
// differs from mediadevices' on purpose up to 720p.
var threadOptions = map[string]bool{"threads": true, "lookahead_threads": true, "sliced_threads": true, "slices": true}

// withoutThreads returns opts without threadOptions, and the thread count.
func withoutThreads(opts string) (rest, threads string) {
	var kept []string
	for _, f := range strings.Fields(opts) {
		k, v, _ := strings.Cut(f, "=")
		if k == "threads" {
			threads = v
		}
		if !threadOptions[k] {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " "), threads
}

// x264Options returns the settings x264 writes into the SEI of the first IDR
// ("x264 - core ... - options: cabac=0 ref=1 ..."), "" if there is none.
func x264Options(b []byte) string {
	i := bytes.Index(b, []byte("x264 - core"))
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(b[i:], 0)
	if j < 0 {
		return ""
	}
	return string(b[i : i+j])
}

// TestSameSettingsAsMediadevices: the encoder runs x264 with exactly the
// settings of mediadevices' encoder, which it replaces (preset, tune, profile,
// rate control, VBV, keyframe interval...), as x264 itself lists them, but for
// the thread count: one thread up to 720p.
// (The frames cannot be compared: with sliced threads and VBV, x264's output
// differs from run to run.)
func TestSameSettingsAsMediadevices(t *testing.T) {
	for _, sz := range [][2]int{{320, 240}, {1280, 720}} {
		w, h := sz[0], sz[1]
		m := prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}}
		var theirs, ours []byte
		// mediadevices' encoder logs on stderr.
		stderrtest.Capture(t, func() {
			mp, err := mdx264.NewParams()
			if err != nil {
				t.Error(err)
				return
			}
			mp.Preset, mp.KeyFrameInterval, mp.BitRate = mdx264.PresetUltrafast, 60, 1_500_000
			enc, err := mp.BuildVideoEncoder(source(w, h), m)
			if err != nil {
				t.Error(err)
				return
			}
			theirs = next(t, enc)
			_ = enc.Close()
		})
		op, err := NewParams()
		if err != nil {
			t.Fatal(err)
		}
		op.Preset, op.KeyFrameInterval, op.BitRate = PresetUltrafast, 60, 1_500_000
		enc, err := op.BuildVideoEncoder(source(w, h), m)
		if err != nil {
			t.Fatal(err)
		}
		ours = next(t, enc)
		_ = enc.Close()
		a, _ := withoutThreads(x264Options(theirs))
		b, threads := withoutThreads(x264Options(ours))
		if a == "" || a != b {
			t.Fatalf("%dx%d: x264 settings differ:\nmediadevices: %s\nours:         %s", w, h, a, b)
		}
		if threads != "1" {
			t.Errorf("%dx%d: x264 runs %q threads, want 1", w, h, threads)
		}
	}
}
