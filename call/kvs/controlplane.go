package kvs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo/types"
	"github.com/pion/webrtc/v4"
)

// Channel describes a signaling channel.
type Channel struct {
	ARN, Name, Type, Status string
}

// Endpoints are the signaling endpoints of a channel for one role.
type Endpoints struct {
	// WSS is the WebSocket endpoint (wss://...).
	WSS string
	// HTTPS is the endpoint of the signaling HTTP API (GetIceServerConfig).
	HTTPS string
}

// ICEConfig is the ICE server configuration of a channel.
type ICEConfig struct {
	// Servers are the TURN servers from KVS plus, for AWS endpoints, the KVS STUN server.
	Servers []webrtc.ICEServer
	// Expires is when the first TURN credential expires (zero when there is none).
	Expires time.Time
}

// ControlPlane calls the KVS control plane and the signaling HTTP API.
type ControlPlane struct {
	cfg    Config
	client *kinesisvideo.Client
	now    func() time.Time
}

// NewControlPlane returns a control plane client for cfg.
func NewControlPlane(cfg Config) *ControlPlane {
	client := kinesisvideo.NewFromConfig(cfg.AWS, func(o *kinesisvideo.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
		o.Retryer = withoutTimeoutRetries(o.Retryer)
	})
	return &ControlPlane{cfg: cfg, client: client, now: time.Now}
}

// DescribeChannel looks a signaling channel up by name, or by ARN when nameOrARN starts with "arn:".
func (c *ControlPlane) DescribeChannel(ctx context.Context, nameOrARN string) (Channel, error) {
	if nameOrARN == "" {
		return Channel{}, errors.New("describe signaling channel: no channel name or ARN")
	}
	in := &kinesisvideo.DescribeSignalingChannelInput{}
	if strings.HasPrefix(nameOrARN, "arn:") {
		in.ChannelARN = aws.String(nameOrARN)
	} else {
		in.ChannelName = aws.String(nameOrARN)
	}
	if _, err := c.cfg.credentials(ctx); err != nil {
		return Channel{}, err
	}
	out, err := c.client.DescribeSignalingChannel(ctx, in)
	if err != nil {
		return Channel{}, c.callError(err, "describe signaling channel", nameOrARN)
	}
	info := out.ChannelInfo
	if info == nil || aws.ToString(info.ChannelARN) == "" {
		return Channel{}, fmt.Errorf("describe signaling channel %q: response without channel ARN", nameOrARN)
	}
	return Channel{
		ARN:    aws.ToString(info.ChannelARN),
		Name:   aws.ToString(info.ChannelName),
		Type:   string(info.ChannelType),
		Status: string(info.ChannelStatus),
	}, nil
}

// callError is the error of a failed SDK call of op on channel: a
// *TimeoutError when the endpoint did not answer in time, the credentials'
// failure when the SDK could not get them (they are got before each call, but
// may expire in between), otherwise classifyAWSError's.
func (c *ControlPlane) callError(err error, op, channel string) error {
	if terr := c.cfg.Timeouts.timeoutError(err, op); terr != nil {
		return terr
	}
	if msg := err.Error(); strings.Contains(msg, "get identity:") || strings.Contains(msg, "failed to retrieve credentials") {
		return credentialsError(err, c.cfg.profile, c.cfg.AWS.Credentials)
	}
	return classifyAWSError(err, op, channel, c.cfg.AWS.Region, c.now())
}

// GetEndpoints returns the WSS and HTTPS signaling endpoints of a channel for role.
func (c *ControlPlane) GetEndpoints(ctx context.Context, channelARN string, role Role) (Endpoints, error) {
	if role != RoleViewer && role != RoleMaster {
		return Endpoints{}, fmt.Errorf("get signaling channel endpoint: unknown role %q", role)
	}
	if _, err := c.cfg.credentials(ctx); err != nil {
		return Endpoints{}, err
	}
	out, err := c.client.GetSignalingChannelEndpoint(ctx, &kinesisvideo.GetSignalingChannelEndpointInput{
		ChannelARN: aws.String(channelARN),
		SingleMasterChannelEndpointConfiguration: &types.SingleMasterChannelEndpointConfiguration{
			Protocols: []types.ChannelProtocol{types.ChannelProtocolWss, types.ChannelProtocolHttps},
			Role:      types.ChannelRole(role),
		},
	})
	if err != nil {
		return Endpoints{}, c.callError(err, "get signaling channel endpoint", channelARN)
	}
	var ep Endpoints
	for _, item := range out.ResourceEndpointList {
		switch item.Protocol {
		case types.ChannelProtocolWss:
			ep.WSS = aws.ToString(item.ResourceEndpoint)
		case types.ChannelProtocolHttps:
			ep.HTTPS = aws.ToString(item.ResourceEndpoint)
		}
	}
	if ep.WSS == "" || ep.HTTPS == "" {
		return Endpoints{}, fmt.Errorf("get signaling channel endpoint: response lacks the WSS or HTTPS endpoint (got %d endpoints)", len(out.ResourceEndpointList))
	}
	return ep, nil
}

// iceServerConfigRequest and iceServerConfigResponse are the shapes of the
// kinesisvideosignaling GetIceServerConfig operation.
type iceServerConfigRequest struct {
	ChannelARN string
	ClientID   string `json:"ClientId,omitempty"`
	Service    string
}

type iceServerConfigResponse struct {
	IceServerList []struct {
		Password string
		TTL      int64 `json:"Ttl"`
		Uris     []string
		Username string
	}
}

// maxResponseBytes bounds the signaling HTTP API responses read.
const maxResponseBytes = 1 << 20

// GetICEServers fetches the TURN servers of a channel (GetIceServerConfig on
// ep.HTTPS) and adds the KVS STUN server unless the endpoint is on loopback.
// clientID is the viewer's ClientId; a master passes "" and it is omitted.
func (c *ControlPlane) GetICEServers(ctx context.Context, ep Endpoints, channelARN, clientID string) (ICEConfig, error) {
	resp, err := c.getIceServerConfig(ctx, ep.HTTPS, iceServerConfigRequest{ChannelARN: channelARN, ClientID: clientID, Service: "TURN"})
	if err != nil {
		return ICEConfig{}, err
	}
	now := c.now()
	var cfg ICEConfig
	for _, s := range resp.IceServerList {
		if len(s.Uris) == 0 {
			continue
		}
		cfg.Servers = append(cfg.Servers, webrtc.ICEServer{
			URLs:       append([]string(nil), s.Uris...),
			Username:   s.Username,
			Credential: s.Password,
		})
		if s.TTL > 0 {
			exp := now.Add(time.Duration(s.TTL) * time.Second)
			if cfg.Expires.IsZero() || exp.Before(cfg.Expires) {
				cfg.Expires = exp
			}
		}
	}
	if u, err := url.Parse(ep.HTTPS); err == nil && !isLoopbackHost(u.Hostname()) {
		cfg.Servers = append([]webrtc.ICEServer{{URLs: []string{c.cfg.Variant.stunURL(c.cfg.AWS.Region)}}}, cfg.Servers...)
	}
	return cfg, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// getIceServerConfig is the kinesisvideosignaling GetIceServerConfig call: one
// SigV4-signed POST to endpoint + "/v1/get-ice-server-config", sent with the SDK's
// HTTP client and retried under the SDK's retryer. It is the one place to swap
// for the SDK client once that module is available.
func (c *ControlPlane) getIceServerConfig(ctx context.Context, endpoint string, in iceServerConfigRequest) (iceServerConfigResponse, error) {
	const op = "get ICE server config"
	body, err := json.Marshal(in)
	if err != nil {
		return iceServerConfigResponse{}, fmt.Errorf("%s: %w", op, err)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return iceServerConfigResponse{}, fmt.Errorf("%s: endpoint %q is not an https:// URL", op, endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/get-ice-server-config"
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])

	var retryer aws.Retryer = retry.NewStandard()
	if c.cfg.AWS.Retryer != nil {
		retryer = c.cfg.AWS.Retryer()
	}
	retryer = withoutTimeoutRetries(retryer)
	client := c.cfg.httpClient()
	for attempt := 1; ; attempt++ {
		out, err := c.iceServerConfigAttempt(ctx, client, u.String(), body, payloadHash, in.ChannelARN)
		if err == nil {
			return out, nil
		}
		if attempt >= retryer.MaxAttempts() || !retryer.IsErrorRetryable(err) || ctx.Err() != nil {
			return iceServerConfigResponse{}, err
		}
		delay, derr := retryer.RetryDelay(attempt, err)
		if derr != nil {
			return iceServerConfigResponse{}, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return iceServerConfigResponse{}, fmt.Errorf("%s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
}

// iceServerConfigAttempt signs and sends one GetIceServerConfig request.
func (c *ControlPlane) iceServerConfigAttempt(ctx context.Context, client aws.HTTPClient, endpoint string, body []byte, payloadHash, channelARN string) (iceServerConfigResponse, error) {
	const op = "get ICE server config"
	creds, err := c.cfg.credentials(ctx)
	if err != nil {
		return iceServerConfigResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return iceServerConfigResponse{}, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	now := c.now()
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, SigningName, c.cfg.AWS.Region, now); err != nil {
		return iceServerConfigResponse{}, fmt.Errorf("%s: sign request: %w", op, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if terr := c.cfg.Timeouts.timeoutError(err, op); terr != nil {
			return iceServerConfigResponse{}, terr
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is harmless here, but keep texts uniform with Dial
		}
		return iceServerConfigResponse{}, fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = resp.Body.Close() }() // what was needed is read; a close error changes nothing
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return iceServerConfigResponse{}, fmt.Errorf("%s: read response: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &ServiceError{Op: op, StatusCode: resp.StatusCode}
		se.Code, se.Message = parseErrorBody(resp.Header, raw)
		se.Message = redact(se.Message, creds.SecretAccessKey, creds.SessionToken, req.Header.Get("Authorization"))
		if off, ok := clockOffset(resp.Header, now); ok {
			se.ClockOffset = off
		}
		classify(se, channelARN, c.cfg.AWS.Region)
		return iceServerConfigResponse{}, &retryableServiceError{se}
	}
	var out iceServerConfigResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return iceServerConfigResponse{}, fmt.Errorf("%s: response is not the expected JSON: %w", op, err)
	}
	return out, nil
}

// retryableServiceError exposes a ServiceError to the SDK retryer
// (HTTP status and error code) without changing its text or kinds.
type retryableServiceError struct{ *ServiceError }

// HTTPStatusCode lets retry.RetryableHTTPStatusCode see the status.
func (e *retryableServiceError) HTTPStatusCode() int { return e.StatusCode }

// ErrorCode lets the retryer recognise throttling codes.
func (e *retryableServiceError) ErrorCode() string { return e.Code }

// Unwrap returns the ServiceError.
func (e *retryableServiceError) Unwrap() error { return e.ServiceError }

// parseErrorBody reads an AWS REST-JSON error: the code from x-amzn-ErrorType or
// the body's __type/code, the message from message/Message.
func parseErrorBody(h http.Header, raw []byte) (code, msg string) {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		CodeU    string `json:"Code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(raw, &body) // a non-JSON body leaves the fields empty
	code = h.Get("X-Amzn-Errortype")
	for _, c := range []string{body.Type, body.Code, body.CodeU} {
		if code == "" {
			code = c
		}
	}
	if i := strings.IndexAny(code, ":"); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	msg = body.Message
	if msg == "" {
		msg = body.MessageU
	}
	if msg == "" && code == "" {
		msg = string(raw)
	}
	return code, msg
}
