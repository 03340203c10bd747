package master

import (
	"strings"
	"testing"
	"time"

	"github.com/kvsviewer/kvsviewer/media/pattern"
)

// TestAVOffsetBounds: the master takes an A/V offset up to pattern.MaxBeepOffset either way,
// and refuses a larger one in words rather than sending beeps nearer the wrong flash.
func TestAVOffsetBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 120 * time.Millisecond, -120 * time.Millisecond, pattern.MaxBeepOffset, -pattern.MaxBeepOffset} {
		o, err := Options{Channel: "c", AVOffset: d}.withDefaults()
		if err != nil || o.AVOffset != d {
			t.Errorf("offset %s: %v (kept %s)", d, err, o.AVOffset)
		}
		if co := o.captureOptions(nil); !co.SyncMarks || co.AVOffset != d {
			t.Errorf("offset %s: the capture options have sync marks %v, offset %s", d, co.SyncMarks, co.AVOffset)
		}
	}
	for _, d := range []time.Duration{pattern.MaxBeepOffset + time.Millisecond, -time.Second} {
		if _, err := (Options{Channel: "c", AVOffset: d}).withDefaults(); err == nil || !strings.Contains(err.Error(), "A/V offset") {
			t.Errorf("offset %s: error %v, want one about the A/V offset", d, err)
		}
	}
}
