package pattern

// kicker lets a paced source (Generator, Tone) return its next frame or
// chunk at once. Its Read selects on it beside the ticker, and restarts the
// pacing from there when it fires.
type kicker chan struct{}

func newKicker() kicker { return make(kicker, 1) }

// Kick makes a Read waiting for the next frame or chunk time return one at
// once: the keyframe a receiver waits for, or the read a writer being stopped
// is in; the pacing restarts from there. Safe from any goroutine; kicks while
// one is pending coalesce.
func (k kicker) Kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}
