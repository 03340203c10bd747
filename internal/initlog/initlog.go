// Package initlog holds back what is logged through the standard library's
// log package while the program's packages initialise, until main decides
// where it belongs.
//
// Fyne's lang package parses the user's locale in its init function and logs
// through log (fyne.LogError) when it cannot: with LANG=C.UTF-8 every start
// printed "Fyne error:  Error parsing user locale C" and two more lines on
// stderr, even for the headless commands and --help, which never use Fyne.
// Importing initlog from package main makes its init hold the log package's
// output instead. Go initialises packages in import-path order among those
// whose dependencies are ready; initlog depends only on the log package and
// the basics below it, so it runs right after log and long before Fyne's
// packages (check with GODEBUG=inittrace=1, and app's TestNoFyneNoise).
//
// Holding is all it does: it sets no environment variable (child processes,
// such as credential_process helpers, see the user's environment unchanged)
// and leaves the process's stderr alone.
package initlog

import (
	"bytes"
	"io"
	"log"
	"sync"
)

// Bounds of what is held: start-up logs are a few lines; anything beyond is dropped.
const (
	maxLines = 100
	maxBytes = 16 << 10
)

var held = &holder{flags: log.Flags()}

func init() {
	// Held lines carry no date: Release hands them on as messages.
	log.SetFlags(0)
	log.SetOutput(held)
}

// holder keeps the log package's output, one entry per write (the log package
// writes each message, with its newline, in one Write).
type holder struct {
	mu       sync.Mutex
	flags    int // the log package's flags before init
	lines    []string
	size     int
	released bool
}

func (h *holder) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released && len(h.lines) < maxLines && h.size+len(p) <= maxBytes {
		h.lines = append(h.lines, string(bytes.TrimRight(p, "\n")))
		h.size += len(p)
	}
	return len(p), nil
}

// Release ends the holding: the log package writes to w from now on, with the
// flags it had before (the standard date and time), and Release returns the
// messages logged while they were held, one per log call. Only the first call
// returns messages; later calls just set the output.
func Release(w io.Writer) []string {
	held.mu.Lock()
	flags := held.flags
	held.mu.Unlock()
	// log serialises its writes with SetOutput: every message is either held
	// (and returned below) or written to w.
	log.SetFlags(flags)
	log.SetOutput(w)
	held.mu.Lock()
	defer held.mu.Unlock()
	lines := held.lines
	held.lines, held.released = nil, true
	return lines
}
