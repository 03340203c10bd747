package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// turnServer is a real TURN server on UDP whose time-limited long-term credentials
// (TURN REST style, "expiry:user" with an HMAC password) GetIceServerConfig hands out.
type turnServer struct {
	srv    *turn.Server
	addr   string // host:port
	secret string
}

// startTURN listens on UDP host:0 and relays from host.
func startTURN(ctx context.Context, host string) (*turnServer, error) {
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
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         "kinesisvideo.emulator",
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(secret, lf.NewLogger("turn")),
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: ip, Address: host},
		}},
	})
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("turn server: %w", err)
	}
	return &turnServer{srv: srv, addr: pc.LocalAddr().String(), secret: secret}, nil
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

func (t *turnServer) close() error {
	if err := t.srv.Close(); err != nil {
		return fmt.Errorf("turn server: %w", err)
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
