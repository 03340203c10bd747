package emulator

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// startRelayEmulator starts an emulator for the relay tests (which set their
// faults once the allocation is up, as at run time).
func startRelayEmulator(t *testing.T) *Emulator {
	t.Helper()
	e, err := Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// allocate makes a TURN allocation on e's server with the credentials
// GetIceServerConfig hands out, and returns its relayed socket.
func allocate(t *testing.T, e *Emulator) net.PacketConn {
	t.Helper()
	srv, err := e.turn.iceServer("relay-test")
	if err != nil {
		t.Fatal(err)
	}
	conn := listenUDP(t)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: e.TURNAddr(), TURNServerAddr: e.TURNAddr(), Conn: conn,
		Username: srv.Username, Password: srv.Password, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = relay.Close()
		client.Close()
	})
	return relay
}

func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// stamped is a test packet: its number and when it was sent.
func stamped(n int) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(n))
	binary.BigEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
	return b
}

// arrival is a test packet as received.
type arrival struct {
	n        int
	sent, at time.Time
}

// receive reads stamped packets from pc until idle passes without one. It
// may run on its own goroutine: it reports errors with t.Error.
func receive(t *testing.T, pc net.PacketConn, idle time.Duration) []arrival {
	t.Helper()
	var out []arrival
	buf := make([]byte, 1600)
	for {
		if err := pc.SetReadDeadline(time.Now().Add(idle)); err != nil {
			t.Error(err)
			return out
		}
		n, _, err := pc.ReadFrom(buf)
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return out
		}
		if err != nil {
			t.Error(err)
			return out
		}
		if n != 16 {
			continue
		}
		out = append(out, arrival{n: int(binary.BigEndian.Uint64(buf)),
			sent: time.Unix(0, int64(binary.BigEndian.Uint64(buf[8:]))), at: time.Now()})
	}
}

// send sends count stamped packets from pc to dst, one every gap. It may
// run on its own goroutine: it reports errors with t.Error.
func send(t *testing.T, pc net.PacketConn, dst net.Addr, count int, gap time.Duration) {
	t.Helper()
	for i := range count {
		if _, err := pc.WriteTo(stamped(i), dst); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(gap)
	}
}

// exchange sends count packets each way between the allocation's client
// (relay) and a peer at the same time, and returns what each side received.
func exchange(t *testing.T, relay, peer net.PacketConn, count int, gap time.Duration) (atPeer, atClient []arrival) {
	t.Helper()
	// The first packet creates the permission that lets the peer's packets in.
	if _, err := relay.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	peerGot, clientGot := make(chan []arrival, 1), make(chan []arrival, 1)
	go func() { peerGot <- receive(t, peer, time.Second) }()
	go func() { clientGot <- receive(t, relay, time.Second) }()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		send(t, peer, relay.LocalAddr(), count, gap)
	}()
	send(t, relay, peer.LocalAddr(), count, gap)
	<-sent
	return <-peerGot, <-clientGot
}

func TestRelayWithoutFaultsCountsAndRecords(t *testing.T) {
	e := startRelayEmulator(t)
	relay := allocate(t, e)
	peer := listenUDP(t)
	if _, err := relay.WriteTo(stamped(0), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	got := receive(t, peer, 500*time.Millisecond)
	send(t, peer, relay.LocalAddr(), 1, 0)
	back := receive(t, relay, 500*time.Millisecond)
	if len(got) != 1 || len(back) != 1 {
		t.Fatalf("peer got %d, client got %d packets, want 1 each", len(got), len(back))
	}
	st := e.RelayStats()
	if st.Allocations != 1 || st.Active != 1 || st.Packets != 2 || st.Bytes != 32 || st.Lost+st.BlackedOut+st.Delayed != 0 {
		t.Fatalf("stats %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := e.WaitEvent(ctx, func(ev Event) bool {
		return ev.Kind == EventTURN && ev.Action == "allocate" && ev.Detail == relay.LocalAddr().String()
	}); err != nil {
		t.Fatal(err)
	}
	if err := relay.Close(); err != nil { // a Refresh with lifetime 0: the allocation goes
		t.Fatal(err)
	}
	if _, err := e.WaitEvent(ctx, func(ev Event) bool { return ev.Kind == EventTURN && ev.Action == "release" }); err != nil {
		t.Fatal(err)
	}
	if st := e.RelayStats(); st.Active != 0 {
		t.Fatalf("after the release: %+v", st)
	}
}

// TestRelayDelay: each direction is held for the delay, in order, and not
// more (both ends are one client and one peer: each packet crosses the relay once).
func TestRelayDelay(t *testing.T) {
	e := startRelayEmulator(t)
	relay := allocate(t, e)
	peer := listenUDP(t)
	const delay = 150 * time.Millisecond
	e.SetFaults(Faults{RelayDelay: delay})
	atPeer, atClient := exchange(t, relay, peer, 40, 5*time.Millisecond)
	for name, got := range map[string][]arrival{"client->peer": atPeer, "peer->client": atClient} {
		if len(got) != 40 {
			t.Fatalf("%s: %d of 40 packets arrived", name, len(got))
		}
		for i, a := range got {
			if a.n != i {
				t.Fatalf("%s: packet %d arrived as number %d: reordered", name, a.n, i)
			}
			if took := a.at.Sub(a.sent); took < delay || took > delay+time.Second {
				t.Errorf("%s: packet %d took %s, want %s and a little", name, i, took, delay)
			}
		}
	}
	if st := e.RelayStats(); st.Delayed < 80 || st.Lost+st.BlackedOut+st.Overflow != 0 {
		t.Errorf("stats %+v, want 80 delayed", st)
	}

	// Lifted: packets go at once again, still in order.
	e.SetFaults(Faults{})
	atPeer, _ = exchange(t, relay, peer, 10, time.Millisecond)
	for i, a := range atPeer {
		if a.n != i || a.at.Sub(a.sent) > 100*time.Millisecond {
			t.Errorf("without delay: packet %d (number %d) took %s", i, a.n, a.at.Sub(a.sent))
		}
	}
}

// TestRelayDelayBetweenTwoAllocations: when both peers use the relay, a
// packet crosses two relay sockets but is held once.
func TestRelayDelayBetweenTwoAllocations(t *testing.T) {
	e := startRelayEmulator(t)
	a, b := allocate(t, e), allocate(t, e)
	const delay = 300 * time.Millisecond
	// Permissions both ways first, then the delay.
	for _, pair := range [][2]net.PacketConn{{a, b}, {b, a}} {
		if _, err := pair[0].WriteTo([]byte("hello"), pair[1].LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	e.SetFaults(Faults{RelayDelay: delay})
	before := e.RelayStats().Packets
	done := make(chan []arrival, 1)
	go func() { done <- receive(t, b, time.Second) }()
	send(t, a, b.LocalAddr(), 5, 10*time.Millisecond)
	got := <-done
	if len(got) != 5 {
		t.Fatalf("%d of 5 packets arrived", len(got))
	}
	for _, p := range got {
		if took := p.at.Sub(p.sent); took < delay || took >= 2*delay-50*time.Millisecond {
			t.Errorf("packet %d took %s: want one delay of %s, not two", p.n, took, delay)
		}
	}
	if n := e.RelayStats().Packets - before; n != 5 {
		t.Errorf("the faults met %d packets, want each of the 5 once", n)
	}
}

func TestRelayLoss(t *testing.T) {
	e := startRelayEmulator(t)
	relay := allocate(t, e)
	peer := listenUDP(t)
	e.SetFaults(Faults{RelayLoss: 30})
	const count = 300
	atPeer, atClient := exchange(t, relay, peer, count, time.Millisecond)
	st := e.RelayStats()
	got := len(atPeer) + len(atClient)
	// 600 packets at 30%: 420 expected, 3.5 sigma is about 40.
	if got < 370 || got > 470 {
		t.Errorf("%d of %d packets arrived at 30%% loss", got, 2*count)
	}
	// The faults met the test's packets and the first "hello", which may have been lost too.
	if lost := int(st.Lost); st.Packets != 2*count+1 || (lost+got != 2*count && lost+got != 2*count+1) {
		t.Errorf("met %d, lost %d + arrived %d, want %d sent (and a hello)", st.Packets, lost, got, 2*count)
	}
	for _, side := range [][]arrival{atPeer, atClient} {
		for i := 1; i < len(side); i++ {
			if side[i].n <= side[i-1].n {
				t.Fatalf("packet %d after %d: loss must not reorder", side[i].n, side[i-1].n)
			}
		}
	}
}

// TestRelayBlackout: nothing passes during the blackout's window, which
// starts its delay after the first relayed packet; everything else passes,
// and the window is reported in the stats and the event log.
func TestRelayBlackout(t *testing.T) {
	e := startRelayEmulator(t)
	relay := allocate(t, e)
	peer := listenUDP(t)
	const after, length = 300 * time.Millisecond, 500 * time.Millisecond
	e.SetFaults(Faults{BlackoutFor: length, BlackoutAfter: after})
	start := time.Now()
	atPeer, atClient := exchange(t, relay, peer, 120, 10*time.Millisecond)
	st := e.RelayStats()
	if st.BlackoutStart.Before(start) || st.BlackoutStart.After(start.Add(after+200*time.Millisecond)) ||
		st.BlackoutEnd.Sub(st.BlackoutStart) != length {
		t.Fatalf("blackout window %s-%s, want %s from about %s after %s", st.BlackoutStart, st.BlackoutEnd, length, after, start)
	}
	margin := 50 * time.Millisecond
	for name, got := range map[string][]arrival{"client->peer": atPeer, "peer->client": atClient} {
		var before, afterEnd int
		for _, a := range got {
			switch {
			case a.sent.After(st.BlackoutStart.Add(margin)) && a.sent.Before(st.BlackoutEnd.Add(-margin)):
				t.Errorf("%s: packet %d sent %s into the blackout passed", name, a.n, a.sent.Sub(st.BlackoutStart))
			case a.sent.Before(st.BlackoutStart):
				before++
			case a.sent.After(st.BlackoutEnd):
				afterEnd++
			}
		}
		if before == 0 || afterEnd == 0 || len(got) > 120-15 {
			t.Errorf("%s: %d packets before, %d after the blackout, %d of 120 in all", name, before, afterEnd, len(got))
		}
	}
	if st.BlackedOut < 30 {
		t.Errorf("stats %+v: want about 100 packets blacked out (fewer when sleeps overrun)", st)
	}
	var marks []string
	for _, ev := range e.Events() {
		if ev.Kind == EventFault && ev.Action != "" {
			marks = append(marks, ev.Action)
			if want := map[string]time.Time{"blackout_start": st.BlackoutStart, "blackout_end": st.BlackoutEnd}[ev.Action]; !ev.Time.Equal(want) {
				t.Errorf("%s event at %s, want %s", ev.Action, ev.Time, want)
			}
		}
	}
	if len(marks) != 2 || marks[0] != "blackout_start" || marks[1] != "blackout_end" {
		t.Errorf("blackout events %v", marks)
	}

	// Once over, it stays over; setting the faults again arms a new one.
	atPeer, _ = exchange(t, relay, peer, 10, time.Millisecond)
	if len(atPeer) != 10 {
		t.Errorf("after the blackout %d of 10 packets arrived", len(atPeer))
	}
	e.SetFaults(Faults{BlackoutFor: time.Hour})
	atPeer, _ = exchange(t, relay, peer, 10, time.Millisecond)
	if len(atPeer) != 0 {
		t.Errorf("in a new blackout %d of 10 packets arrived", len(atPeer))
	}
}
