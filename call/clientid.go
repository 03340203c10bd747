package call

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// idPolicy hands out viewer ClientIds so that no id is reused within the
// service's cooldown (an offer from an id reused within about 60 s goes
// unanswered) while the number of distinct ids stays bounded (fresh ids on
// every reconnect leave stale viewer sessions that fill the channel's ten
// viewer slots).
//
// The pool grows rather than make a caller wait: an id whose session closed
// cleanly holds no viewer slot, so a new one costs nothing. It reuses an id
// (past its cooldown) once it holds PoolSize ids, or when the channel refused
// a new viewer: a reused id replaces its own stale session, preferably one
// that did not close cleanly.
type idPolicy struct {
	cfg   ClientIDConfig
	store *idStore // the persisted pool; nil keeps it in memory

	mu      sync.Mutex
	entries []idEntry       // the pool when there is no store; the fixed id's record
	inUse   map[string]bool // ids this process holds
	full    bool            // the channel refused a new viewer: reuse before growing
	// refused holds the ids the channel refused at the door (viewer limit):
	// they never had a session there, so their release starts no cooldown.
	refused map[string]bool
}

type idEntry struct {
	ID         string    `json:"id"`
	LastClosed time.Time `json:"last_closed"`
	Unclean    bool      `json:"unclean,omitempty"` // its last session did not close its socket cleanly
	Holder     int       `json:"holder,omitempty"`  // the process id using it now, 0 when free
}

// idGrant is what acquire hands out: an id, or how long to wait for one.
type idGrant struct {
	id     string
	wait   time.Duration
	notice string // something the user should be told
}

func newIDPolicy(cfg ClientIDConfig) (*idPolicy, error) {
	p := &idPolicy{cfg: cfg, inUse: map[string]bool{}}
	if cfg.StorePath != "" && cfg.Policy == PolicyPool {
		s, err := openIDStore(cfg.StorePath)
		if err != nil {
			return nil, err
		}
		p.store = s
	}
	return p, nil
}

// refusedAtTheDoor tells the policy that id's attempt never got a session
// at the service (the channel refused the viewer): the id's cooldown stays
// what it was.
func (p *idPolicy) refusedAtTheDoor(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refused == nil {
		p.refused = map[string]bool{}
	}
	p.refused[id] = true
}

// channelFull tells the policy that the channel refused a new viewer:
// until an attempt gets through, reuse ids (past their cooldown) rather
// than make new ones.
func (p *idPolicy) channelFull(full bool) {
	p.mu.Lock()
	p.full = full
	p.mu.Unlock()
}

// acquire returns the id for the next attempt, or how long to wait until one
// is out of its cooldown.
func (p *idPolicy) acquire(now time.Time) (idGrant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.cfg.Policy {
	case PolicyFresh:
		return idGrant{id: p.newID()}, nil
	case PolicyFixed:
		return p.acquireFixed(now), nil
	}
	var g idGrant
	err := p.update(func(entries []idEntry) []idEntry {
		entries, g = p.pick(entries, now)
		return entries
	})
	return g, err
}

func (p *idPolicy) acquireFixed(now time.Time) idGrant {
	cool := p.cfg.Cooldown
	e := p.entry(p.cfg.ID)
	if p.inUse[e.ID] {
		// The previous session still closes: its cooldown starts when it is gone.
		return idGrant{wait: 100 * time.Millisecond}
	}
	var notice string
	if left := e.LastClosed.Add(cool).Sub(now); cool > 0 && left > 0 {
		ago := now.Sub(e.LastClosed).Round(time.Second)
		if !p.cfg.NoWait {
			return idGrant{wait: left, notice: fmt.Sprintf("ClientId %s was used %s ago; waiting out the %s cooldown", e.ID, ago, cool)}
		}
		notice = fmt.Sprintf("ClientId %s was used %s ago: the service may not answer this offer", e.ID, ago)
	}
	p.inUse[e.ID] = true
	return idGrant{id: e.ID, notice: notice}
}

// pick chooses from the pool: a new id while it can grow (and the channel
// has room), else the least recently closed free id out of its cooldown,
// preferring one whose session did not close cleanly; else it says how long
// until one is free.
func (p *idPolicy) pick(entries []idEntry, now time.Time) ([]idEntry, idGrant) {
	if !p.full && len(entries) < p.cfg.PoolSize {
		id := p.newID()
		p.inUse[id] = true
		return append(entries, idEntry{ID: id, Holder: pid}), idGrant{id: id}
	}
	cool := p.cfg.Cooldown
	best := -1
	var soonest time.Duration = -1
	better := func(a, b idEntry) bool {
		// An id that had a session may replace a stale one; one refused at
		// the door (never closed) cannot.
		if ah, bh := !a.LastClosed.IsZero(), !b.LastClosed.IsZero(); ah != bh {
			return ah
		}
		if a.Unclean != b.Unclean {
			return a.Unclean
		}
		return a.LastClosed.Before(b.LastClosed)
	}
	for i, e := range entries {
		if p.inUse[e.ID] || (e.Holder != 0 && e.Holder != pid && processAlive(e.Holder)) {
			continue
		}
		if left := e.LastClosed.Add(cool).Sub(now); cool > 0 && left > 0 {
			if soonest < 0 || left < soonest {
				soonest = left
			}
			continue
		}
		if best < 0 || better(e, entries[best]) {
			best = i
		}
	}
	if best < 0 {
		if soonest < 0 {
			// Every id is held by a session still closing: retry shortly.
			soonest = 100 * time.Millisecond
		}
		why := fmt.Sprintf("all %d pooled ClientIds are in their %s cooldown", len(entries), cool)
		if p.full {
			why = "the channel has no free viewer slot and every ClientId that could replace a stale session is in its cooldown"
		}
		return entries, idGrant{wait: soonest, notice: why}
	}
	entries[best].Holder = pid
	p.inUse[entries[best].ID] = true
	return entries, idGrant{id: entries[best].ID}
}

// release marks id closed at now (cleanly or not) and persists the pool; an
// id refused at the door is only given back.
func (p *idPolicy) release(id string, now time.Time, clean bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, id)
	refused := p.refused[id]
	delete(p.refused, id)
	closed := func(e *idEntry) {
		if !refused {
			e.LastClosed, e.Unclean = now, !clean
		}
	}
	switch p.cfg.Policy {
	case PolicyFresh:
		return nil
	case PolicyFixed:
		closed(p.entry(id))
		return nil
	}
	return p.update(func(entries []idEntry) []idEntry {
		for i := range entries {
			if entries[i].ID == id {
				closed(&entries[i])
				entries[i].Holder = 0
				return entries
			}
		}
		e := idEntry{ID: id}
		closed(&e)
		return append(entries, e)
	})
}

// update runs f on the pool: the store's, read and written under its file
// lock (another process may share it), or the in-memory one.
func (p *idPolicy) update(f func([]idEntry) []idEntry) error {
	if p.store == nil {
		p.entries = f(p.entries)
		return nil
	}
	return p.store.update(f)
}

// entry returns the in-memory record of id, adding it when missing.
func (p *idPolicy) entry(id string) *idEntry {
	for i := range p.entries {
		if p.entries[i].ID == id {
			return &p.entries[i]
		}
	}
	p.entries = append(p.entries, idEntry{ID: id})
	return &p.entries[len(p.entries)-1]
}

func (p *idPolicy) newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := p.cfg.ID
	if prefix == "" || p.cfg.Policy == PolicyFixed {
		prefix = "viewer"
	}
	return prefix + "-" + hex.EncodeToString(b[:])
}
