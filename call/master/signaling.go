// The master's signaling connection: dialing, the loop that handles its
// messages and replaces it on GO_AWAY or when it drops, the ICE
// configuration refresh, and sending on the current connection.

package master

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// dial opens a new signaling connection (a freshly presigned URL).
func (m *Master) dial(ctx context.Context) (*kvs.Conn, error) {
	return kvs.Dial(ctx, kvs.DialOptions{
		Config: m.kcfg, ChannelARN: m.arn, Endpoints: m.ep, Role: kvs.RoleMaster, Logger: m.log,
	})
}

// signalingLoop handles the messages of the current connection and replaces
// the connection on GO_AWAY or when it drops. Live peer connections are kept.
func (m *Master) signalingLoop(conn *kvs.Conn) {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case msg, ok := <-conn.Messages():
			if !ok {
				m.log.Warn("signaling connection dropped; reconnecting", "err", conn.Err())
				_ = conn.Close()
				if conn = m.reconnect(); conn == nil {
					return
				}
				continue
			}
			switch msg.Type {
			case kvs.TypeSDPOffer:
				m.handleOffer(msg.SenderClientID, *msg.Offer)
			case kvs.TypeICECandidate:
				m.handleCandidate(msg.SenderClientID, *msg.Candidate)
			case kvs.TypeGoAway:
				m.log.Info("GO_AWAY: reconnecting signaling")
				old := conn
				if conn = m.reconnect(); conn == nil {
					_ = old.Close()
					return
				}
				_ = old.Close()
			case kvs.TypeReconnectICEServer:
				m.log.Info("RECONNECT_ICE_SERVER: refreshing the ICE configuration")
				m.refreshICE()
			case kvs.TypeStatusResponse:
				m.log.Warn("signaling status response", "status", msg.Status.StatusCode,
					"error", msg.Status.ErrorType, "description", msg.Status.Description)
			}
		}
	}
}

// reconnect dials until a connection opens or the master closes; it returns
// nil in the latter case.
func (m *Master) reconnect() *kvs.Conn {
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		conn, err := m.dial(ctx)
		cancel()
		if err == nil {
			m.mu.Lock()
			if m.closed {
				m.mu.Unlock()
				_ = conn.Close()
				return nil
			}
			m.conn = conn
			m.mu.Unlock()
			m.log.Info("signaling reconnected")
			return conn
		}
		m.log.Warn("signaling reconnect failed", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// refreshICE refetches the ICE configuration for new peer connections. It
// runs in the background so that the signaling loop keeps going.
func (m *Master) refreshICE() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
		defer cancel()
		ice, err := m.cp.GetICEServers(ctx, m.ep, m.arn, "")
		if err != nil {
			m.log.Warn("refresh ICE configuration failed", "err", err)
			return
		}
		m.mu.Lock()
		m.ice = ice
		m.mu.Unlock()
	}()
}

// iceServers returns the current ICE servers, refreshing them in the
// background when the TURN credentials are about to expire.
func (m *Master) iceServers() []webrtc.ICEServer {
	m.mu.Lock()
	ice := m.ice
	m.mu.Unlock()
	if !ice.Expires.IsZero() && time.Until(ice.Expires) < iceRefreshMargin {
		m.refreshICE()
	}
	return ice.Servers
}

// send runs one signaling write on the current connection.
func (m *Master) send(f func(ctx context.Context, c *kvs.Conn) error) error {
	m.mu.Lock()
	c := m.conn
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, sendTimeout)
	defer cancel()
	return f(ctx, c)
}
