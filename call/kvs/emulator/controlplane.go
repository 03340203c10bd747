package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
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

// operation is one POST API of the control plane or of the signaling HTTPS endpoint.
type operation func(e *Emulator, r *http.Request, body []byte) (any, *apiError)

var operations = map[string]struct {
	name string
	op   operation
}{
	"/describeSignalingChannel":    {"DescribeSignalingChannel", (*Emulator).opDescribe},
	"/getSignalingChannelEndpoint": {"GetSignalingChannelEndpoint", (*Emulator).opGetEndpoint},
	"/createSignalingChannel":      {"CreateSignalingChannel", (*Emulator).opCreate},
	"/listSignalingChannels":       {"ListSignalingChannels", (*Emulator).opList},
	"/deleteSignalingChannel":      {"DeleteSignalingChannel", (*Emulator).opDelete},
	"/v1/get-ice-server-config":    {"GetIceServerConfig", (*Emulator).opGetIceServerConfig},
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

// takeStall consumes one stall-ws (for a WebSocket upgrade) or stall-http
// fault and returns its name, or "" when none applies.
func (e *Emulator) takeStall(upgrade bool) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case upgrade && e.faults.StallWS > 0:
		e.faults.StallWS--
		return "stall-ws"
	case !upgrade && e.faults.StallHTTP > 0:
		e.faults.StallHTTP--
		return "stall-http"
	}
	return ""
}

// stall leaves r unanswered, as a black-holed endpoint would: it waits until
// the client gives up or the emulator closes, then drops the connection
// without a response.
func (e *Emulator) stall(w http.ResponseWriter, r *http.Request, fault string) {
	action := "CONNECT"
	if entry, ok := operations[r.URL.Path]; ok && fault == "stall-http" {
		action = entry.name
	}
	e.record(Event{Kind: EventFault, Action: action, Detail: fault + ": request left unanswered"})
	// The server notices a client that hangs up only once the body is read.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxRequestBody))
	select {
	case <-r.Context().Done():
	case <-e.done:
	}
	if raw, ok := r.Context().Value(rawConnKey{}).(net.Conn); ok {
		_ = raw.Close() // no response at all, not even the empty 200 returning would send
	}
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

func (e *Emulator) opDescribe(_ *http.Request, body []byte) (any, *apiError) {
	var in struct{ ChannelName, ChannelARN string }
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.ChannelName == "" && in.ChannelARN == "" {
		return nil, errInvalidArgument("Either ChannelName or ChannelARN must be specified")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var ch *channel
	if in.ChannelARN != "" {
		ch = e.channelByARNLocked(in.ChannelARN)
	} else {
		ch = e.channels[in.ChannelName]
	}
	if ch == nil || (in.ChannelName != "" && ch.name != in.ChannelName) {
		return nil, errChannelNotFound()
	}
	return map[string]any{"ChannelInfo": ch.info()}, nil
}

func (e *Emulator) opGetEndpoint(r *http.Request, body []byte) (any, *apiError) {
	var in struct {
		ChannelARN                               string
		SingleMasterChannelEndpointConfiguration *struct {
			Protocols []string
			Role      string
		}
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.ChannelARN == "" {
		return nil, errInvalidArgument("ChannelARN is required")
	}
	role, protocols := RoleMaster, []string{"WSS", "HTTPS"}
	if c := in.SingleMasterChannelEndpointConfiguration; c != nil {
		if c.Role != "" {
			role = c.Role
		}
		if len(c.Protocols) > 0 {
			protocols = c.Protocols
		}
	}
	if role != RoleMaster && role != RoleViewer {
		return nil, errInvalidArgument("Role must be MASTER or VIEWER")
	}
	e.mu.Lock()
	ch := e.channelByARNLocked(in.ChannelARN)
	e.mu.Unlock()
	if ch == nil {
		return nil, errChannelNotFound()
	}
	host := strings.TrimPrefix(e.endpoint, "https://")
	if e.cfg.AllowNonLoopback && r.Host != "" {
		host = r.Host
	}
	type item struct{ Protocol, ResourceEndpoint string }
	var list []item
	for _, p := range protocols {
		switch p {
		case "WSS":
			list = append(list, item{"WSS", "wss://" + host})
		case "HTTPS":
			list = append(list, item{"HTTPS", "https://" + host})
		case "WEBRTC":
			// WebRTC ingestion is not emulated.
		default:
			return nil, errInvalidArgument("Protocols must be WSS, HTTPS or WEBRTC")
		}
	}
	return map[string]any{"ResourceEndpointList": list}, nil
}

func (e *Emulator) opCreate(_ *http.Request, body []byte) (any, *apiError) {
	var in struct {
		ChannelName               string
		ChannelType               string
		SingleMasterConfiguration *struct {
			MessageTTLSeconds *int `json:"MessageTtlSeconds"`
		}
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if !channelNamePattern.MatchString(in.ChannelName) {
		return nil, errInvalidArgument("ChannelName must be 1-256 characters of [a-zA-Z0-9_.-]")
	}
	if in.ChannelType != "" && in.ChannelType != "SINGLE_MASTER" {
		return nil, errInvalidArgument("only SINGLE_MASTER channels are emulated")
	}
	ttl := DefaultMessageTTL
	if c := in.SingleMasterConfiguration; c != nil && c.MessageTTLSeconds != nil {
		ttl = time.Duration(*c.MessageTTLSeconds) * time.Second
		if ttl < MinMessageTTL || ttl > MaxMessageTTL {
			return nil, errInvalidArgument("MessageTtlSeconds must be between 5 and 120")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.channels[in.ChannelName] != nil {
		return nil, &apiError{http.StatusBadRequest, "ResourceInUseException", "The signaling channel " + in.ChannelName + " already exists."}
	}
	ch := e.newChannel(in.ChannelName, ttl, e.now())
	e.channels[ch.name] = ch
	return map[string]string{"ChannelARN": ch.arn}, nil
}

func (e *Emulator) opList(_ *http.Request, body []byte) (any, *apiError) {
	var in struct {
		ChannelNameCondition *struct{ ComparisonOperator, ComparisonValue string }
		MaxResults           *int
		NextToken            string
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	limit := 10000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 10000 {
			return nil, errInvalidArgument("MaxResults must be between 1 and 10000")
		}
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			return nil, errInvalidArgument("NextToken is invalid")
		}
		start = n
	}
	prefix := ""
	if c := in.ChannelNameCondition; c != nil {
		if c.ComparisonOperator != "" && c.ComparisonOperator != "BEGINS_WITH" {
			return nil, errInvalidArgument("ComparisonOperator must be BEGINS_WITH")
		}
		prefix = c.ComparisonValue
	}
	e.mu.Lock()
	var all []channelInfo
	for _, ch := range e.channels {
		if strings.HasPrefix(ch.name, prefix) {
			all = append(all, ch.info())
		}
	}
	e.mu.Unlock()
	slices.SortFunc(all, func(a, b channelInfo) int { return strings.Compare(a.ChannelName, b.ChannelName) })
	out := map[string]any{"ChannelInfoList": []channelInfo{}}
	if start < len(all) {
		end := min(start+limit, len(all))
		out["ChannelInfoList"] = all[start:end]
		if end < len(all) {
			out["NextToken"] = strconv.Itoa(end)
		}
	}
	return out, nil
}

func (e *Emulator) opDelete(_ *http.Request, body []byte) (any, *apiError) {
	var in struct{ ChannelARN, CurrentVersion string }
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.ChannelARN == "" {
		return nil, errInvalidArgument("ChannelARN is required")
	}
	e.mu.Lock()
	ch := e.channelByARNLocked(in.ChannelARN)
	if ch == nil {
		e.mu.Unlock()
		return nil, errChannelNotFound()
	}
	if in.CurrentVersion != "" && in.CurrentVersion != ch.version {
		e.mu.Unlock()
		return nil, &apiError{http.StatusBadRequest, "VersionMismatchException", "The CurrentVersion does not match the channel's version."}
	}
	delete(e.channels, ch.name)
	conns := ch.connsLocked()
	ch.pending = nil
	e.mu.Unlock()
	for _, c := range conns {
		c.shutdown(closeGoingAway, "channel deleted")
	}
	return map[string]any{}, nil
}

func (e *Emulator) opGetIceServerConfig(_ *http.Request, body []byte) (any, *apiError) {
	var in struct {
		ChannelARN        string
		ClientID          string `json:"ClientId"`
		Service, Username string
	}
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if in.ChannelARN == "" {
		return nil, errInvalidArgument("ChannelARN is required")
	}
	if in.Service != "" && in.Service != "TURN" {
		return nil, errInvalidArgument("Service must be TURN")
	}
	user := "master"
	if in.ClientID != "" {
		if err := kvs.ValidateClientID(in.ClientID); err != nil {
			return nil, errInvalidArgument("ClientId: %v", err)
		}
		user = in.ClientID
	}
	e.mu.Lock()
	ch := e.channelByARNLocked(in.ChannelARN)
	noTURN := e.faults.NoTURN != 0
	e.mu.Unlock()
	if ch == nil {
		return nil, errChannelNotFound()
	}
	if noTURN {
		return map[string]any{"IceServerList": []iceServer{}}, nil
	}
	srv, err := e.turn.iceServer(user)
	if err != nil {
		return nil, &apiError{http.StatusInternalServerError, "InternalFailure", "TURN credentials unavailable"}
	}
	return map[string]any{"IceServerList": []iceServer{srv}}, nil
}

// hostIsLoopback reports whether a host (without port) names the loopback interface.
func hostIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
