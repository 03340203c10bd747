// Package reportfile writes report files so that a run's results are never
// lost to a bad path, a full disk or a crash: destinations are checked before
// the run, and each file is written to a temporary file, synced and renamed
// over the destination.
package reportfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/renameio/v2"
)

// Check reports whether path can be written: its directory exists and takes
// a new file, and path is not a directory. Call it before a long run.
func Check(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	t, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644))
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return t.Cleanup()
}

// Write writes a file with write's output, atomically: the destination is
// either the old file or the complete new one.
func Write(path string, write func(io.Writer) error) error {
	t, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = t.Cleanup() }() // a no-op once replaced
	w := bufio.NewWriter(t)
	if err := write(w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Output is one report destination and what to write there.
type Output struct {
	Path  string
	Write func(io.Writer) error
}

// WriteAll writes every output that has a path, even when an earlier one
// fails, and returns every failure.
func WriteAll(outs ...Output) error {
	var errs []error
	for _, o := range outs {
		if o.Path == "" {
			continue
		}
		errs = append(errs, Write(o.Path, o.Write))
	}
	return errors.Join(errs...)
}

// CheckAll checks every output that has a path.
func CheckAll(outs ...Output) error {
	var errs []error
	for _, o := range outs {
		if o.Path != "" {
			errs = append(errs, Check(o.Path))
		}
	}
	return errors.Join(errs...)
}
