// Package memtune hands the C heap's free memory back to the OS once the app
// is idle, not after every call. The codecs (x264, libvpx, FFmpeg, Opus)
// allocate and free large buffers on every call; trimming the heap after each
// teardown made the next call fault all of them in again, which cost about 30
// ms of the time to first frame in a demo QA run on this machine's
// paravirtualised memory (see the issue 13 notes). A call that follows
// within IdleDelay reuses the memory as it is; an app left alone shrinks.
//
// Importing the package (app/main.go does) also caps glibc at two malloc
// arenas, before any Go code or thread runs: glibc gives each thread group
// its own arena, memory freed in one is not reused by another, and the
// codecs allocate on many threads. An explicit MALLOC_ARENA_MAX wins.
package memtune

/*
#include <malloc.h>
#include <stdlib.h>

__attribute__((constructor)) static void kv_cap_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
}

static void kv_trim(void) { malloc_trim(0); }
*/
import "C"

import (
	"sync"
	"time"
)

// IdleDelay is how long no call may have run before the C heap is trimmed.
const IdleDelay = 5 * time.Second

var idle = struct {
	mu    sync.Mutex
	delay time.Duration
	calls int
	timer *time.Timer
	trims int // trims done (for tests)
}{delay: IdleDelay}

// Begin notes that a call starts: no trim happens until every call begun
// has ended and IdleDelay has passed.
func Begin() {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	idle.calls++
	if idle.timer != nil {
		idle.timer.Stop()
	}
}

// End notes that a call begun with Begin has been torn down; when it was the
// last one, the C heap is trimmed after IdleDelay unless another begins.
func End() {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	idle.calls = max(idle.calls-1, 0)
	if idle.calls > 0 {
		return
	}
	if idle.timer == nil {
		idle.timer = time.AfterFunc(idle.delay, trimIfIdle)
		return
	}
	idle.timer.Reset(idle.delay)
}

// trimIfIdle returns the C heap's free memory to the OS unless a call runs.
func trimIfIdle() {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	if idle.calls == 0 {
		C.kv_trim()
		idle.trims++
	}
}
