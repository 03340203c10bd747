package capture

import "sync/atomic"

// Counters of open Locals, for QA ("capture devices open" after a teardown).
var openLocals, openBackground, openCameras, openMics atomic.Int64

// OpenCount returns the number of Locals opened and not yet closed, in this process, other
// than Background ones.
func OpenCount() int { return int(openLocals.Load()) }

// BackgroundCount returns the number of Background Locals opened and not yet closed.
func BackgroundCount() int { return int(openBackground.Load()) }

// count adds delta (1 at Open, -1 at Close) to the counters l counts in.
func (l *Local) count(delta int64) {
	if l.background {
		openBackground.Add(delta)
	} else {
		openLocals.Add(delta)
	}
	if l.hasCamera() {
		openCameras.Add(delta)
	}
	if l.hasMic() {
		openMics.Add(delta)
	}
}

// OpenDevices returns the number of Locals opened and not yet closed, and how many of them hold
// a camera and a microphone.
func OpenDevices() (locals, cameras, mics int) {
	return int(openLocals.Load()), int(openCameras.Load()), int(openMics.Load())
}
