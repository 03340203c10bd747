// Offers and the viewer table: answering a viewer's offer with a new peer
// connection (or an ICE restart on the current one), candidates that arrive
// early, viewers that end, and the per-ClientId ViewerStats with Viewers,
// Viewer and WaitViewerFrames.

package master

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// ViewerStats describes one viewer (by ClientId) and its current peer connection.
type ViewerStats struct {
	// ClientID is the viewer's ClientId.
	ClientID string
	// Connected is true while the current peer connection is connected.
	Connected bool
	// FramesDecoded counts the video frames decoded on the current connection.
	FramesDecoded uint64
	// LastCounter is the frame counter last read from the viewer's test pattern.
	LastCounter uint32
	// CounterAdvancing is true once a counter greater than an earlier one was read.
	CounterAdvancing bool
	// Latency is the median age, when decoded, of the viewer's latest frames,
	// read from the capture time this app's test pattern stamps into them (0
	// for a camera): the other direction of the viewer's latency meter.
	Latency time.Duration
	// Width and Height are the size of the last decoded frame.
	Width, Height int
	// Codec is the MIME type of the video the viewer sends.
	Codec string
	// AudioPackets counts the audio RTP packets received on the current connection.
	AudioPackets uint64
	// AudioHz and AudioLevelDBFS are the dominant frequency and the RMS level of the viewer's
	// latest third of a second of decoded audio (0 Hz and spectrum.MinLevel for silence or
	// before any audio): what a person at the master would hear.
	AudioHz, AudioLevelDBFS float64
	// Offers counts the offers received from this ClientId.
	Offers int
	// SentPackets counts the RTP packets the master sent to this viewer on the current connection.
	SentPackets uint64
}

// handleOffer answers an offer with a new peer connection, replacing the
// viewer's previous one (as the official JS master does for every offer),
// unless the offer comes from the viewer's current peer connection: an ICE
// restart, which is answered on that connection (see restartICE).
func (m *Master) handleOffer(clientID string, offer webrtc.SessionDescription) {
	if err := kvs.ValidateClientID(clientID); err != nil {
		m.log.Warn("ignored offer from an invalid ClientId", "err", err)
		return
	}
	if m.restartICE(clientID, offer) {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	old := m.viewers[clientID]
	delete(m.viewers, clientID)
	if old == nil && len(m.viewers) >= MaxViewers {
		m.mu.Unlock()
		m.log.Warn("ignored offer: too many viewers", "client_id", clientID, "max", MaxViewers)
		return
	}
	st := m.statsLocked(clientID)
	st.Offers++
	pending := m.pending[clientID]
	delete(m.pending, clientID)
	m.mu.Unlock()
	if old != nil {
		m.log.Info("new offer replaces the viewer's connection", "client_id", clientID)
		m.teardownAsync(old)
	}
	m.emit(Event{Kind: ViewerJoined, ClientID: clientID})

	v, err := m.newViewer(clientID, offer, pending)
	if err != nil {
		m.log.Warn("answer offer failed", "client_id", clientID, "err", err)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.teardownAsync(v)
		return
	}
	m.viewers[clientID] = v
	// Under mu, as SetMediaPaused: the viewer cannot miss a change.
	v.local.SetPaused(m.paused)
	m.resetStatsLocked(clientID)
	m.mu.Unlock()
	m.emit(Event{Kind: Answered, ClientID: clientID})
	m.notify()
}

// restartICE answers offer on clientID's current peer connection when the
// offer comes from the peer connection that one talks to (the same DTLS
// certificate fingerprints): an ICE restart, or another renegotiation. Such
// an offer must not get a new peer connection: the viewer keeps its DTLS
// session on renegotiation (pion ignores a changed fingerprint there), so the
// new connection's DTLS handshake would never complete and the media would
// not come back. A viewer's new session has a new peer connection, hence a
// new certificate, and still replaces the old one. It reports whether the
// offer was answered.
func (m *Master) restartICE(clientID string, offer webrtc.SessionDescription) bool {
	m.mu.Lock()
	v := m.viewers[clientID]
	closed := m.closed
	m.mu.Unlock()
	if closed || v == nil || !v.sameRemote(offer) {
		return false
	}
	if err := v.renegotiate(offer); err != nil {
		m.log.Warn("renegotiation failed; answering with a new connection", "client_id", clientID, "err", err)
		return false
	}
	m.mu.Lock()
	m.statsLocked(clientID).Offers++
	m.mu.Unlock()
	m.log.Info("answered an ICE restart on the viewer's connection", "client_id", clientID)
	m.notify()
	return true
}

// handleCandidate adds a viewer's candidate to its peer connection, or keeps
// it until that viewer's offer arrives.
func (m *Master) handleCandidate(clientID string, cand webrtc.ICECandidateInit) {
	m.mu.Lock()
	v := m.viewers[clientID]
	if v == nil {
		if kvs.ValidateClientID(clientID) == nil && len(m.pending) < 4*MaxViewers &&
			len(m.pending[clientID]) < maxPendingCandidates {
			m.pending[clientID] = append(m.pending[clientID], cand)
		}
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	v.addCandidate(cand)
}

// teardownAsync tears v down in the background; Close waits for it. It is
// called from a goroutine Close waits for (the signaling loop, Close
// itself), or with m.mu held while the master is open: a WaitGroup's Add
// must not race with a Wait that may find the count at zero, and pion's
// state callbacks run on goroutines of their own.
func (m *Master) teardownAsync(v *viewer) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		v.teardown()
	}()
}

// viewerEnded drops v when its peer connection failed or closed.
func (m *Master) viewerEnded(v *viewer) {
	m.mu.Lock()
	cur := m.viewers[v.id] == v
	if cur {
		delete(m.viewers, v.id)
		// Keep the ended connection's figures.
		st := m.statsLocked(v.id)
		offers := st.Offers
		v.fill(st)
		st.Offers, st.Connected = offers, false
	}
	closed := m.closed
	if cur && !closed {
		m.teardownAsync(v) // under mu: see teardownAsync
	}
	m.mu.Unlock()
	if cur && !closed {
		m.refillSpare() // no call of that viewer is being set up any more
	}
	if cur {
		m.emit(Event{Kind: ViewerLeft, ClientID: v.id, Detail: v.pc.ConnectionState().String()})
	}
	m.notify()
}

// statsLocked returns the stats record of clientID, creating it (and pruning
// records of viewers that are gone) as needed. m.mu must be held.
func (m *Master) statsLocked(clientID string) *ViewerStats {
	if st, ok := m.stats[clientID]; ok {
		return st
	}
	if len(m.stats) >= maxStats {
		for _, id := range slices.Sorted(maps.Keys(m.stats)) {
			if _, live := m.viewers[id]; !live {
				delete(m.stats, id)
				break
			}
		}
	}
	st := &ViewerStats{ClientID: clientID}
	m.stats[clientID] = st
	return st
}

// resetStatsLocked starts the per-connection counters of clientID afresh,
// keeping Offers. m.mu must be held.
func (m *Master) resetStatsLocked(clientID string) {
	st := m.statsLocked(clientID)
	*st = ViewerStats{ClientID: clientID, Offers: st.Offers}
}

// snapshotLocked returns the stats of clientID, merged with its live connection. m.mu must be held.
func (m *Master) snapshotLocked(clientID string) (ViewerStats, bool) {
	st, ok := m.stats[clientID]
	if !ok {
		return ViewerStats{}, false
	}
	out := *st
	if v := m.viewers[clientID]; v != nil {
		v.fill(&out)
	}
	return out, true
}

// Viewers returns the stats of every viewer the master knows, sorted by ClientId.
func (m *Master) Viewers() []ViewerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ViewerStats, 0, len(m.stats))
	for _, id := range slices.Sorted(maps.Keys(m.stats)) {
		st, _ := m.snapshotLocked(id)
		out = append(out, st)
	}
	return out
}

// Viewer returns the stats of one viewer.
func (m *Master) Viewer(clientID string) (ViewerStats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked(clientID)
}

// notify wakes the waiters of WaitViewerFrames.
func (m *Master) notify() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// WaitViewerFrames blocks until the master has decoded at least n frames from
// clientID's current connection, ctx ends, or the master closes.
func (m *Master) WaitViewerFrames(ctx context.Context, clientID string, n uint64) error {
	for {
		m.mu.Lock()
		st, _ := m.snapshotLocked(clientID)
		ch, closed := m.changed, m.closed
		m.mu.Unlock()
		if st.FramesDecoded >= n {
			return nil
		}
		if closed {
			return fmt.Errorf("wait for frames of viewer %s: master closed", clientID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for frames of viewer %s: %d of %d decoded: %w", clientID, st.FramesDecoded, n, ctx.Err())
		case <-ch:
		}
	}
}
