package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// turnServer is a real TURN server on UDP whose time-limited long-term credentials
// (TURN REST style, "expiry:user" with an HMAC password) GetIceServerConfig hands out.
// Its relayed packets meet the relay faults (see relay.go).
type turnServer struct {
	srv    *turn.Server
	addr   string // host:port
	secret string
	shaper *relayShaper
}

// relayCloseLimit bounds how long close waits for the allocations' relay
// sockets, which pion closes in the background once its listener is closed.
const relayCloseLimit = 2 * time.Second

// startTURN listens on UDP host:0 and relays from host, with the relay faults
// of f; record gets its allocation and blackout events.
func startTURN(ctx context.Context, host string, f Faults, record func(Event)) (*turnServer, error) {
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("turn server: %q is not an IP address", host)
	}
	network := "udp4"
	if ip.To4() == nil {
		network = "udp6"
	}
	lc := net.ListenConfig{}
	pc, err := lc.ListenPacket(ctx, network, net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("turn server: listen: %w", err)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("turn server: secret: %w", err)
	}
	secret := hex.EncodeToString(buf)
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	shaper := newRelayShaper(f, record)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         "kinesisvideo.emulator",
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(secret, lf.NewLogger("turn")),
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: shapedRelays{
				RelayAddressGeneratorStatic: &turn.RelayAddressGeneratorStatic{RelayAddress: ip, Address: host},
				s:                           shaper,
			},
		}},
	})
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("turn server: %w", err)
	}
	return &turnServer{srv: srv, addr: pc.LocalAddr().String(), secret: secret, shaper: shaper}, nil
}

// iceServer returns a fresh credential for user and the TURN URI.
func (t *turnServer) iceServer(user string) (iceServer, error) {
	username, password, err := turn.GenerateLongTermTURNRESTCredentials(t.secret, user, TURNCredentialTTL)
	if err != nil {
		return iceServer{}, fmt.Errorf("turn credentials: %w", err)
	}
	return iceServer{
		Uris:     []string{"turn:" + t.addr + "?transport=udp"},
		Username: username,
		Password: password,
		TTL:      int(TURNCredentialTTL.Seconds()),
	}, nil
}

// close stops the server and waits (a little) for its relay sockets to close.
func (t *turnServer) close() error {
	if err := t.srv.Close(); err != nil {
		return fmt.Errorf("turn server: %w", err)
	}
	if !t.shaper.wait(relayCloseLimit) {
		return fmt.Errorf("turn server: relay allocations still open %s after close", relayCloseLimit)
	}
	return nil
}

// iceServer is one IceServerList entry of GetIceServerConfig.
type iceServer struct {
	Uris     []string `json:"Uris"`
	Username string   `json:"Username"`
	Password string   `json:"Password"`
	TTL      int      `json:"Ttl"`
}
