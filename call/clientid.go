package call

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// idPolicy hands out viewer ClientIds so that no id is reused within the
// service's cooldown (an offer from an id reused within about 60 s goes
// unanswered) while the number of distinct ids stays bounded (fresh ids on
// every reconnect leave stale viewer sessions that fill the channel's ten
// viewer slots).
type idPolicy struct {
	cfg ClientIDConfig

	mu      sync.Mutex
	entries []idEntry
}

type idEntry struct {
	ID         string    `json:"id"`
	LastClosed time.Time `json:"last_closed"`
	inUse      bool
}

func newIDPolicy(cfg ClientIDConfig) (*idPolicy, error) {
	p := &idPolicy{cfg: cfg}
	if cfg.StorePath == "" || cfg.Policy != PolicyPool {
		return p, nil
	}
	raw, err := os.ReadFile(cfg.StorePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read ClientId pool: %w", err)
	}
	if err := json.Unmarshal(raw, &p.entries); err != nil {
		// A damaged pool file is not worth failing a call over: start a new pool.
		p.entries = nil
	}
	return p, nil
}

// acquire returns the id for the next attempt, or how long to wait until one
// is out of its cooldown. notice is set when the user should be told something.
func (p *idPolicy) acquire(now time.Time) (id string, wait time.Duration, notice string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cool := p.cfg.Cooldown
	switch p.cfg.Policy {
	case PolicyFresh:
		return p.newID(), 0, ""
	case PolicyFixed:
		e := p.entry(p.cfg.ID)
		if e.inUse {
			// The previous session still closes: its cooldown starts when it is gone.
			return "", 100 * time.Millisecond, ""
		}
		if left := e.LastClosed.Add(cool).Sub(now); cool > 0 && left > 0 {
			if !p.cfg.NoWait {
				return "", left, fmt.Sprintf("ClientId %s was used %s ago; waiting out the %s cooldown", p.cfg.ID, now.Sub(e.LastClosed).Round(time.Second), cool)
			}
			notice = fmt.Sprintf("ClientId %s was used %s ago: the service may not answer this offer", p.cfg.ID, now.Sub(e.LastClosed).Round(time.Second))
		}
		e.inUse = true
		return e.ID, 0, notice
	}
	// pool: a new id while the pool is not full, so consecutive sessions never
	// share an id (a late answer to the previous session's offer cannot reach
	// the next); then the least recently closed free id out of its cooldown.
	if len(p.entries) < p.cfg.PoolSize {
		p.entries = append(p.entries, idEntry{ID: p.newID(), inUse: true})
		return p.entries[len(p.entries)-1].ID, 0, ""
	}
	best := -1
	var soonest time.Duration = -1
	for i := range p.entries {
		e := &p.entries[i]
		if e.inUse {
			continue
		}
		if left := e.LastClosed.Add(cool).Sub(now); cool > 0 && left > 0 {
			if soonest < 0 || left < soonest {
				soonest = left
			}
			continue
		}
		if best < 0 || e.LastClosed.Before(p.entries[best].LastClosed) {
			best = i
		}
	}
	if best < 0 {
		if soonest < 0 {
			// Every id is in use by a session still closing: retry shortly.
			soonest = 100 * time.Millisecond
		}
		return "", soonest, fmt.Sprintf("all %d pooled ClientIds are in their %s cooldown", p.cfg.PoolSize, cool)
	}
	p.entries[best].inUse = true
	return p.entries[best].ID, 0, ""
}

// release marks id closed at now and persists the pool.
func (p *idPolicy) release(id string, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.Policy == PolicyFresh {
		return nil
	}
	e := p.entry(id)
	e.inUse = false
	e.LastClosed = now
	return p.save()
}

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

func (p *idPolicy) save() error {
	if p.cfg.StorePath == "" || p.cfg.Policy != PolicyPool {
		return nil
	}
	raw, err := json.MarshalIndent(p.entries, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ClientId pool: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p.cfg.StorePath), 0o700); err != nil {
		return fmt.Errorf("save ClientId pool: %w", err)
	}
	tmp := p.cfg.StorePath + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("save ClientId pool: %w", err)
	}
	if err := os.Rename(tmp, p.cfg.StorePath); err != nil {
		return fmt.Errorf("save ClientId pool: %w", err)
	}
	return nil
}
