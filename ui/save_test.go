package ui

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
)

// TestSaveNeverLeavesHalfAReport: an export that fails half way (a full
// disk) is reported and leaves no truncated report behind.
func TestSaveNeverLeavesHalfAReport(t *testing.T) {
	test.NewTempApp(t)
	path := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(path, []byte("the previous report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := storage.Writer(storage.NewFileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	err = saveTo(w, func(out io.Writer) error {
		_, _ = io.WriteString(out, "half a rep")
		return errors.New("no space left on device")
	})
	if err == nil {
		t.Fatal("the failed write was not reported")
	}
	got, _ := os.ReadFile(path)
	if string(got) == "half a rep" {
		t.Fatalf("a truncated report replaced the file: %q", got)
	}
	w, _ = storage.Writer(storage.NewFileURI(path))
	if err := saveTo(w, func(out io.Writer) error { _, err := io.WriteString(out, "new\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new\n" {
		t.Fatalf("saved %q", got)
	}
}
