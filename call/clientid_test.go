package call

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPoolNeverReusesWithinCooldownAndStaysBounded(t *testing.T) {
	store := filepath.Join(t.TempDir(), "ids.json")
	cfg := ClientIDConfig{Policy: PolicyPool, PoolSize: 3, Cooldown: time.Minute, StorePath: store}
	p, err := newIDPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	seen := map[string]bool{}
	var last string
	for i := 0; i < 3; i++ {
		id, wait, _ := p.acquire(now)
		if wait != 0 || id == "" || id == last {
			t.Fatalf("acquire %d: id %q wait %s (last %q)", i, id, wait, last)
		}
		seen[id] = true
		if err := p.release(id, now); err != nil {
			t.Fatal(err)
		}
		last = id
		now = now.Add(time.Second)
	}
	// All three closed within the last minute: the pool must wait, not grow.
	id, wait, notice := p.acquire(now)
	if id != "" || wait <= 0 || wait > time.Minute || notice == "" {
		t.Fatalf("exhausted pool gave id %q wait %s notice %q", id, wait, notice)
	}
	// After the cooldown of the oldest, that one comes back, and only ids of the pool.
	now = now.Add(wait)
	id, wait, _ = p.acquire(now)
	if wait != 0 || !seen[id] {
		t.Fatalf("after the cooldown: id %q wait %s, want a pooled id", id, wait)
	}
	// The pool survives a restart.
	q, err := newIDPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.entries) != 3 {
		t.Fatalf("reloaded pool has %d ids, want 3", len(q.entries))
	}
}

func TestFixedPolicyWaitsOrWarns(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyFixed, ID: "me", Cooldown: time.Minute})
	if id, wait, _ := p.acquire(now); id != "me" || wait != 0 {
		t.Fatalf("first use: %q %s", id, wait)
	}
	_ = p.release("me", now)
	if id, wait, notice := p.acquire(now.Add(10 * time.Second)); id != "" || wait != 50*time.Second || notice == "" {
		t.Fatalf("within the cooldown: id %q wait %s notice %q", id, wait, notice)
	}
	p.cfg.NoWait = true
	if id, wait, notice := p.acquire(now.Add(10 * time.Second)); id != "me" || wait != 0 || notice == "" {
		t.Fatalf("no-wait within the cooldown: id %q wait %s notice %q", id, wait, notice)
	}
}

func TestFreshPolicyNeverRepeats(t *testing.T) {
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyFresh, ID: "qa"})
	a, _, _ := p.acquire(time.Now())
	b, _, _ := p.acquire(time.Now())
	if a == b || len(a) < 4 || a[:3] != "qa-" {
		t.Fatalf("fresh ids %q %q", a, b)
	}
}

func TestDamagedPoolFileStartsANewPool(t *testing.T) {
	store := filepath.Join(t.TempDir(), "ids.json")
	if err := writeFile(store, "{not json"); err != nil {
		t.Fatal(err)
	}
	p, err := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 2, Cooldown: time.Minute, StorePath: store})
	if err != nil {
		t.Fatalf("damaged pool file: %v", err)
	}
	if id, wait, _ := p.acquire(time.Now()); id == "" || wait != 0 {
		t.Fatalf("acquire from a new pool: %q %s", id, wait)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
