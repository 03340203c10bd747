package memtune

import (
	"runtime/debug"
	"testing"
)

// TestSetGCPercent: the target is set when GOGC is not, and left alone when
// it is.
func TestSetGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "")
	SetGCPercent(30)
	if got := debug.SetGCPercent(100); got != 30 {
		t.Errorf("GOGC unset: the target is %d, want 30", got)
	}

	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	SetGCPercent(30)
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("GOGC=80: the target is %d, want it left at 80", got)
	}
}
