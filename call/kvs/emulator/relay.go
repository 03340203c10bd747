package emulator

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// The relay faults (loss, delay, blackout) act in the TURN server's packet
// path: each allocation's relay socket (the one that talks to the peers) is
// wrapped, so exactly the relayed packets pass through them, in both
// directions, and TURN's own requests on the server's listening socket never
// do. A packet from a client to its peer passes the fault in the relay
// socket's WriteTo, a packet from a peer to the client in its ReadFrom. When
// both peers use this server, a packet crosses two relay sockets: it meets
// the faults only at the receiving one, never twice.

// maxDelayQueue bounds the packets one direction of one allocation holds
// for the delay fault; more are dropped, as by a router whose queue is full.
const maxDelayQueue = 4096

// RelayStats counts what the TURN server relayed since Start (SetFaults does
// not reset them).
type RelayStats struct {
	Allocations int    // relay allocations made
	Active      int    // relay allocations alive now
	Packets     uint64 // relayed packets that met the faults, both directions (delivered or dropped)
	Bytes       uint64 // their bytes
	Lost        uint64 // packets dropped by the loss fault
	BlackedOut  uint64 // packets dropped by the blackout
	Delayed     uint64 // packets held by the delay fault
	Overflow    uint64 // packets dropped because a delay queue was full
	// BlackoutStart and BlackoutEnd are the blackout's window once its clock
	// has started (zero before, or without a blackout fault).
	BlackoutStart, BlackoutEnd time.Time
}

// relayFaults are the faults of Faults that act on relayed packets.
type relayFaults struct {
	loss     float64 // probability, 0-1
	delay    time.Duration
	blackout time.Duration
	after    time.Duration
}

func relayFaultsOf(f Faults) relayFaults {
	return relayFaults{loss: f.RelayLoss / 100, delay: f.RelayDelay, blackout: f.BlackoutFor, after: f.BlackoutAfter}
}

// relayShaper decides the fate of every relayed packet and counts them. One
// serves all allocations of the TURN server.
type relayShaper struct {
	record func(Event)
	conns  sync.WaitGroup // relay sockets not yet closed

	mu       sync.Mutex
	f        relayFaults
	first    time.Time // the first packet relayed since the faults were set; zero before
	inWindow bool      // the blackout's start was recorded
	over     bool      // the blackout's end was recorded
	relays   map[netip.AddrPort]bool
	stats    RelayStats
}

func newRelayShaper(f Faults, record func(Event)) *relayShaper {
	return &relayShaper{record: record, f: relayFaultsOf(f), relays: map[netip.AddrPort]bool{}}
}

// set puts the relay faults of f in force and starts the blackout's clock anew.
func (s *relayShaper) set(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = relayFaultsOf(f)
	s.first, s.inWindow, s.over = time.Time{}, false, false
}

// snapshot returns the counters and the blackout's window.
func (s *relayShaper) snapshot() RelayStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if s.f.blackout > 0 && !s.first.IsZero() {
		st.BlackoutStart = s.first.Add(s.f.after)
		st.BlackoutEnd = st.BlackoutStart.Add(s.f.blackout)
	}
	return st
}

// fate is what happens to one packet: dropped, or delivered after delay.
type fate struct {
	drop  bool
	delay time.Duration
}

// judge decides the fate of a relayed packet of n bytes that arrived now.
func (s *relayShaper) judge(n int, now time.Time) fate {
	s.mu.Lock()
	s.stats.Packets++
	s.stats.Bytes += uint64(n)
	if s.first.IsZero() {
		s.first = now
	}
	dark, events := s.blackedOut(now)
	var ft fate
	switch {
	case dark:
		s.stats.BlackedOut++
		ft.drop = true
	case s.f.loss > 0 && rand.Float64() < s.f.loss:
		s.stats.Lost++
		ft.drop = true
	case s.f.delay > 0:
		s.stats.Delayed++
		ft.delay = s.f.delay
	}
	s.mu.Unlock()
	for _, ev := range events {
		s.record(ev)
	}
	return ft
}

// blackedOut reports whether now is in the blackout, and the events that
// mark its start and end the first time a packet sees them (timed when they
// happened, not when they were noticed). s.mu is held.
func (s *relayShaper) blackedOut(now time.Time) (bool, []Event) {
	if s.f.blackout == 0 {
		return false, nil
	}
	start := s.first.Add(s.f.after)
	end := start.Add(s.f.blackout)
	if now.Before(start) {
		return false, nil
	}
	var events []Event
	if !s.inWindow {
		s.inWindow = true
		events = append(events, Event{Time: start, Kind: EventFault, Action: "blackout_start",
			Detail: "relay blackout for " + s.f.blackout.String()})
	}
	if now.Before(end) {
		return true, events
	}
	if !s.over {
		s.over = true
		events = append(events, Event{Time: end, Kind: EventFault, Action: "blackout_end", Detail: "relay blackout over"})
	}
	return false, events
}

// isRelay reports whether addr is the relay address of one of our allocations.
func (s *relayShaper) isRelay(addr net.Addr) bool {
	ap, ok := addrPort(addr)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relays[ap]
}

func addrPort(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// wrap returns the relay socket pc of a new allocation at relay address
// relay, with the faults applied.
func (s *relayShaper) wrap(pc net.PacketConn, relay net.Addr) *shapedConn {
	ap, _ := addrPort(relay)
	s.mu.Lock()
	s.relays[ap] = true
	s.stats.Allocations++
	s.stats.Active++
	s.mu.Unlock()
	s.conns.Add(1)
	s.record(Event{Kind: EventTURN, Action: "allocate", Detail: relay.String()})
	c := &shapedConn{PacketConn: pc, s: s, relay: ap, relayAddr: relay.String(),
		out: make(chan delayed, maxDelayQueue), closed: make(chan struct{})}
	c.sender.Go(c.sendLoop)
	return c
}

// release forgets the relay socket at ap, which was closed.
func (s *relayShaper) release(ap netip.AddrPort, relay string) {
	s.mu.Lock()
	delete(s.relays, ap)
	s.stats.Active--
	s.mu.Unlock()
	s.record(Event{Kind: EventTURN, Action: "release", Detail: relay})
	s.conns.Done()
}

// overflow counts a packet a full delay queue dropped.
func (s *relayShaper) overflow() {
	s.mu.Lock()
	s.stats.Overflow++
	s.mu.Unlock()
}

// wait waits up to limit for every relay socket to be closed.
func (s *relayShaper) wait(limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// delayed is a packet held by the delay fault until due.
type delayed struct {
	due  time.Time
	data []byte
	addr net.Addr
}

// shapedConn is one allocation's relay socket with the relay faults applied.
type shapedConn struct {
	net.PacketConn
	s         *relayShaper
	relay     netip.AddrPort
	relayAddr string

	in       []delayed // peer -> client packets held; ReadFrom's goroutine only
	deadline bool      // ReadFrom set a read deadline for in's head

	out        chan delayed   // client -> peer packets held, sent by sendLoop
	outPending atomic.Int32   // packets in out or being sent
	sender     sync.WaitGroup // sendLoop

	closeOnce sync.Once
	closed    chan struct{}
}

// WriteTo carries a client's packet to its peer at addr.
func (c *shapedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.s.isRelay(addr) {
		// To another allocation of ours: the faults meet it there, on arrival.
		return c.PacketConn.WriteTo(p, addr)
	}
	now := time.Now()
	ft := c.s.judge(len(p), now)
	if ft.drop {
		return len(p), nil
	}
	if ft.delay == 0 && c.outPending.Load() == 0 {
		return c.PacketConn.WriteTo(p, addr)
	}
	// Held (or behind held packets: never overtake them).
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.outPending.Add(1)
	select {
	case c.out <- delayed{due: now.Add(ft.delay), data: append([]byte(nil), p...), addr: addr}:
	default:
		c.outPending.Add(-1)
		c.s.overflow()
	}
	return len(p), nil
}

// sendLoop sends the held client -> peer packets in order, each when due.
func (c *shapedConn) sendLoop() {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		var d delayed
		select {
		case d = <-c.out:
		case <-c.closed:
			return
		}
		if wait := time.Until(d.due); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-c.closed:
				return
			}
		}
		_, _ = c.PacketConn.WriteTo(d.data, d.addr) // UDP: a failed send is a lost packet
		c.outPending.Add(-1)
	}
}

// ReadFrom returns the next packet from a peer for the client, once its
// delay is over; dropped packets are never returned.
func (c *shapedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if len(c.in) > 0 {
			head := c.in[0]
			if !time.Now().Before(head.due) {
				c.in[0] = delayed{}
				c.in = c.in[1:]
				return copy(p, head.data), head.addr, nil
			}
			c.setDeadline(head.due)
		} else if c.deadline {
			c.setDeadline(time.Time{})
		}
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && len(c.in) > 0 {
				continue // the head is due
			}
			return n, addr, err
		}
		now := time.Now()
		ft := c.s.judge(n, now)
		switch {
		case ft.drop:
		case ft.delay == 0 && len(c.in) == 0:
			return n, addr, nil
		case len(c.in) >= maxDelayQueue:
			c.s.overflow()
		default:
			c.in = append(c.in, delayed{due: now.Add(ft.delay), data: append([]byte(nil), p[:n]...), addr: addr})
		}
	}
}

// setDeadline sets the socket's read deadline (zero: none) for ReadFrom.
func (c *shapedConn) setDeadline(t time.Time) {
	_ = c.SetReadDeadline(t) // fails only when closed: the read then fails too
	c.deadline = !t.IsZero()
}

// Close closes the relay socket and drops the packets it still holds.
func (c *shapedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.PacketConn.Close()
		c.sender.Wait()
		c.s.release(c.relay, c.relayAddr)
	})
	return err
}

// shapedRelays is the TURN server's relay address generator: pion's static
// one, with every relay socket it makes wrapped by the shaper.
type shapedRelays struct {
	*turn.RelayAddressGeneratorStatic
	s *relayShaper
}

// AllocatePacketConn implements turn.RelayAddressGenerator.
func (g shapedRelays) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := g.RelayAddressGeneratorStatic.AllocatePacketConn(conf)
	if err != nil {
		return nil, nil, err
	}
	return g.s.wrap(pc, addr), addr, nil
}
