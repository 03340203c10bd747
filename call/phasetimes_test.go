package call

import (
	"testing"
	"time"
)

func TestPhaseTimes(t *testing.T) {
	var pt PhaseTimes
	if _, ok := pt.Get(PhaseFirstFrame); ok || pt.Len() != 0 {
		t.Fatal("a new PhaseTimes has a time")
	}
	// A zero duration is a time too (no wait for a ClientId).
	pt.Set(PhaseClientIDWait, 0)
	pt.Set(PhaseFirstFrame, 35*time.Millisecond)
	pt.Set(PhaseFirstFrame, 36*time.Millisecond)
	pt.Set(Phase("no_such_phase"), time.Second)
	if d, ok := pt.Get(PhaseClientIDWait); !ok || d != 0 {
		t.Errorf("client_id_wait: %v %v, want 0 true", d, ok)
	}
	if d, ok := pt.Get(PhaseFirstFrame); !ok || d != 36*time.Millisecond {
		t.Errorf("first_frame: %v %v, want 36ms true", d, ok)
	}
	for _, p := range []Phase{PhaseTeardown, Phase("no_such_phase")} {
		if d, ok := pt.Get(p); ok {
			t.Errorf("%s: %v, want none", p, d)
		}
	}
	if pt.Len() != 2 {
		t.Errorf("Len %d, want 2", pt.Len())
	}
}
