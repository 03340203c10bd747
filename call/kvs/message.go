// Package kvs is the Amazon Kinesis Video Streams WebRTC signaling client:
// the control plane (through aws-sdk-go-v2), the SigV4-presigned WebSocket
// URL, and the JSON message codec spoken on that socket, for both roles.
package kvs

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Action names a message a client sends (the "action" field).
type Action string

// MessageType names a message the service sends (the "messageType" field).
type MessageType string

// The actions a client sends and the message types the service delivers.
const (
	ActionSDPOffer     Action = "SDP_OFFER"
	ActionSDPAnswer    Action = "SDP_ANSWER"
	ActionICECandidate Action = "ICE_CANDIDATE"

	TypeSDPOffer           MessageType = "SDP_OFFER"
	TypeSDPAnswer          MessageType = "SDP_ANSWER"
	TypeICECandidate       MessageType = "ICE_CANDIDATE"
	TypeStatusResponse     MessageType = "STATUS_RESPONSE"
	TypeGoAway             MessageType = "GO_AWAY"
	TypeReconnectICEServer MessageType = "RECONNECT_ICE_SERVER"
)

// Service limits from the KVS WebRTC quotas.
const (
	// MaxPayloadBytes is the largest base64 messagePayload the service accepts.
	MaxPayloadBytes = 10 * 1024
	// MaxIDLength is the longest ClientId or correlationId.
	MaxIDLength = 256
)

// ClientMessage is the JSON text frame a client sends on the signaling socket.
type ClientMessage struct {
	Action            Action `json:"action"`
	MessagePayload    string `json:"messagePayload"`
	RecipientClientID string `json:"recipientClientId,omitempty"`
	CorrelationID     string `json:"correlationId,omitempty"`
}

// StatusResponse reports the outcome of a client message that carried a correlationId.
type StatusResponse struct {
	CorrelationID string `json:"correlationId,omitempty"`
	ErrorType     string `json:"errorType,omitempty"`
	StatusCode    string `json:"statusCode,omitempty"`
	Description   string `json:"description,omitempty"`
}

// ServiceMessage is the JSON text frame the service delivers to a client.
type ServiceMessage struct {
	MessageType    MessageType     `json:"messageType"`
	MessagePayload string          `json:"messagePayload,omitempty"`
	SenderClientID string          `json:"senderClientId,omitempty"`
	StatusResponse *StatusResponse `json:"statusResponse,omitempty"`
}

// SessionDescription is the browser-shaped SDP payload of offers and answers.
type SessionDescription struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// Candidate is the browser-shaped ICE candidate payload (RTCIceCandidateInit).
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Errors returned by validation and decoding.
var (
	ErrInvalidClientID      = errors.New("invalid ClientId")
	ErrInvalidCorrelationID = errors.New("invalid correlationId")
	ErrPayloadTooLarge      = fmt.Errorf("message payload exceeds %d bytes", MaxPayloadBytes)
	ErrMalformedMessage     = errors.New("malformed signaling message")
)

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`)

// ValidateClientID checks a ClientId against the service's rules:
// 1-256 characters of [a-zA-Z0-9_.-], not starting with "AWS_".
func ValidateClientID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidClientID)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidClientID, len(id), MaxIDLength)
	case !idPattern.MatchString(id):
		return fmt.Errorf("%w: only letters, digits, '_', '.' and '-' are allowed", ErrInvalidClientID)
	case strings.HasPrefix(id, "AWS_"):
		return fmt.Errorf("%w: must not start with AWS_", ErrInvalidClientID)
	}
	return nil
}

// ValidateCorrelationID checks a correlationId: empty (absent) or 1-256 characters of [a-zA-Z0-9_.-].
func ValidateCorrelationID(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > MaxIDLength || !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidCorrelationID, truncate(id, 40))
	}
	return nil
}

// EncodePayload base64-encodes the JSON of v as a messagePayload and checks its size.
func EncodePayload(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode payload: %w", err)
	}
	p := base64.StdEncoding.EncodeToString(raw)
	if len(p) > MaxPayloadBytes {
		return "", fmt.Errorf("%w (%d bytes)", ErrPayloadTooLarge, len(p))
	}
	return p, nil
}

// DecodePayload decodes a base64 messagePayload into v.
func DecodePayload(p string, v any) error {
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		// Some peers send unpadded or URL-safe base64; accept those too.
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(p, "=")); err != nil {
			return fmt.Errorf("%w: payload is not base64", ErrMalformedMessage)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: payload is not JSON: %v", ErrMalformedMessage, err)
	}
	return nil
}

// EncodeClientMessage builds the JSON frame for action with payload v.
// recipient is set only by a master; correlationID is optional.
func EncodeClientMessage(action Action, v any, recipient, correlationID string) ([]byte, error) {
	if recipient != "" {
		if err := ValidateClientID(recipient); err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
	}
	if err := ValidateCorrelationID(correlationID); err != nil {
		return nil, err
	}
	p, err := EncodePayload(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ClientMessage{Action: action, MessagePayload: p, RecipientClientID: recipient, CorrelationID: correlationID})
}

// DecodeServiceMessage parses one frame delivered by the service. It never panics;
// anything that is not a known message type with a decodable payload is an error
// wrapping ErrMalformedMessage.
func DecodeServiceMessage(frame []byte) (ServiceMessage, error) {
	var m ServiceMessage
	if err := json.Unmarshal(frame, &m); err != nil {
		return ServiceMessage{}, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	switch m.MessageType {
	case TypeSDPOffer, TypeSDPAnswer, TypeICECandidate:
		if m.MessagePayload == "" {
			return ServiceMessage{}, fmt.Errorf("%w: %s without payload", ErrMalformedMessage, m.MessageType)
		}
	case TypeStatusResponse:
		if m.StatusResponse == nil {
			return ServiceMessage{}, fmt.Errorf("%w: STATUS_RESPONSE without statusResponse", ErrMalformedMessage)
		}
	case TypeGoAway, TypeReconnectICEServer:
	default:
		return ServiceMessage{}, fmt.Errorf("%w: unknown messageType %q", ErrMalformedMessage, truncate(string(m.MessageType), 40))
	}
	return m, nil
}

// DecodeClientMessage parses one frame sent by a client (what the service, or
// the emulator, receives).
func DecodeClientMessage(frame []byte) (ClientMessage, error) {
	var m ClientMessage
	if err := json.Unmarshal(frame, &m); err != nil {
		return ClientMessage{}, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	switch m.Action {
	case ActionSDPOffer, ActionSDPAnswer, ActionICECandidate:
	default:
		return ClientMessage{}, fmt.Errorf("%w: unknown action %q", ErrMalformedMessage, truncate(string(m.Action), 40))
	}
	if m.MessagePayload == "" {
		return ClientMessage{}, fmt.Errorf("%w: empty messagePayload", ErrMalformedMessage)
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
