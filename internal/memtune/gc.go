package memtune

import (
	"os"
	"runtime/debug"
)

// SetGCPercent sets the Go collector's target (what GOGC sets) to percent,
// unless the environment sets GOGC, which wins. With the default of 100 the
// heap may grow to twice what is live before the next collection.
func SetGCPercent(percent int) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(percent)
}
