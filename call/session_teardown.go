package call

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/internal/memtune"
)

// teardown releases everything of the session in the proven order, each step
// bounded, and returns how long it took and whether its signaling socket
// closed cleanly (a socket that dropped may leave a stale viewer session at
// the service, holding a viewer slot for a while).
func (s *session) teardown() (took time.Duration, clean bool) {
	start := time.Now()
	s.mu.Lock()
	s.torn = true
	for i, t := range s.timers {
		if t != nil {
			t.Stop()
			s.timers[i] = nil
		}
	}
	conn, pc, local, player := s.conn, s.pc, s.local, s.player
	s.mu.Unlock()
	s.cancel()

	step := func(name string, f func() error) {
		if err := boundedStep(s.deps.cfg.TeardownStepLimit, f); err != nil {
			s.log.Warn("teardown step", "step", name, "error", err)
		}
	}
	// 1. Signaling first: no late answer or candidate can arrive any more.
	clean = !s.signalingDropped.Load()
	if conn != nil {
		step("close signaling", func() error {
			err := conn.Close()
			clean = clean && err == nil
			return err
		})
	}
	// 2. Stop transceivers and remove senders: this unbinds the local tracks
	// from the peer connection while their RTP pumps still run (closing a
	// mediadevices track before it is unbound can make the unbind, and so
	// pc.Close, block forever).
	if pc != nil {
		step("remove senders", func() error { return removeSenders(pc) })
	}
	// 3. Local tracks: camera light off, microphone released.
	if local != nil {
		step("close local media", local.Close)
	}
	s.releaseDevices()
	// 4. The peer connection (stops the receivers, so the decoders end).
	if pc != nil {
		s.statsMu.Lock() // the context is cancelled: no GetStats starts after this
		s.statsMu.Unlock()
		step("close peer connection", pc.Close)
	}
	// 5. Audio out.
	if player != nil {
		step("close audio output", player.Close)
	}
	// 6. Every goroutine of the session.
	step("wait for session goroutines", func() error { s.wg.Wait(); return nil })
	took = time.Since(start)
	// The codecs freed large buffers: give them back to the OS (not timed:
	// the call is already gone).
	memtune.Trim()
	return took, clean
}

func removeSenders(pc *webrtc.PeerConnection) error {
	var errs []error
	for _, tr := range pc.GetTransceivers() {
		if snd := tr.Sender(); snd != nil {
			if err := pc.RemoveTrack(snd); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// errStepTimeout reports a teardown step that overran its limit.
var errStepTimeout = errors.New("overran its time limit; left behind")

func boundedStep(limit time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w after %s", errStepTimeout, limit)
	}
}
