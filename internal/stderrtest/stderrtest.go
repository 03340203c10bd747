// Package stderrtest captures what C libraries write to the process's stderr
// (file descriptor 2, e.g. with fprintf(stderr)) during a test. It is for tests
// only.
package stderrtest

import (
	"bytes"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
)

// Capture runs f with fd 2 on a pipe and returns what was written to it. fd 2
// is restored when f returns or fails the test. Go's own writes to os.Stderr
// (same fd) are captured too, so keep f quiet otherwise; tests running in
// parallel must not use it.
func Capture(t testing.TB, f func()) string {
	t.Helper()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Close(saved) }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(&out, r) })
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		_ = w.Close()
		t.Fatal(err)
	}
	func() {
		defer func() {
			if err := syscall.Dup3(saved, 2, 0); err != nil {
				panic("stderrtest: cannot restore fd 2: " + err.Error())
			}
			_ = w.Close() // the reader sees EOF
		}()
		f()
	}()
	wg.Wait()
	return out.String()
}
