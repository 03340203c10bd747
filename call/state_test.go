package call

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the state diagram in docs/architecture.md")

// TestEveryMoveAgainstTheTable walks every (state, next state) pair: the
// moves the table allows happen, every other one is refused with
// ErrIllegalTransition and leaves the state as it was.
func TestEveryMoveAgainstTheTable(t *testing.T) {
	legal := 0
	for _, from := range States {
		for _, to := range States {
			m := machine{state: from}
			err := m.moveTo(to)
			if CanMove(from, to) {
				legal++
				if err != nil || m.state != to {
					t.Errorf("%s -> %s is in the table but moveTo gave %v (state %s)", from, to, err, m.state)
				}
				continue
			}
			if !errors.Is(err, ErrIllegalTransition) || m.state != from {
				t.Errorf("%s -> %s is not in the table but moveTo gave %v (state %s)", from, to, err, m.state)
			}
		}
	}
	if legal != len(Transitions) {
		t.Errorf("%d legal moves, the table lists %d: a duplicate row?", legal, len(Transitions))
	}
}

// TestLifeCycleHasNoDeadEnds: every state is reached from Idle, every state
// leads back to Idle, and the user can leave every state.
func TestLifeCycleHasNoDeadEnds(t *testing.T) {
	reach := func(from State, next func(State) []State) map[State]bool {
		seen := map[State]bool{from: true}
		for todo := []State{from}; len(todo) > 0; {
			s := todo[0]
			todo = todo[1:]
			for _, n := range next(s) {
				if !seen[n] {
					seen[n] = true
					todo = append(todo, n)
				}
			}
		}
		return seen
	}
	forward := func(s State) (out []State) {
		for _, tr := range Transitions {
			if tr.From == s {
				out = append(out, tr.To)
			}
		}
		return out
	}
	backward := func(s State) (out []State) {
		for _, tr := range Transitions {
			if tr.To == s {
				out = append(out, tr.From)
			}
		}
		return out
	}
	fromIdle, toIdle := reach(StateIdle, forward), reach(StateIdle, backward)
	for _, s := range States {
		if !fromIdle[s] {
			t.Errorf("%s cannot be reached from Idle", s)
		}
		if !toIdle[s] {
			t.Errorf("%s never leads back to Idle", s)
		}
		if s != StateIdle && !CanMove(s, StateClosing) && !CanMove(s, StateIdle) {
			t.Errorf("the user cannot leave %s: neither Closing nor Idle follows it", s)
		}
	}
}

// stateDiagram draws Transitions as a Mermaid state diagram.
func stateDiagram() string {
	id := func(s State) string { return strings.ReplaceAll(s.String(), " ", "") }
	var b strings.Builder
	b.WriteString("```mermaid\nstateDiagram-v2\n")
	for _, s := range States {
		if id(s) != s.String() {
			fmt.Fprintf(&b, "    state \"%s\" as %s\n", s, id(s))
		}
	}
	b.WriteString("    [*] --> Idle\n")
	for _, tr := range Transitions {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", id(tr.From), id(tr.To), tr.Cause)
	}
	b.WriteString("```\n")
	return b.String()
}

// TestArchitectureDiagramMatchesTable keeps docs/architecture.md's state
// diagram equal to the table (go test -run Diagram -update-docs rewrites it).
func TestArchitectureDiagramMatchesTable(t *testing.T) {
	const begin, end = "<!-- state-diagram:begin (generated from call/state.go by TestArchitectureDiagramMatchesTable) -->\n", "<!-- state-diagram:end -->"
	path := filepath.Join("..", "docs", "architecture.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated state diagram between %q and %q", path, begin, end)
	}
	want := stateDiagram()
	if got := doc[i+len(begin) : j]; got != want {
		if *updateDocs {
			doc = doc[:i+len(begin)] + want + doc[j:]
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the state diagram in %s differs from call/state.go's table; rerun with -update-docs.\nwant:\n%s", path, want)
	}
}
