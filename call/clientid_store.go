package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// pid is this process's id, written next to the ClientIds it holds so that
// another process sharing the pool file leaves them alone.
var pid = os.Getpid()

// idStore is the ClientId pool persisted in a JSON file, shared safely by
// processes (a window and a QA run) through a lock file next to it.
type idStore struct {
	path string
	lock *flock.Flock
}

// storeLockWait bounds the wait for another process's use of the pool file.
const storeLockWait = 2 * time.Second

func openIDStore(path string) (*idStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ClientId pool: %w", err)
	}
	return &idStore{path: path, lock: flock.New(path + ".lock")}, nil
}

// update reads the pool, lets f change it and writes it back, all under the
// file lock.
func (s *idStore) update(f func([]idEntry) []idEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeLockWait)
	defer cancel()
	locked, err := s.lock.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil || !locked {
		return fmt.Errorf("ClientId pool %s is locked by another process: %w", s.path, errors.Join(err, ctx.Err()))
	}
	defer func() { _ = s.lock.Unlock() }()
	return s.save(f(s.load()))
}

// load reads the pool; a missing or damaged file is an empty pool (not worth
// failing a call over).
func (s *idStore) load() []idEntry {
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return nil
	}
	var entries []idEntry
	if json.Unmarshal(raw, &entries) != nil {
		return nil
	}
	return entries
}

// save writes the pool to a temporary file, syncs it and renames it over
// the old one, so a crash never leaves half a file.
func (s *idStore) save(entries []idEntry) error {
	raw, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return fmt.Errorf("encode ClientId pool: %w", err)
	}
	tmp := s.path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save ClientId pool: %w", err)
	}
	_, err = fh.Write(raw)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return fmt.Errorf("save ClientId pool: %w", err)
	}
	return nil
}

// processAlive reports whether a process with that id exists.
func processAlive(p int) bool {
	err := syscall.Kill(p, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
