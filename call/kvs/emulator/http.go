// The HTTP front of the emulator: serveHTTP routes a request to the signaling
// handshake or a control-plane operation; AWS REST-JSON errors and answers;
// and the helpers of the operation handlers (input decoding, ChannelInfo,
// lookup by ARN).

package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxRequestBody bounds control-plane request bodies.
const maxRequestBody = 1 << 20

// apiError is an AWS REST-JSON error: the SDK reads the code from the X-Amzn-ErrorType
// header (falling back to the body's __type) and the message from the body.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errInvalidArgument(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidArgumentException", fmt.Sprintf(format, args...)}
}

// errChannelNotFound is the service's answer for a channel that does not exist.
func errChannelNotFound() *apiError {
	return &apiError{http.StatusNotFound, "ResourceNotFoundException", "The requested channel is not found or not active."}
}

// writeAPIError writes err in the AWS REST-JSON error shape.
func (e *Emulator) writeAPIError(w http.ResponseWriter, err *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", err.code)
	h.Set("X-Amzn-RequestId", e.newRequestID())
	w.WriteHeader(err.status)
	body, _ := json.Marshal(map[string]string{"__type": err.code, "message": err.message})
	_, _ = w.Write(body)
}

func (e *Emulator) writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		e.writeAPIError(w, &apiError{http.StatusInternalServerError, "InternalFailure", "internal error"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-RequestId", e.newRequestID())
	_, _ = w.Write(body)
}

// serveHTTP routes signaling WebSocket handshakes and control-plane POSTs.
func (e *Emulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	upgrade := r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if fault := e.takeStall(upgrade); fault != "" {
		e.stall(w, r, fault)
		return
	}
	if upgrade {
		e.serveSignaling(w, r)
		return
	}
	entry, ok := operations[r.URL.Path]
	if !ok || r.Method != http.MethodPost {
		e.writeAPIError(w, &apiError{http.StatusNotFound, "UnknownOperationException", "Unknown operation"})
		return
	}
	if fault, refusal := e.takeReject(r, entry.name); refusal != nil {
		e.record(Event{Kind: EventFault, Action: entry.name, Detail: fault})
		e.writeAPIError(w, refusal)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		e.writeAPIError(w, errInvalidArgument("request body: %v", err))
		return
	}
	if _, err := VerifyRequest(r, body, e.cfg.Region, e.lookupCredential, e.now()); err != nil {
		var aerr *AuthError
		if !errors.As(err, &aerr) {
			aerr = authErr(http.StatusForbidden, "AccessDeniedException", "auth", "%v", err)
		}
		e.record(Event{Kind: EventAuthFailure, Action: entry.name, Detail: aerr.Reason})
		e.writeAPIError(w, &apiError{aerr.Status, aerr.Code, aerr.Message})
		return
	}
	out, aerr := entry.op(e, r, body)
	if aerr != nil {
		e.record(Event{Kind: EventControlPlane, Action: entry.name, Detail: aerr.code})
		e.writeAPIError(w, aerr)
		return
	}
	e.record(Event{Kind: EventControlPlane, Action: entry.name, Detail: "ok"})
	e.writeJSON(w, out)
}

func decodeInput(body []byte, v any) *apiError {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", "request body is not valid JSON for this operation"}
	}
	return nil
}

// channelInfo is the ChannelInfo shape of the API.
type channelInfo struct {
	ChannelARN                string           `json:"ChannelARN"`
	ChannelName               string           `json:"ChannelName"`
	ChannelStatus             string           `json:"ChannelStatus"`
	ChannelType               string           `json:"ChannelType"`
	CreationTime              float64          `json:"CreationTime"`
	SingleMasterConfiguration singleMasterConf `json:"SingleMasterConfiguration"`
	Version                   string           `json:"Version"`
}

type singleMasterConf struct {
	MessageTTLSeconds *int `json:"MessageTtlSeconds,omitempty"`
}

func (ch *channel) info() channelInfo {
	ttl := int(ch.ttl / time.Second)
	return channelInfo{
		ChannelARN:                ch.arn,
		ChannelName:               ch.name,
		ChannelStatus:             "ACTIVE",
		ChannelType:               "SINGLE_MASTER",
		CreationTime:              float64(ch.created.UnixMilli()) / 1000,
		SingleMasterConfiguration: singleMasterConf{MessageTTLSeconds: &ttl},
		Version:                   ch.version,
	}
}

// channelByARNLocked finds a channel by ARN; the caller holds e.mu.
func (e *Emulator) channelByARNLocked(arn string) *channel {
	for _, ch := range e.channels {
		if ch.arn == arn {
			return ch
		}
	}
	return nil
}
