// The control-plane API: the table of operations serveHTTP dispatches to, and
// their handlers (Describe/GetEndpoint/Create/List/Delete signaling channel,
// GetIceServerConfig).

package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

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
	if !validChannelName(in.ChannelName) {
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

func (e *Emulator) opGetIceServerConfig(r *http.Request, body []byte) (any, *apiError) {
	e.mu.Lock()
	delay := e.faults.ICEConfigDelay
	e.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
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
