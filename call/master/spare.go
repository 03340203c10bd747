package master

import (
	"fmt"
	"time"

	"github.com/kvsviewer/kvsviewer/media/capture"
)

// A viewer's media is opened before its offer arrives. Opening the pattern,
// the tone and the video encoder (capture.Open builds it ahead) takes 10-25
// ms, which would otherwise delay every answer. The master keeps one spare
// capture.Local ready: an offer takes it, so each viewer still gets media of
// its own, never shared. The next spare opens once that viewer's call is up
// (spareDelay after it connects) or over: opened at once, its encoder build
// and buffers would compete for the CPU with the call's own set-up and
// delay its first frame.

// spareDelay is how long after a viewer connects the next spare opens: past
// the first keyframe's encode, send and decode.
const spareDelay = 150 * time.Millisecond

// takeLocal returns the spare media, or opens new media when there is none
// (two offers in a row, or the first viewer not up yet).
func (m *Master) takeLocal() (*capture.Local, error) {
	m.mu.Lock()
	l := m.spare
	m.spare = nil
	m.mu.Unlock()
	if l != nil {
		return l, nil
	}
	l, err := capture.Open(m.o.captureOptions(m.log))
	if err != nil {
		return nil, fmt.Errorf("open test media: %w", err)
	}
	return l, nil
}

// refillSpareSoon opens the next spare spareDelay from now (see refillSpare).
func (m *Master) refillSpareSoon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.spareTimer != nil {
		return
	}
	m.spareTimer = time.AfterFunc(spareDelay, func() {
		m.mu.Lock()
		m.spareTimer = nil
		m.mu.Unlock()
		m.refillSpare()
	})
}

// refillSpare opens the next spare in the background unless one is ready
// or opening, or the master is closed.
func (m *Master) refillSpare() {
	m.mu.Lock()
	if m.closed || m.spare != nil || m.spareOpening {
		m.mu.Unlock()
		return
	}
	m.spareOpening = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		l, err := capture.Open(m.o.captureOptions(m.log))
		m.mu.Lock()
		m.spareOpening = false
		keep := err == nil && !m.closed
		if keep {
			m.spare = l
		}
		m.mu.Unlock()
		switch {
		case err != nil:
			m.log.Warn("open the next viewer's media failed; the next offer opens its own", "err", err)
		case !keep:
			m.closeLocal(l)
		}
	}()
}

// closeSpare closes the spare once the master is closed and its goroutines
// have ended.
func (m *Master) closeSpare() {
	m.mu.Lock()
	l := m.spare
	m.spare = nil
	if m.spareTimer != nil {
		m.spareTimer.Stop()
		m.spareTimer = nil
	}
	m.mu.Unlock()
	if l != nil {
		m.closeLocal(l)
	}
}

func (m *Master) closeLocal(l *capture.Local) {
	if err := l.Close(); err != nil {
		m.log.Debug("close unused test media failed", "err", err)
	}
}
