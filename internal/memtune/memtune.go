// Package memtune hands the C heap's free memory back to the OS once the app
// is idle, not after every call. The codecs (x264, libvpx, FFmpeg, Opus)
// allocate and free large buffers on every call; trimming the heap after each
// teardown made the next call fault all of them in again, which cost about 30
// ms of the time to first frame in a demo QA run on this machine's
// paravirtualised memory (see the issue 13 notes). A call that follows
// within IdleDelay reuses the memory as it is; an app left alone shrinks, and
// so does one making calls back to back, every TrimEvery calls.
//
// Importing the package (app/main.go does) also sets two glibc malloc
// options before any Go code or thread runs; an explicit MALLOC_ARENA_MAX or
// MALLOC_MMAP_THRESHOLD_ wins:
//   - at most two arenas: glibc gives each thread group its own arena, memory
//     freed in one is not reused by another, and the codecs allocate on many
//     threads;
//   - blocks of 2 MiB or more are mapped on their own, so they
//     go back to the OS when freed. x264 allocates its frame buffers of 1.75
//     MiB and more with 2 MiB alignment (for huge pages); carved from the
//     heap, every encoder left holes that the next one's aligned blocks did
//     not fit, and a demo QA run's RSS after teardown climbed from 91 to 210
//     MB over 60 cycles. With the threshold fixed it stays within 105-124 MB.
package memtune

/*
#include <malloc.h>
#include <stdlib.h>

__attribute__((constructor)) static void kv_tune_malloc(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) {
		// 2 MiB: an x264 buffer aligned to 2 MiB is asked of the heap as
		// its size plus the alignment, so every one of them is mapped.
		mallopt(M_MMAP_THRESHOLD, 2 << 20);
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

// TrimEvery is how many calls may end between two trims: calls that follow
// each other without a pause (Reconnect, QA) would otherwise never let the
// heap be trimmed. Since big blocks are mapped on their own, what it hands
// back is small: a 200-cycle demo QA run's RSS after teardown stayed within
// 99-125 MB with it and 125-131 MB without.
const TrimEvery = 20

var idle = struct {
	mu    sync.Mutex
	delay time.Duration
	calls int // calls running
	ended int // calls ended since the last trim
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

// End notes that a call begun with Begin has been torn down. Every
// TrimEvery-th one trims the C heap at once; otherwise, when it was the last
// call running, the heap is trimmed after IdleDelay unless another begins.
func End() {
	idle.mu.Lock()
	idle.calls = max(idle.calls-1, 0)
	idle.ended++
	now := idle.ended >= TrimEvery
	switch {
	case now:
		idle.ended = 0
	case idle.calls > 0:
	case idle.timer == nil:
		idle.timer = time.AfterFunc(idle.delay, trimIfIdle)
	default:
		idle.timer.Reset(idle.delay)
	}
	idle.mu.Unlock()
	if now {
		trim()
	}
}

// trimIfIdle returns the C heap's free memory to the OS unless a call runs.
func trimIfIdle() {
	idle.mu.Lock()
	calls := idle.calls
	if calls == 0 {
		idle.ended = 0
	}
	idle.mu.Unlock()
	if calls == 0 {
		trim()
	}
}

// trim returns the C heap's free memory to the OS. It runs without idle.mu:
// malloc_trim takes milliseconds, and a call beginning meanwhile (a
// Reconnect's next session) must not wait for it in Begin.
func trim() {
	C.kv_trim()
	idle.mu.Lock()
	idle.trims++
	idle.mu.Unlock()
}
