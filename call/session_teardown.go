package call

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/internal/memtune"
	"github.com/kvsviewer/kvsviewer/media/capture"
)

// teardownResult is what a teardown reports.
type teardownResult struct {
	took time.Duration
	// clean says the signaling socket closed cleanly (a socket that dropped
	// may leave a stale viewer session at the service, holding a viewer slot
	// for a while).
	clean bool
	// overruns names the steps that overran their time limit and were left
	// running; lingering is closed once they have all finished (nil when
	// there were none). Until then the session may still hold its ClientId.
	overruns  []string
	lingering <-chan struct{}
}

// teardown releases everything of the session in the proven order, each step
// bounded by TeardownStepLimit.
func (s *session) teardown() teardownResult {
	start := time.Now()
	s.mu.Lock()
	s.torn = true
	for i, t := range s.timers {
		if t != nil {
			t.Stop()
			s.timers[i] = nil
		}
	}
	conn, pc, local, player, opening := s.conn, s.pc, s.local, s.player, s.opening
	s.mu.Unlock()
	s.cancel()

	var res teardownResult
	var left []<-chan struct{}
	step := func(name string, f func() error) {
		done, err := boundedStep(s.deps.cfg.TeardownStepLimit, f)
		if errors.Is(err, errStepTimeout) {
			res.overruns = append(res.overruns, name)
			left = append(left, done)
		}
		if err != nil {
			s.log.Warn("teardown step", "step", name, "error", err)
		}
	}
	// 1. Signaling first: no late answer or candidate can arrive any more.
	clean := !s.signalingDropped.Load()
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
		step("remove senders", func() error { return stopSending(local, pc) })
	}
	// 3. Local tracks: camera light off, microphone released. A camera still
	// opening is released by its opener once the open has finished (see
	// openLocal): the next session must not open it before.
	if local != nil {
		s.hideInput(local)
		step("close local media", local.Close)
	}
	if !opening {
		s.releaseDevices()
	}
	// 4. The peer connection (stops the receivers, so the decoders end).
	if pc != nil {
		step("close peer connection", func() error {
			// pion's GetStats races with Close: hold the stats loop off (it
			// sees the cancelled context once it gets the lock, and stops).
			s.statsMu.Lock()
			defer s.statsMu.Unlock()
			return pc.Close()
		})
	}
	// 5. Audio out.
	if player != nil {
		step("close audio output", player.Close)
	}
	// 6. Every goroutine of the session.
	step("wait for session goroutines", func() error { s.wg.Wait(); return nil })
	res.took, res.clean = time.Since(start), clean
	if len(left) > 0 {
		res.lingering = allDone(left)
	}
	// The codecs freed large buffers: they go back to the OS once the app
	// is idle, and serve the next call as they are if it comes sooner.
	memtune.End()
	return res
}

// allDone returns a channel closed once every one of chans is.
func allDone(chans []<-chan struct{}) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		for _, c := range chans {
			<-c
		}
		close(out)
	}()
	return out
}

// stopSending stops the writers of local's tracks, both at once and without
// waiting for the test sources' next frame (capture.Local.StopSending), then
// removes the senders from pc.
func stopSending(local *capture.Local, pc *webrtc.PeerConnection) error {
	var err error
	if local != nil {
		err = local.StopSending()
	}
	return errors.Join(err, removeSenders(pc))
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

// boundedStep runs f for at most limit. done is closed when f has returned,
// even when it overran and was left behind.
func boundedStep(limit time.Duration, f func() error) (done <-chan struct{}, err error) {
	result := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		result <- f()
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-result:
		return finished, err
	case <-t.C:
		return finished, fmt.Errorf("%w after %s", errStepTimeout, limit)
	}
}
