package call

import (
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/audioout"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/decode"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
)

// applyMedia applies mute and camera-off to the local tracks.
func (s *session) applyMedia(audio, video bool) {
	s.mu.Lock()
	l := s.local
	s.mu.Unlock()
	if l != nil {
		l.SetAudioEnabled(audio)
		l.SetVideoEnabled(video)
	}
}

// receive decodes one remote track until it ends.
func (s *session) receive(pc *webrtc.PeerConnection, tr *webrtc.TrackRemote) {
	var err error
	switch tr.Kind() {
	case webrtc.RTPCodecTypeVideo:
		err = s.receiveVideo(pc, tr)
	case webrtc.RTPCodecTypeAudio:
		err = s.receiveAudio(tr)
	}
	var tooLarge *decode.SizeError
	switch {
	case err == nil || s.ctx.Err() != nil:
	case errors.As(err, &tooLarge):
		// The same stream comes back on every attempt: say so, do not retry.
		s.failed(ClassMedia, fmt.Errorf("the master sends %dx%d video; this app shows at most %dx%d",
			tooLarge.Width, tooLarge.Height, tooLarge.MaxWidth, tooLarge.MaxHeight))
	default:
		s.log.Debug("remote track ended", "kind", tr.Kind().String(), "error", err)
	}
}

// trackStats makes the receive counters of one remote track and keeps them
// in the session, or returns nil when the session was torn down meanwhile.
func (s *session) trackStats() *receive.Stats {
	st := &receive.Stats{}
	if !s.adopt(func() { s.recv = append(s.recv, st) }) {
		return nil
	}
	return st
}

func (s *session) receiveVideo(pc *webrtc.PeerConnection, tr *webrtc.TrackRemote) error {
	st := s.trackStats()
	if st == nil {
		return nil
	}
	first := true
	return receive.Video(s.ctx, tr, receive.VideoOptions{
		Sink:  meteredSink{gatedSink{s, s.deps.remote}, &s.latency, &s.avsync},
		Stats: st,
		SendPLI: func() error {
			return pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
		},
		Logger:     s.log,
		OnFirstRTP: func(t time.Time) { s.phase(PhaseFirstRTP, t, nil) },
		OnFirstFrame: func(t time.Time) {
			if !first {
				return
			}
			first = false
			st := s.deps.remote.Stats()
			s.phaseMu.Lock() // after answer_received (see onAnswer)
			s.phase(PhaseFirstFrame, t, &FrameInfo{Width: st.Width, Height: st.Height, Codec: st.Codec})
			s.phaseMu.Unlock()
		},
	})
}

func (s *session) receiveAudio(tr *webrtc.TrackRemote) error {
	st := s.trackStats()
	if st == nil {
		return nil
	}
	codec := tr.Codec()
	player, err := audioout.OpenWith(int(codec.ClockRate), max(int(codec.Channels), 1),
		audioout.Options{Device: s.deps.cfg.AudioOutput, Logger: s.log})
	if err != nil {
		s.log.Info("no audio output", "error", err)
	} else if !s.adopt(func() { s.player = player }) {
		_ = player.Close()
		return nil
	} else {
		// An output that is missing, or disappears mid-call, is told in words; the call goes on.
		for _, n := range player.Notes() {
			s.notice(n)
		}
		player.OnDeviceLost(func(err error) { s.notice(err.Error()) })
	}
	return receive.Audio(s.ctx, tr, receive.AudioOptions{
		Out: func(pcm []int16, rate, channels int) {
			// Presented once the audio buffered ahead of it has played (see avsync.go).
			start := time.Now()
			if player != nil {
				start = start.Add(player.Delay())
				player.Write(pcm)
			}
			s.avsync.audio(pcm, rate, channels, start)
		},
		Logger: s.log,
		Stats:  st,
	})
}

// previewInterval spaces the preview's frames: an inset needs no more than
// about ten a second, and each costs a thumbnail and a display conversion.
const previewInterval = 90 * time.Millisecond

// preview feeds the local camera preview sink with small copies of the
// frames being sent, at most one per previewInterval.
func (s *session) preview(local *capture.Local) {
	var dst *decode.Picture
	var seq uint64
	var last time.Time
	out := gatedSink{s, s.deps.local}
	local.SetPreview(func(img image.Image) {
		if s.ctx.Err() != nil {
			return
		}
		now := time.Now()
		if now.Sub(last) < previewInterval {
			return
		}
		last = now
		seq++
		dst = thumbnail(img, dst, 320)
		out.PutFrame(sink.Frame{Image: dst, Width: dst.Rect.Dx(), Height: dst.Rect.Dy(), Codec: "raw", Decoded: now, Seq: seq})
	})
}

// releaseDevices tells sessions waiting to open the camera and microphone
// that this one holds neither any more.
func (s *session) releaseDevices() { s.freeOnce.Do(func() { close(s.devFree) }) }

// gatedSink passes a session's frames to one of the controller's sinks until
// the session is torn down.
type gatedSink struct {
	s     *session
	inner *sink.Latest
}

// PutFrame implements sink.FrameSink.
func (g gatedSink) PutFrame(f sink.Frame) {
	g.s.frameMu.RLock()
	defer g.s.frameMu.RUnlock()
	if !g.s.framesOff {
		g.inner.PutFrame(f)
	}
}

// CountDropped implements sink.DropCounter.
func (g gatedSink) CountDropped(n int) {
	g.s.frameMu.RLock()
	defer g.s.frameMu.RUnlock()
	if !g.s.framesOff {
		g.inner.CountDropped(n)
	}
}

// stopFrames makes the session's frames stop reaching the controller's sinks;
// when it returns, no frame of the session is on its way into them.
func (s *session) stopFrames() {
	s.frameMu.Lock()
	s.framesOff = true
	s.frameMu.Unlock()
}
