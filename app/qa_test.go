package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInterruptedQAWritesItsReports: Ctrl+C during a long QA run still
// writes the JSON and CSV reports of the cycles measured so far, and the
// command says it was interrupted (exit 1, class "interrupted").
func TestInterruptedQAWritesItsReports(t *testing.T) {
	dir := t.TempDir()
	jsonOut, csvOut := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.csv")
	cmd := exec.Command(bin, "qa", "--demo", "--cycles", "1000", "--hold", "200ms", "--gap", "50ms",
		"--width", "320", "--height", "240", "--json", "--out", jsonOut, "--csv", csvOut)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// Two cycles done, then Ctrl+C; the rest of stdout is drained.
		cycles := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"event":"cycle"`) {
				if cycles++; cycles == 2 {
					_ = cmd.Process.Signal(os.Interrupt)
				}
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("qa did not end within 90 s of its start; stderr:\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatalf("no JSON report after Ctrl+C: %v", err)
	}
	var rep struct {
		Cycles  int              `json:"cycles"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("JSON report is not JSON: %v", err)
	}
	if rep.Cycles < 2 || rep.Cycles >= 1000 || len(rep.Results) != rep.Cycles {
		t.Errorf("report of %d cycles with %d results, want the 2 or more measured before Ctrl+C", rep.Cycles, len(rep.Results))
	}
	fh, err := os.Open(csvOut)
	if err != nil {
		t.Fatalf("no CSV report after Ctrl+C: %v", err)
	}
	defer func() { _ = fh.Close() }()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil || len(rows) != rep.Cycles+1 {
		t.Errorf("CSV: %d rows (%v), want a header and %d cycles", len(rows), err, rep.Cycles)
	}
}

// TestQAWithSeveralViewers: `qa --viewers 3` runs three viewers at once and
// its JSON summary has a line per viewer and the load.
func TestQAWithSeveralViewers(t *testing.T) {
	evs, err := events(t, nil, "qa", "--demo", "--viewers", "3", "--cycles", "2", "--hold", "300ms", "--json", "--width", "320", "--height", "240")
	if err != nil {
		t.Fatalf("qa --viewers 3: %v", err)
	}
	sum := evs[len(evs)-1]
	per, _ := sum["per_viewer"].([]any)
	if sum["event"] != "summary" || sum["cycles"] != 6.0 || sum["ok"] != 6.0 || sum["viewers"] != 3.0 || len(per) != 3 {
		t.Fatalf("summary %v", sum)
	}
	seen := map[float64]int{}
	for _, e := range evs {
		if e["event"] == "cycle" {
			v, _ := e["viewer"].(float64)
			seen[v]++
		}
	}
	if len(seen) != 3 || seen[1] != 2 || seen[2] != 2 || seen[3] != 2 {
		t.Errorf("cycle events per viewer %v, want 2 for each of 1, 2, 3", seen)
	}
	if load, _ := sum["load"].(map[string]any); load == nil || load["cpu_percent_per_viewer"] == nil {
		t.Errorf("no load in the summary: %v", sum["load"])
	}
}
