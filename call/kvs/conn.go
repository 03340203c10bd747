// An open signaling connection (Conn): the read loop that turns frames into
// typed Messages, Close, and the Send methods. Opening one is in dial.go.

package kvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// readLimit bounds one received frame; payloads are at most 10 KB of base64 plus envelope.
const readLimit = 64 * 1024

// messageBuffer is how many received messages wait for the consumer before the read loop blocks.
const messageBuffer = 64

// Message is one typed message delivered by the signaling service.
type Message struct {
	// Type is the service's messageType.
	Type MessageType
	// SenderClientID is the sender's ClientId (empty for messages from a master to a viewer).
	SenderClientID string
	// Offer is set for TypeSDPOffer.
	Offer *webrtc.SessionDescription
	// Answer is set for TypeSDPAnswer.
	Answer *webrtc.SessionDescription
	// Candidate is set for TypeICECandidate.
	Candidate *webrtc.ICECandidateInit
	// Status is set for TypeStatusResponse.
	Status *StatusResponse
	// Received is when the frame was read.
	Received time.Time
}

// Conn is an open signaling connection. Its methods are safe for concurrent use.
type Conn struct {
	ws       *websocket.Conn
	role     Role
	clientID string
	log      *slog.Logger

	msgs      chan Message
	done      chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	malformed atomic.Int64

	// The service refuses what a connection sends beyond SDPMessagesPerSecond
	// offers and answers, or ICEMessagesPerSecond candidates: sends wait
	// their turn instead (a master answering ten viewers at once, a viewer
	// trickling many candidates).
	sdpPace, icePace *rate.Limiter

	mu  sync.Mutex
	err error
}

// The service's limits (kvs-signaling.md, "Limits"): message rates per
// connection, and viewers per channel at once.
const (
	SDPMessagesPerSecond = 5
	ICEMessagesPerSecond = 20
	MaxViewersPerChannel = 10
)

// Messages returns the stream of received messages; it is closed when the connection ends.
func (c *Conn) Messages() <-chan Message { return c.msgs }

// Done is closed when the socket is gone and the read loop has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err tells why the connection ended: nil while open and after our own Close,
// otherwise an error wrapping ErrSignalingClosed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Malformed counts received frames that did not decode (they are ignored).
func (c *Conn) Malformed() int64 { return c.malformed.Load() }

// Close closes the connection with a normal close code and waits for the read
// loop to end. It is idempotent; after it returns no goroutine of c remains.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		cerr := c.ws.Close(websocket.StatusNormalClosure, "")
		<-c.done
		// A socket that had already ended reports that through Err, not here.
		if cerr != nil && c.Err() == nil && !isClosedErr(cerr) {
			err = fmt.Errorf("close signaling connection: %w", cerr)
		}
	})
	return err
}

func isClosedErr(err error) bool {
	var ce websocket.CloseError
	return errors.As(err, &ce) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "already wrote close")
}

// readLoop reads frames until the socket ends, delivering typed messages.
func (c *Conn) readLoop() {
	defer close(c.done)
	defer close(c.msgs)
	// The read context is never tied to a caller's: ending it would drop the socket.
	ctx := context.Background()
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			c.finish(err)
			return
		}
		if typ != websocket.MessageText {
			c.countMalformed(fmt.Errorf("%w: binary frame", ErrMalformedMessage))
			continue
		}
		m, err := parseMessage(frame, time.Now())
		if err != nil {
			c.countMalformed(err)
			continue
		}
		select {
		case c.msgs <- m:
		case <-c.closing:
			// Keep reading so Close's handshake completes; drop what nobody will read.
		}
	}
}

func (c *Conn) countMalformed(err error) {
	c.malformed.Add(1)
	c.log.Debug("ignored malformed signaling frame", "err", err)
}

// finish records why the read loop ended.
func (c *Conn) finish(err error) {
	select {
	case <-c.closing:
		return // our own Close
	default:
	}
	code := websocket.CloseStatus(err)
	var e error
	if code == -1 {
		e = fmt.Errorf("%w: %v", ErrSignalingClosed, err)
	} else {
		e = fmt.Errorf("%w by the service (close code %d %s)", ErrSignalingClosed, int(code), code)
	}
	c.mu.Lock()
	c.err = e
	c.mu.Unlock()
	c.log.Debug("signaling connection ended", "err", e)
}

// parseMessage decodes one service frame into a typed Message.
func parseMessage(frame []byte, received time.Time) (Message, error) {
	sm, err := DecodeServiceMessage(frame)
	if err != nil {
		return Message{}, err
	}
	m := Message{Type: sm.MessageType, SenderClientID: sm.SenderClientID, Received: received}
	switch sm.MessageType {
	case TypeSDPOffer, TypeSDPAnswer:
		want := "offer"
		if sm.MessageType == TypeSDPAnswer {
			want = "answer"
		}
		var sd SessionDescription
		if err := DecodePayload(sm.MessagePayload, &sd); err != nil {
			return Message{}, err
		}
		if sd.Type == "" {
			sd.Type = want
		}
		if sd.Type != want || sd.SDP == "" {
			return Message{}, fmt.Errorf("%w: %s with type %q and %d bytes of SDP", ErrMalformedMessage, sm.MessageType, truncate(sd.Type, 20), len(sd.SDP))
		}
		desc := &webrtc.SessionDescription{Type: webrtc.NewSDPType(want), SDP: sd.SDP}
		if sm.MessageType == TypeSDPOffer {
			m.Offer = desc
		} else {
			m.Answer = desc
		}
	case TypeICECandidate:
		var cand Candidate
		if err := DecodePayload(sm.MessagePayload, &cand); err != nil {
			return Message{}, err
		}
		m.Candidate = &webrtc.ICECandidateInit{
			Candidate:        cand.Candidate,
			SDPMid:           cand.SDPMid,
			SDPMLineIndex:    cand.SDPMLineIndex,
			UsernameFragment: cand.UsernameFragment,
		}
	case TypeStatusResponse:
		s := *sm.StatusResponse
		m.Status = &s
	}
	return m, nil
}

// SendOffer sends an SDP offer (viewer only; it goes to the master).
func (c *Conn) SendOffer(ctx context.Context, sd webrtc.SessionDescription, correlationID string) error {
	if c.role != RoleViewer {
		return fmt.Errorf("send offer: %w: only a viewer sends offers here", ErrWrongRole)
	}
	return c.send(ctx, ActionSDPOffer, SessionDescription{Type: sd.Type.String(), SDP: sd.SDP}, "", correlationID)
}

// SendAnswer sends an SDP answer to the viewer recipient (master only).
func (c *Conn) SendAnswer(ctx context.Context, sd webrtc.SessionDescription, recipient, correlationID string) error {
	if c.role != RoleMaster {
		return fmt.Errorf("send answer: %w: only a master sends answers", ErrWrongRole)
	}
	return c.send(ctx, ActionSDPAnswer, SessionDescription{Type: sd.Type.String(), SDP: sd.SDP}, recipient, correlationID)
}

// SendCandidate sends an ICE candidate; recipient is "" for a viewer and the
// viewer's ClientId for a master.
func (c *Conn) SendCandidate(ctx context.Context, cand webrtc.ICECandidateInit, recipient, correlationID string) error {
	return c.send(ctx, ActionICECandidate, Candidate{
		Candidate:        cand.Candidate,
		SDPMid:           cand.SDPMid,
		SDPMLineIndex:    cand.SDPMLineIndex,
		UsernameFragment: cand.UsernameFragment,
	}, recipient, correlationID)
}

// send validates, encodes and writes one client message. A ctx that ends
// during the write drops the socket (coder/websocket semantics).
func (c *Conn) send(ctx context.Context, action Action, payload any, recipient, correlationID string) error {
	op := "send " + string(action)
	switch {
	case c.role == RoleViewer && recipient != "":
		return fmt.Errorf("%s: %w: a viewer's messages go to the master and carry no recipient", op, ErrWrongRole)
	case c.role == RoleMaster && recipient == "":
		return fmt.Errorf("%s: %w: a master must name the recipient viewer", op, ErrWrongRole)
	}
	frame, err := EncodeClientMessage(action, payload, recipient, correlationID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	pace := c.sdpPace
	if action == ActionICECandidate {
		pace = c.icePace
	}
	if err := pace.Wait(ctx); err != nil {
		return fmt.Errorf("%s: waiting for the service's message rate: %w", op, err)
	}
	select {
	case <-c.done:
		return fmt.Errorf("%s: %w", op, ErrNotConnected)
	case <-c.closing:
		return fmt.Errorf("%s: %w", op, ErrNotConnected)
	default:
	}
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		select {
		case <-c.done:
			return fmt.Errorf("%s: %w: %v", op, ErrNotConnected, err)
		default:
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
