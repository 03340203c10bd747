package memtune

import (
	"testing"
	"time"
)

func trims() int {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	return idle.trims
}

// TestTrimOnlyWhenIdle: the heap is trimmed once the delay has passed with no
// call running, not while one runs, and a call that begins within the delay
// puts the trim off.
func TestTrimOnlyWhenIdle(t *testing.T) {
	idle.mu.Lock()
	idle.delay = 50 * time.Millisecond
	idle.ended = 0 // no every-TrimEvery trim within this test, whatever ran before
	idle.mu.Unlock()
	before := trims()

	Begin()
	Begin()
	End() // one call still runs
	time.Sleep(150 * time.Millisecond)
	if n := trims() - before; n != 0 {
		t.Fatalf("%d trims while a call ran", n)
	}
	End()
	time.Sleep(20 * time.Millisecond)
	Begin() // the next call, within the delay
	time.Sleep(150 * time.Millisecond)
	if n := trims() - before; n != 0 {
		t.Fatalf("%d trims, though a call began within the delay", n)
	}
	End()
	deadline := time.Now().Add(5 * time.Second)
	for trims()-before != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := trims() - before; n != 1 {
		t.Fatalf("%d trims after the app went idle, want 1", n)
	}
}

// TestTrimEveryNCalls: calls back to back, with another one running all the
// time, still trim the heap once every TrimEvery calls.
func TestTrimEveryNCalls(t *testing.T) {
	Begin() // runs throughout: the app is never idle
	defer End()
	before := trims()
	for range 2*TrimEvery + 1 {
		Begin()
		End()
	}
	if n := trims() - before; n != 2 {
		t.Fatalf("%d trims over %d calls, want 2 (one every %d)", n, 2*TrimEvery+1, TrimEvery)
	}
}

// TestBigBlocksAreMappedOnTheirOwn: an x264-sized frame buffer with 2 MiB
// alignment is mapped on its own, also after a bigger block was freed (which
// would raise glibc's default, dynamic threshold above it); small blocks
// still come from the heap.
func TestBigBlocksAreMappedOnTheirOwn(t *testing.T) {
	const mib = 1 << 20
	for _, b := range []struct {
		name        string
		align, size int
		mapped      bool
	}{
		{"a 6 MiB block", 64, 6 * mib, true},
		{"an x264 frame buffer after it", 2 * mib, 1835008, true},
		{"a 1 MiB block", 64, mib, false},
		{"a 64 KiB block", 64, 64 << 10, false},
	} {
		mapped, err := blockMapped(b.align, b.size)
		if err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		if mapped != b.mapped {
			t.Errorf("%s: mapped on its own %v, want %v", b.name, mapped, b.mapped)
		}
	}
}
