package qa

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
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
	// RSS counts what the process keeps, not garbage the collector has yet to
	// return: collect and hand free memory back to the OS before reading it.
	debug.FreeOSMemory()
	return g, f, rssKB()
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
