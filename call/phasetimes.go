package call

import "time"

// PhaseTimes are the times of a session's phases, as its EventPhase events
// give them (Event.Elapsed). A QA report keeps them for every cycle, so they
// sit in fixed arrays (88 bytes) rather than a map, which weighed about 500.
type PhaseTimes struct {
	at   [len(Phases)]time.Duration
	seen [len(Phases)]bool
}

// Set records p's time. A Phase that is not one of Phases is ignored.
func (t *PhaseTimes) Set(p Phase, d time.Duration) {
	if i := p.index(); i >= 0 {
		t.at[i], t.seen[i] = d, true
	}
}

// Get returns p's time and whether it was recorded.
func (t *PhaseTimes) Get(p Phase) (time.Duration, bool) {
	i := p.index()
	if i < 0 || !t.seen[i] {
		return 0, false
	}
	return t.at[i], true
}

// Len returns how many phases have a time.
func (t *PhaseTimes) Len() int {
	n := 0
	for _, seen := range t.seen {
		if seen {
			n++
		}
	}
	return n
}

// index returns p's place in Phases, or -1.
func (p Phase) index() int {
	for i, q := range Phases {
		if q == p {
			return i
		}
	}
	return -1
}
