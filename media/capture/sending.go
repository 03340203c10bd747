// What a Local sends, once open: pausing, keyframes, kicks of the test
// sources, stopping the writers before a teardown, and the user's video and
// audio switches.

package capture

import (
	"errors"
	"sync"
)

// SetPaused stops (true) or resumes (false) sending on VideoSend and AudioSend: while paused no
// RTP goes out (a fault to inject; SetVideoEnabled and SetAudioEnabled are the user's switches).
// Resuming does not force a keyframe; call ForceKeyFrame for that.
func (l *Local) SetPaused(paused bool) {
	for _, t := range l.sendTracks() {
		t.SetPaused(paused)
	}
}

// ForceKeyFrame asks the video encoder of every peer connection VideoSend is bound to for a
// keyframe; it reports whether one could.
func (l *Local) ForceKeyFrame() bool {
	return l.VideoSend != nil && l.VideoSend.ForceKeyFrame()
}

// Kick asks the test pattern for a frame at once, e.g. when a connection
// has just come up; a camera's frames come at their own pace.
func (l *Local) Kick() {
	if l.pattern != nil {
		l.pattern.Kick()
	}
}

// StopSending stops the RTP writers of both send tracks on every peer
// connection, both at once. pion's RemoveTrack unbinds a track under the
// peer connection's lock, one sender after the other, and each unbind waits
// for the writer to finish the frame it is reading: up to a frame interval
// (33 ms) and then an audio chunk (20 ms) for a camera and a microphone; the
// test sources are kicked and answer at once (SendTrack.kickUntilDone). Once
// StopSending has returned, RemoveTrack has nothing left to wait for. The
// tracks stay open (Close).
func (l *Local) StopSending() error {
	tracks := l.sendTracks()
	errs := make([]error, len(tracks))
	var wg sync.WaitGroup
	for i, t := range tracks {
		wg.Go(func() { errs[i] = t.unbindAll() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Local) sendTracks() []*SendTrack {
	var out []*SendTrack
	for _, t := range []*SendTrack{l.VideoSend, l.AudioSend} {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// SetVideoEnabled turns the video on or off without renegotiation: while off the track sends
// black frames of the same size at the same rate (the camera itself stays open).
func (l *Local) SetVideoEnabled(on bool) { l.videoOn.Store(on) }

// SetAudioEnabled mutes or unmutes the audio without renegotiation: while muted the track
// sends silence.
func (l *Local) SetAudioEnabled(on bool) { l.audioOn.Store(on) }

// VideoEnabled reports whether video is on.
func (l *Local) VideoEnabled() bool { return l.videoOn.Load() }

// AudioEnabled reports whether audio is on (not muted).
func (l *Local) AudioEnabled() bool { return l.audioOn.Load() }
