package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
	"github.com/kvsviewer/kvsviewer/media/receive"
	"github.com/kvsviewer/kvsviewer/media/sink"
	"github.com/kvsviewer/kvsviewer/media/spectrum"
)

// hearWindow is how much of the viewer's latest audio the master analyses: 16384 samples at
// 48 kHz, a third of a second, which puts a tone within a fraction of a hertz.
const hearWindow = 1 << 14

// viewer is the master's side of one viewer's peer connection.
type viewer struct {
	id    string
	m     *Master
	pc    *webrtc.PeerConnection
	local *capture.Local // the pattern and tone sent to this viewer; nil until addTracks

	ctx    context.Context // ends at teardown: stops the receive loops
	cancel context.CancelFunc
	wg     sync.WaitGroup // receive loops

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	ended     bool
	// answering holds the local candidates gathered while an answer is
	// being made and sent (held); they follow the answer.
	answering bool
	held      []webrtc.ICECandidateInit

	connected   atomic.Bool
	frames      atomic.Uint64
	audio       receive.Stats
	heard       *spectrum.Meter // the viewer's decoded audio
	statsMu     sync.Mutex
	lastCounter uint32
	haveCounter bool
	advancing   bool
	latencies   []time.Duration // the latest frames' age when decoded, from their stamp
	width       int
	height      int
	codec       string

	data dataLog // what the viewer said on its data channels

	teardownOnce sync.Once
}

// newViewer creates the peer connection of clientID, sets the offer, adds the
// master's tracks, answers and trickles. pending are candidates that arrived
// before the offer.
func (m *Master) newViewer(clientID string, offer webrtc.SessionDescription, pending []webrtc.ICECandidateInit) (*viewer, error) {
	pc, err := m.api.NewPeerConnection(rtcConfiguration(m.iceServers(), m.o.Loopback))
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	v := &viewer{id: clientID, m: m, pc: pc, heard: spectrum.NewMeter(receive.AudioSampleRate, hearWindow)}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	if err := v.start(offer, pending); err != nil {
		v.teardown()
		return nil, err
	}
	return v, nil
}

// start wires the handlers, negotiates and sends the answer.
func (v *viewer) start(offer webrtc.SessionDescription, pending []webrtc.ICECandidateInit) error {
	log := v.m.log.With("client_id", v.id)
	v.onICECandidate(log)
	v.onConnectionStateChange(log)
	v.onTrack(log)
	v.onDataChannel(log)
	if err := v.setOffer(offer, pending, log); err != nil {
		return err
	}
	if err := v.addTracks(); err != nil {
		return err
	}
	if err := v.answer(); err != nil {
		return err
	}
	log.Info("answered offer")
	return nil
}

// sameRemote reports whether offer comes from the peer connection v talks
// to: v is up (not ended, closed or failed) and the offer's DTLS certificate
// fingerprints are those of v's remote description.
func (v *viewer) sameRemote(offer webrtc.SessionDescription) bool {
	if v.isEnded() {
		return false
	}
	switch v.pc.ConnectionState() {
	case webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed:
		return false
	default:
	}
	cur := v.pc.RemoteDescription()
	if cur == nil {
		return false
	}
	have := fingerprints(cur.SDP)
	return len(have) > 0 && slices.Equal(have, fingerprints(offer.SDP))
}

// onConnectionStateChange tracks whether the peer connection is connected,
// asks the pattern for a frame once it is, and ends the viewer when it fails or closes.
func (v *viewer) onConnectionStateChange(log *slog.Logger) {
	v.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Debug("peer connection state", "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			v.connected.Store(true)
			v.m.emit(Event{Kind: ICEConnected, ClientID: v.id})
			// DTLS and SRTP are up: a frame at once, and the send track
			// forces a keyframe at the first packet SRTP really sends unless
			// that packet starts one. Forcing one here too made two keyframes
			// in a row, and the viewer decoded both at the busiest moment.
			v.local.Kick()
			v.m.refillSpareSoon()
			v.m.notify()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			v.connected.Store(false)
			if s != webrtc.PeerConnectionStateDisconnected {
				v.m.viewerEnded(v)
			} else {
				v.m.notify()
			}
		}
	})
}

// onTrack starts a receive loop for each track the viewer sends.
func (v *viewer) onTrack(log *slog.Logger) {
	v.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.goFunc(func() {
			if err := v.receive(tr); err != nil && v.ctx.Err() == nil {
				log.Debug("receive ended", "kind", tr.Kind().String(), "err", err)
			}
		})
	})
}

// goFunc runs f on a goroutine that teardown waits for, unless the viewer
// has ended. pion calls OnTrack and OnOpen handlers on goroutines of their
// own: the check and the WaitGroup's Add happen under v.mu, where teardown
// marks the viewer ended, so no Add can race with teardown's Wait.
func (v *viewer) goFunc(f func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ended {
		return
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		f()
	}()
}

// addTracks takes this viewer's pattern (and tone) and adds their send tracks.
func (v *viewer) addTracks() error {
	l, err := v.m.takeLocal()
	if err != nil {
		return err
	}
	v.local = l
	v.m.mu.Lock()
	l.SetPaused(v.m.paused)
	v.m.mu.Unlock()
	for _, t := range []*capture.SendTrack{l.VideoSend, l.AudioSend} {
		if t == nil {
			continue
		}
		if _, err := v.pc.AddTrack(t); err != nil {
			return fmt.Errorf("add %s track: %w", t.ID(), err)
		}
	}
	return nil
}

// markEnded marks the viewer ended: goFunc starts nothing after it.
func (v *viewer) markEnded() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ended = true
}

func (v *viewer) isEnded() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ended
}

// receive decodes a video track into the viewer's stats, or decodes an audio
// track, counting the packets that decode.
func (v *viewer) receive(tr *webrtc.TrackRemote) error {
	if tr.Kind() == webrtc.RTPCodecTypeVideo {
		ssrc := uint32(tr.SSRC())
		return receive.Video(v.ctx, tr, receive.VideoOptions{
			Sink: v,
			SendPLI: func() error {
				return v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
			},
		})
	}
	return receive.Audio(v.ctx, tr, receive.AudioOptions{Stats: &v.audio, Out: func(pcm []int16, _, channels int) {
		v.heard.Write(pcm, channels)
	}})
}

// PutFrame counts a decoded frame of the viewer and reads its pattern counter
// (sink.FrameSink).
func (v *viewer) PutFrame(f sink.Frame) {
	// The pattern readers take a decode.Picture's planes directly.
	counter, ok := pattern.ReadCounter(f.Image)
	stamp, stamped := pattern.ReadStamp(f.Image)
	v.statsMu.Lock()
	if stamped {
		v.latencies = append(v.latencies, pattern.StampAge(stamp, f.Decoded))
		if len(v.latencies) > latencySamples {
			v.latencies = v.latencies[1:]
		}
	}
	if ok {
		if v.haveCounter && counter > v.lastCounter {
			v.advancing = true
		}
		v.lastCounter, v.haveCounter = counter, true
	}
	v.width, v.height, v.codec = f.Width, f.Height, f.Codec
	v.statsMu.Unlock()
	if v.frames.Add(1) == 1 {
		v.m.emit(Event{Kind: FirstFrame, ClientID: v.id, Width: f.Width, Height: f.Height, Codec: f.Codec})
	}
	v.m.notify()
}

// latencySamples is how many of the viewer's latest frames Latency covers
// (about 2 s at 30 fps).
const latencySamples = 64

// fill copies the connection's counters into st.
func (v *viewer) fill(st *ViewerStats) {
	st.Connected = v.connected.Load()
	st.FramesDecoded = v.frames.Load()
	st.AudioPackets = v.audio.Frames.Load()
	heard := v.heard.Result()
	st.AudioHz, st.AudioLevelDBFS = heard.Hz, heard.LevelDBFS
	v.statsMu.Lock()
	st.LastCounter, st.CounterAdvancing = v.lastCounter, v.advancing
	st.Width, st.Height, st.Codec = v.width, v.height, v.codec
	if n := len(v.latencies); n > 0 {
		sorted := slices.Sorted(slices.Values(v.latencies))
		st.Latency = sorted[n/2]
	}
	v.statsMu.Unlock()
	st.SentPackets = 0
	if v.local != nil {
		for _, t := range []*capture.SendTrack{v.local.VideoSend, v.local.AudioSend} {
			if t != nil {
				st.SentPackets += t.Stats().Sent
			}
		}
	}
}

// teardown releases everything of the viewer: stop the senders (RemoveTrack
// unbinds the send tracks), close the peer connection, then close the capture
// (its sources), then wait for the receive loops. capture.SendTrack makes this
// order safe with mediadevices v0.9.4 also when the connection never came up.
func (v *viewer) teardown() {
	v.teardownOnce.Do(func() {
		start := time.Now()
		v.markEnded()
		v.connected.Store(false)
		v.cancel()
		if v.local != nil {
			if err := v.local.StopSending(); err != nil { // both writers at once, without waiting for a frame
				v.m.log.Debug("stop sending failed", "client_id", v.id, "err", err)
			}
		}
		for _, s := range v.pc.GetSenders() {
			if err := v.pc.RemoveTrack(s); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
				v.m.log.Debug("remove track failed", "client_id", v.id, "err", err)
			}
		}
		if err := v.pc.Close(); err != nil {
			v.m.log.Debug("close peer connection failed", "client_id", v.id, "err", err)
		}
		if v.local != nil {
			if err := v.local.Close(); err != nil {
				v.m.log.Debug("close test media failed", "client_id", v.id, "err", err)
			}
		}
		v.wg.Wait()
		v.m.log.Debug("viewer torn down", "client_id", v.id, "ms", time.Since(start).Milliseconds())
	})
}
