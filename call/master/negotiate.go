// A viewer's negotiation: its offer (the first, or an ICE restart's) with
// the candidates that came before it, the answer, and the trickled
// candidates both ways, each in an order the other side can use.

package master

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// setOffer sets the viewer's offer and then adds the candidates that came
// before it: pending and those addCandidate queued meanwhile.
func (v *viewer) setOffer(offer webrtc.SessionDescription, pending []webrtc.ICECandidateInit, log *slog.Logger) error {
	if err := v.pc.SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	v.mu.Lock()
	v.remoteSet = true
	pending = append(pending, v.pending...)
	v.pending = nil
	v.mu.Unlock()
	for _, c := range pending {
		if err := v.pc.AddICECandidate(c); err != nil {
			log.Debug("add early candidate failed", "err", err)
		}
	}
	return nil
}

// renegotiate applies a new offer of the viewer's peer connection (an ICE
// restart: pion restarts ICE when the credentials change), with the
// restart's candidates that came before it, and answers it. The master's
// candidates of the restart trickle through onICECandidate.
func (v *viewer) renegotiate(offer webrtc.SessionDescription) error {
	if err := v.setOffer(offer, nil, v.m.log.With("client_id", v.id)); err != nil {
		return err
	}
	return v.answer()
}

// answer creates the answer to the offer set, applies it and sends it. The
// candidates gathered meanwhile are sent after it: a viewer gets no
// candidate it could not use yet (a browser's addIceCandidate fails before
// the answer is set, and pion drops one of an ICE restart it has not seen).
func (v *viewer) answer() error {
	v.mu.Lock()
	v.answering = true
	v.mu.Unlock()
	defer v.sendHeld()
	answer, err := v.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := v.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	if err := v.m.send(func(ctx context.Context, conn *kvs.Conn) error {
		return conn.SendAnswer(ctx, answer, v.id, "")
	}); err != nil {
		return fmt.Errorf("send answer: %w", err)
	}
	return nil
}

// sendHeld ends an answer: the candidates held meanwhile go out, in order.
func (v *viewer) sendHeld() {
	log := v.m.log.With("client_id", v.id)
	for {
		v.mu.Lock()
		held := v.held
		v.held = nil
		if len(held) == 0 {
			v.answering = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		for _, c := range held {
			v.sendCandidate(c, log)
		}
	}
}

// onICECandidate trickles the master's local candidates to the viewer, or
// holds them while an answer is under way.
func (v *viewer) onICECandidate(log *slog.Logger) {
	v.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || v.isEnded() {
			return
		}
		init := c.ToJSON()
		v.mu.Lock()
		if v.answering {
			v.held = append(v.held, init)
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		v.sendCandidate(init, log)
	})
}

// sendCandidate trickles one local candidate to the viewer.
func (v *viewer) sendCandidate(c webrtc.ICECandidateInit, log *slog.Logger) {
	if err := v.m.send(func(ctx context.Context, conn *kvs.Conn) error {
		return conn.SendCandidate(ctx, c, v.id, "")
	}); err != nil {
		log.Debug("send candidate failed", "err", err)
	}
}

// addCandidate adds a remote candidate, or queues it until the offer it
// belongs to is set: the first offer, or an ICE restart's whose candidates
// came first.
func (v *viewer) addCandidate(c webrtc.ICECandidateInit) {
	early := v.ofNextOffer(c)
	v.mu.Lock()
	if !v.remoteSet || early {
		if len(v.pending) < maxPendingCandidates {
			v.pending = append(v.pending, c)
		}
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	if err := v.pc.AddICECandidate(c); err != nil {
		v.m.log.Debug("add candidate failed", "client_id", v.id, "err", err)
	}
}

// ofNextOffer reports whether c carries a ufrag that the remote description
// set does not have: a candidate of an ICE restart whose offer has not come
// yet. pion drops such a candidate (it checks the same extension), and the
// restart would never connect.
func (v *viewer) ofNextOffer(c webrtc.ICECandidateInit) bool {
	cur := v.pc.RemoteDescription()
	if cur == nil {
		return false
	}
	cand, err := ice.UnmarshalCandidate(strings.TrimPrefix(c.Candidate, "candidate:"))
	if err != nil {
		return false
	}
	ufrag, ok := cand.GetExtension("ufrag")
	return ok && !slices.Contains(sdpValues(cur.SDP, "a=ice-ufrag:"), ufrag.Value)
}

// fingerprints returns the a=fingerprint values of sdp (session and media
// level), normalised and sorted, without repeats.
func fingerprints(sdp string) []string {
	var out []string
	for _, fp := range sdpValues(sdp, "a=fingerprint:") {
		out = append(out, strings.ToLower(strings.Join(strings.Fields(fp), " ")))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sdpValues returns the values of the lines of sdp that begin with prefix
// (an attribute such as "a=ice-ufrag:", at session or media level).
func sdpValues(sdp, prefix string) []string {
	var out []string
	for line := range strings.SplitSeq(sdp, "\n") {
		if val, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			out = append(out, strings.TrimSpace(val))
		}
	}
	return out
}
