package kvs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of the KVS control plane and signaling.
const SigningName = "kinesisvideo"

// PresignedURLExpiry is how long a presigned signaling URL stays valid (X-Amz-Expires).
const PresignedURLExpiry = 299 * time.Second

// emptyPayloadHash is the hex SHA-256 of the empty string.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// PresignURL returns the SigV4-presigned WebSocket URL of a signaling connection,
// signed at now: X-Amz-ChannelARN, X-Amz-ClientId (only when clientID is not empty,
// i.e. for a viewer) and X-Amz-Expires=299 are signed along with the standard
// presign parameters and the session token, like the KVS JS SDK's SigV4RequestSigner.
// The path is "/" unless the endpoint has one. A URL is good for one dial only.
func PresignURL(ctx context.Context, creds aws.Credentials, region, wssEndpoint, channelARN, clientID string, now time.Time) (string, error) {
	if region == "" {
		return "", errors.New("presign signaling URL: no region")
	}
	if channelARN == "" {
		return "", errors.New("presign signaling URL: no channel ARN")
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return "", errors.New("presign signaling URL: credentials without access key or secret key")
	}
	u, err := url.Parse(wssEndpoint)
	if err != nil {
		return "", fmt.Errorf("presign signaling URL: bad endpoint: %w", err)
	}
	if u.Scheme != "wss" || u.Host == "" {
		return "", fmt.Errorf("presign signaling URL: endpoint %q is not a wss:// URL", wssEndpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("presign signaling URL: endpoint %q must not carry a query, fragment or user", wssEndpoint)
	}
	// The default port is not part of the host the service sees (JS URL.host drops it too).
	if u.Port() == "443" {
		u.Host = strings.TrimSuffix(u.Host, ":443")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	q := url.Values{}
	q.Set("X-Amz-ChannelARN", channelARN)
	if clientID != "" {
		q.Set("X-Amz-ClientId", clientID)
	}
	q.Set("X-Amz-Expires", strconv.Itoa(int(PresignedURLExpiry/time.Second)))
	u.RawQuery = q.Encode()
	u.Scheme = "https"

	signed, err := presign(ctx, creds, u, emptyPayloadHash, SigningName, region, now)
	if err != nil {
		return "", err
	}
	return "wss" + strings.TrimPrefix(signed, "https"), nil
}

// presign signs a GET of u as a presigned URL with a fresh signer (a reused
// signer caches the signing key per access key id).
func presign(ctx context.Context, creds aws.Credentials, u *url.URL, payloadHash, service, region string, now time.Time) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("presign signaling URL: %w", err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, payloadHash, service, region, now)
	if err != nil {
		return "", fmt.Errorf("presign signaling URL: %w", err)
	}
	return signed, nil
}
