package call

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func acquireOK(t *testing.T, p *idPolicy, now time.Time) string {
	t.Helper()
	g, err := p.acquire(now)
	if err != nil || g.wait != 0 || g.id == "" {
		t.Fatalf("acquire: %+v %v", g, err)
	}
	return g.id
}

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
		id := acquireOK(t, p, now)
		if id == last {
			t.Fatalf("acquire %d: id %q repeats the last one", i, id)
		}
		seen[id] = true
		if err := p.release(id, now, true); err != nil {
			t.Fatal(err)
		}
		last = id
		now = now.Add(time.Second)
	}
	// All three closed within the last minute and the pool is at its bound: wait.
	g, err := p.acquire(now)
	if err != nil || g.id != "" || g.wait <= 0 || g.wait > time.Minute || g.notice == "" {
		t.Fatalf("exhausted pool gave %+v %v", g, err)
	}
	// After the cooldown of the oldest, that one comes back, and only ids of the pool.
	now = now.Add(g.wait)
	if id := acquireOK(t, p, now); !seen[id] {
		t.Fatalf("after the cooldown: id %q, want a pooled id", id)
	}
	// The pool survives a restart.
	q, err := newIDPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(q.store.load()); n != 3 {
		t.Fatalf("reloaded pool has %d ids, want 3", n)
	}
}

// TestPoolGrowsRatherThanWait: quick cycles never wait for a cooldown while
// the pool can grow (an id closed cleanly holds no viewer slot).
func TestPoolGrowsRatherThanWait(t *testing.T) {
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 64, Cooldown: time.Minute})
	now := time.Unix(1_000_000, 0)
	seen := map[string]bool{}
	for i := range 64 {
		id := acquireOK(t, p, now)
		if seen[id] {
			t.Fatalf("cycle %d reused %s within its cooldown", i, id)
		}
		seen[id] = true
		_ = p.release(id, now, true)
		now = now.Add(500 * time.Millisecond)
	}
	if g, _ := p.acquire(now); g.wait == 0 {
		t.Fatalf("a 65th id within the cooldown of all 64: %+v, want a wait", g)
	}
}

// TestFullChannelReusesAStaleID: when the channel refuses a new viewer, the
// pool reuses an id past its cooldown, the one that closed uncleanly first
// (it replaces its own stale session), and never one within its cooldown.
func TestFullChannelReusesAStaleID(t *testing.T) {
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 64, Cooldown: time.Minute})
	now := time.Unix(1_000_000, 0)
	clean, stale, recent := acquireOK(t, p, now), acquireOK(t, p, now), acquireOK(t, p, now)
	_ = p.release(clean, now, true)
	_ = p.release(stale, now.Add(time.Second), false)
	_ = p.release(recent, now.Add(90*time.Second), false)
	p.channelFull(true)
	now = now.Add(100 * time.Second)
	if id := acquireOK(t, p, now); id != stale {
		t.Fatalf("channel full: got %s, want the stale id %s (clean %s, recent %s)", id, stale, clean, recent)
	}
	if id := acquireOK(t, p, now); id != clean {
		t.Fatalf("channel full, second: got %s, want the clean id %s past its cooldown", id, clean)
	}
	if g, _ := p.acquire(now); g.wait <= 0 || g.id != "" {
		t.Fatalf("channel full, only an id within its cooldown left: %+v, want a wait", g)
	}
	p.channelFull(false)
	if id := acquireOK(t, p, now); id == recent {
		t.Fatal("the pool reused an id within its cooldown")
	}
}

func TestFixedPolicyWaitsOrWarns(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyFixed, ID: "me", Cooldown: time.Minute})
	if id := acquireOK(t, p, now); id != "me" {
		t.Fatalf("first use: %q", id)
	}
	_ = p.release("me", now, true)
	if g, _ := p.acquire(now.Add(10 * time.Second)); g.id != "" || g.wait != 50*time.Second || g.notice == "" {
		t.Fatalf("within the cooldown: %+v", g)
	}
	p.cfg.NoWait = true
	if g, _ := p.acquire(now.Add(10 * time.Second)); g.id != "me" || g.wait != 0 || g.notice == "" {
		t.Fatalf("no-wait within the cooldown: %+v", g)
	}
}

func TestFreshPolicyNeverRepeats(t *testing.T) {
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyFresh, ID: "qa"})
	a, b := acquireOK(t, p, time.Now()), acquireOK(t, p, time.Now())
	if a == b || !strings.HasPrefix(a, "qa-") {
		t.Fatalf("fresh ids %q %q", a, b)
	}
}

func TestDamagedPoolFileStartsANewPool(t *testing.T) {
	store := filepath.Join(t.TempDir(), "ids.json")
	if err := os.WriteFile(store, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 2, Cooldown: time.Minute, StorePath: store})
	if err != nil {
		t.Fatalf("damaged pool file: %v", err)
	}
	acquireOK(t, p, time.Now())
}

// TestPoolSharedByTwoProcesses: two processes taking ids from one pool file
// at once (a window and a QA run) never hold the same id.
func TestPoolSharedByTwoProcesses(t *testing.T) {
	if os.Getenv("POOL_HELPER_STORE") != "" {
		t.Skip("helper process")
	}
	// A full pool of 40 ids past their cooldown: each process must reuse,
	// and the two must not pick the same ones.
	store := filepath.Join(t.TempDir(), "ids.json")
	var entries []idEntry
	for i := range 40 {
		entries = append(entries, idEntry{ID: fmt.Sprintf("viewer-%02d", i), LastClosed: time.Unix(1_000_000, 0)})
	}
	if err := (&idStore{path: store}).save(entries); err != nil {
		t.Fatal(err)
	}
	outs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestPoolHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "POOL_HELPER_STORE="+store)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("helper %d: %v\n%s", i, err, out)
			}
			outs[i] = string(out)
		}()
	}
	wg.Wait()
	held := map[string]int{}
	for i, out := range outs {
		n := 0
		for _, line := range strings.Split(out, "\n") {
			if id, ok := strings.CutPrefix(line, "HELD "); ok {
				n++
				if other, dup := held[id]; dup {
					t.Fatalf("both processes held %s (helper %d and %d)", id, other, i)
				}
				held[id] = i
			}
		}
		if n != 20 {
			t.Fatalf("helper %d held %d ids, want 20:\n%s", i, n, out)
		}
	}
}

// TestPoolHelperProcess is one of TestPoolSharedByTwoProcesses's processes:
// it takes 20 ids from the shared pool and holds them for a while.
func TestPoolHelperProcess(t *testing.T) {
	store := os.Getenv("POOL_HELPER_STORE")
	if store == "" {
		t.Skip("run by TestPoolSharedByTwoProcesses")
	}
	p, err := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 40, Cooldown: time.Minute, StorePath: store})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		fmt.Printf("HELD %s\n", acquireOK(t, p, time.Now()))
	}
	// Hold them while the other process takes its own (an exited process's
	// ids are free again).
	time.Sleep(2 * time.Second)
}

// TestRefusedAtTheDoorStartsNoCooldown: an id the channel refused (viewer
// limit) never had a session, so giving it back starts no cooldown (one
// viewer of a multi-viewer QA run waited 60 s for its own refused id); and
// with the channel full, an id that had a session is reused before it.
func TestRefusedAtTheDoorStartsNoCooldown(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	p, _ := newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 1, Cooldown: time.Minute})
	refused := acquireOK(t, p, now)
	p.channelFull(true)
	p.refusedAtTheDoor(refused)
	_ = p.release(refused, now, true)
	if g, _ := p.acquire(now); g.id != refused || g.wait != 0 {
		t.Fatalf("after a refusal: %+v, want %s again at once", g, refused)
	}
	_ = p.release(refused, now, true) // this time it had a session
	if g, _ := p.acquire(now.Add(time.Second)); g.id != "" || g.wait <= 0 {
		t.Fatalf("after a session: %+v, want a wait for its cooldown", g)
	}

	p, _ = newIDPolicy(ClientIDConfig{Policy: PolicyPool, PoolSize: 2, Cooldown: time.Minute})
	old := acquireOK(t, p, now)
	_ = p.release(old, now, true)
	later := now.Add(2 * time.Minute)
	fresh := acquireOK(t, p, later)
	p.channelFull(true)
	p.refusedAtTheDoor(fresh)
	_ = p.release(fresh, later, true)
	if id := acquireOK(t, p, later); id != old {
		t.Fatalf("channel full: got %s, want %s, which may replace its stale session (not the refused %s)", id, old, fresh)
	}
}
