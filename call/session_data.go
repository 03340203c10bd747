package call

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// DataChannelLabel is the data channel's label, the one the KVS test page
// and SDK samples use, so their masters recognise it.
const DataChannelLabel = "kvsDataChannel"

// MaxMessageBytes bounds a text message on the data channel.
const MaxMessageBytes = 16 << 10

// pingPrefix starts the small message the app sends once a second on the
// data channel to measure its round trip: a peer that echoes it (the demo
// master does) gives the data channel's RTT; "kvsviewer-ping <seq> <sent>".
const pingPrefix = "kvsviewer-ping "

// ErrNoDataChannel is returned by SendMessage when the call has no open data
// channel (off in the settings, not open yet, or the master never opened it).
var ErrNoDataChannel = errors.New("no open data channel")

// dataChannel is a session's data channel to the master.
type dataChannel struct {
	mu    sync.Mutex
	dc    *webrtc.DataChannel
	seq   uint64
	pings map[uint64]time.Time // pings sent and not echoed yet
	rtt   time.Duration        // the last round trip measured
}

// openDataChannel creates the data channel (before the offer, so the offer
// carries it) and also takes channels the master opens.
func (s *session) openDataChannel(pc *webrtc.PeerConnection) error {
	dc, err := pc.CreateDataChannel(DataChannelLabel, nil)
	if err != nil {
		return fmt.Errorf("create data channel: %w", err)
	}
	s.data.dc, s.data.pings = dc, map[uint64]time.Time{}
	// pion runs OnOpen and OnClose on goroutines of their own, so they may
	// run in either order: whether the channel is open is asked of the
	// channel itself, never remembered from them.
	dc.OnOpen(func() {
		if dc.ReadyState() != webrtc.DataChannelStateOpen {
			return // closed already (a master that refuses it)
		}
		s.post(sessionEvent{kind: evData, data: &DataEvent{Kind: DataOpen, Label: dc.Label()}})
		s.goFunc(s.pingLoop)
	})
	dc.OnClose(func() {
		if s.ctx.Err() == nil { // the master closed it, not our teardown
			s.post(sessionEvent{kind: evData, data: &DataEvent{Kind: DataClosed, Label: dc.Label()}})
		}
	})
	dc.OnMessage(s.onDataMessage)
	pc.OnDataChannel(func(theirs *webrtc.DataChannel) { theirs.OnMessage(s.onDataMessage) })
	return nil
}

// onDataMessage reports a message from the master, or the round trip of an
// echoed ping.
func (s *session) onDataMessage(msg webrtc.DataChannelMessage) {
	text := string(msg.Data)
	if seq, ok := parsePing(text); ok {
		s.data.mu.Lock()
		sent, mine := s.data.pings[seq]
		delete(s.data.pings, seq)
		s.data.mu.Unlock()
		if mine {
			rtt := time.Since(sent)
			s.data.mu.Lock()
			s.data.rtt = rtt
			s.data.mu.Unlock()
			s.post(sessionEvent{kind: evData, data: &DataEvent{Kind: DataRTT, RTT: rtt}})
		}
		return
	}
	if len(text) > MaxMessageBytes {
		text = text[:MaxMessageBytes]
	}
	s.post(sessionEvent{kind: evData, data: &DataEvent{Kind: DataMessage, Text: text, FromMaster: true}})
}

// pingInterval spaces the data channel's round-trip pings.
const pingInterval = time.Second

// pingLoop sends a ping once a second while the channel is open; pings
// not echoed within ten seconds are forgotten (a peer that does not echo).
func (s *session) pingLoop() {
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			if err := s.ping(now); err != nil {
				return // the channel closed
			}
		}
	}
}

func (s *session) ping(now time.Time) error {
	d := &s.data
	d.mu.Lock()
	if d.dc.ReadyState() != webrtc.DataChannelStateOpen {
		d.mu.Unlock()
		return ErrNoDataChannel
	}
	for seq, sent := range d.pings {
		if now.Sub(sent) > 10*time.Second {
			delete(d.pings, seq)
		}
	}
	d.seq++
	seq := d.seq
	d.pings[seq] = now
	dc := d.dc
	d.mu.Unlock()
	return dc.SendText(pingPrefix + strconv.FormatUint(seq, 10) + " " + strconv.FormatInt(now.UnixMilli(), 10))
}

// parsePing returns the sequence number of a ping message.
func parsePing(text string) (uint64, bool) {
	rest, ok := strings.CutPrefix(text, pingPrefix)
	if !ok {
		return 0, false
	}
	seqText, _, _ := strings.Cut(rest, " ")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	return seq, err == nil
}

// sendMessage sends text to the master on the data channel.
func (s *session) sendMessage(text string) error {
	if len(text) > MaxMessageBytes {
		return fmt.Errorf("message of %d bytes: at most %d", len(text), MaxMessageBytes)
	}
	d := &s.data
	d.mu.Lock()
	dc := d.dc
	d.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrNoDataChannel
	}
	if err := dc.SendText(text); err != nil {
		return fmt.Errorf("send on the data channel: %w", err)
	}
	s.post(sessionEvent{kind: evData, data: &DataEvent{Kind: DataMessage, Text: text}})
	return nil
}
