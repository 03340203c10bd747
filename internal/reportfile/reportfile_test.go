package reportfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRefusesWhatCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "ok.json")); err != nil {
		t.Fatalf("writable path refused: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok.json")); !os.IsNotExist(err) {
		t.Fatal("Check left a file behind")
	}
	for _, bad := range []string{filepath.Join(dir, "missing", "r.json"), dir} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%s) passed", bad)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Check left files: %v", ents)
	}
}

// TestWriteKeepsTheOldFileOnFailure: a write that fails half way leaves the
// previous complete file, never a truncated one.
func TestWriteKeepsTheOldFileOnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.csv")
	if err := Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "complete\n"); return err }); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed write reported %v", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "complete\n" {
		t.Fatalf("file after a failed write: %q", got)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestWriteAllWritesTheOthers(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	err := WriteAll(
		Output{Path: filepath.Join(dir, "missing", "bad.csv"), Write: func(io.Writer) error { return nil }},
		Output{Path: good, Write: func(w io.Writer) error { _, err := io.WriteString(w, "{}"); return err }},
	)
	if err == nil {
		t.Fatal("the failure was not reported")
	}
	if got, _ := os.ReadFile(good); string(got) != "{}" {
		t.Fatalf("the other output was not written: %q", got)
	}
}
