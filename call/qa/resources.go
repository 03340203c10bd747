package qa

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// settle measures goroutines, open files and RSS once the counts have stopped
// changing for 200 ms (goroutines of the closed call, and of the demo master's
// side of it, exit asynchronously), waiting 3 s at most.
func settle(ctx context.Context) (int, int, int64) {
	g, f := runtime.NumGoroutine(), openFDs()
	for i, still := 0, 0; i < 120 && still < 8 && ctx.Err() == nil; i++ {
		time.Sleep(25 * time.Millisecond)
		g2, f2 := runtime.NumGoroutine(), openFDs()
		if g2 == g && f2 == f {
			still++ // unchanged for 8 polls (200 ms) in a row: settled
		} else {
			still = 0
		}
		g, f = g2, f2
	}
	// RSS counts what the process keeps: the collection turns garbage into
	// free heap, and the free heap the runtime holds for reuse is left out of
	// the figure. It is not handed back to the OS (debug.FreeOSMemory): the
	// next cycle would fault it in again, and its timings would show that.
	runtime.GC()
	return g, f, rssKB() - goFreeHeapKB()
}

// goFreeHeapKB is the Go heap that is free but still resident (not released to the OS).
func goFreeHeapKB() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() / 1024)
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// rssKB is this process's resident set size.
func rssKB() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return -1
}
