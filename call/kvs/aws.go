package kvs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Role is the part a client plays on a signaling channel.
type Role string

// The two roles of a SINGLE_MASTER signaling channel.
const (
	RoleViewer Role = "VIEWER"
	RoleMaster Role = "MASTER"
)

// AWSOptions selects the AWS account, region, endpoint and trust used for KVS.
// Empty fields fall back to the standard AWS environment (AWS_REGION, AWS_PROFILE,
// the credential chain, AWS_ENDPOINT_URL_KINESIS_VIDEO, AWS_CA_BUNDLE).
type AWSOptions struct {
	// Region overrides AWS_REGION and the profile's region.
	Region string
	// Profile selects a shared config profile (like AWS_PROFILE).
	Profile string
	// EndpointURL overrides the KVS control plane endpoint
	// (AWS_ENDPOINT_URL_KINESIS_VIDEO works without it: the SDK honours it itself).
	EndpointURL string
	// CAFile is a PEM bundle trusted, instead of the system roots, by the SDK's
	// HTTP client for KVS and by the WebSocket dialer.
	CAFile string
	// RootCAs is a programmatic trust pool (in-process emulator); it wins over CAFile.
	RootCAs *x509.CertPool
	// Credentials replaces the default credential chain when set.
	Credentials aws.CredentialsProvider
	// Timeouts bound connecting to KVS endpoints, for the SDK's HTTP client and
	// the WebSocket dialer alike; zero fields take the defaults.
	Timeouts Timeouts
	// CredentialTimeout bounds getting credentials from the chain (SSO,
	// credential_process, STS); default DefaultCredentialTimeout.
	CredentialTimeout time.Duration
	// IMDSTimeout bounds the EC2 instance metadata lookup the default chain
	// ends with when nothing else holds credentials; default DefaultIMDSTimeout.
	// Past it the failure is "No AWS credentials found" (ErrCredentials). On
	// an EC2 instance the service answers in milliseconds and the instance
	// role is used as before; in a container whose metadata hop limit drops
	// the IMDSv2 token request the lookup may need longer: raise this, or give
	// the container credentials of its own. AWS_EC2_METADATA_DISABLED=true
	// skips the lookup.
	IMDSTimeout time.Duration
	// DualStack and FIPS ask for the region's dual-stack (IPv4 and IPv6) and
	// FIPS endpoints. Unset, the shared config's use_dualstack_endpoint and
	// use_fips_endpoint and AWS_USE_DUALSTACK_ENDPOINT / AWS_USE_FIPS_ENDPOINT
	// decide, as for any AWS SDK.
	DualStack, FIPS bool
}

// Config is a loaded AWS configuration plus the TLS settings of the signaling dialer.
// Copies share its HTTP client (keep-alive connections), credentials cache and
// TLS session cache: load one per controller, not one per call.
type Config struct {
	// AWS is the SDK configuration; its HTTPClient trusts the custom CA when one was given.
	AWS aws.Config
	// TLS is the client TLS configuration of the WebSocket dialer
	// (nil RootCAs means the system pool, which honours SSL_CERT_FILE).
	TLS *tls.Config
	// EndpointURL is the control plane endpoint override, empty for the SDK's own resolution.
	EndpointURL string
	// Timeouts bound connecting to KVS endpoints (zero fields: the defaults).
	Timeouts Timeouts
	// Variant says whether the dual-stack and FIPS endpoints are in use.
	Variant EndpointVariant

	// transport is the HTTP transport of AWS.HTTPClient when this package built it.
	transport *http.Transport
	// credentialTimeout bounds credential retrieval (0: DefaultCredentialTimeout).
	credentialTimeout time.Duration
	// profile is the shared config profile in use, for error texts ("" when none was named).
	profile string
}

// CloseIdleConnections closes the idle keep-alive connections of the HTTP client
// LoadAWSConfig built (a no-op for a Config built otherwise).
func (cfg Config) CloseIdleConnections() {
	if cfg.transport != nil {
		cfg.transport.CloseIdleConnections()
	}
}

// LoadAWSConfig loads the AWS configuration the standard way (config.LoadDefaultConfig)
// and applies o on top of it.
//
// The SDK's HTTP client for KVS is one this package builds from the SDK's
// default transport settings (proxy, idle connections, and AWS_CA_BUNDLE's
// roots) with o.Timeouts; credential providers created during loading (SSO,
// STS) get the same timeouts. Trust: o.RootCAs, else o.CAFile, else the
// defaults (the SDK honours AWS_CA_BUNDLE, the dialer the system pool). A
// custom trust applies to the KVS client only, so it wins over AWS_CA_BUNDLE
// for KVS calls, while SSO and STS keep the standard trust.
func LoadAWSConfig(ctx context.Context, o AWSOptions) (Config, error) {
	timeouts := o.Timeouts.withDefaults()
	opts := []func(*config.LoadOptions) error{
		// A BuildableClient, so that the SDK can still apply AWS_CA_BUNDLE to it.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(timeouts.apply)),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.DualStack {
		opts = append(opts, config.WithUseDualStackEndpoint(aws.DualStackEndpointStateEnabled))
	}
	if o.FIPS {
		opts = append(opts, config.WithUseFIPSEndpoint(aws.FIPSEndpointStateEnabled))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Config{}, loadError(err)
	}
	if awsCfg.Region == "" {
		return Config{}, errors.New("no AWS region: set --region, AWS_REGION or a profile region")
	}

	// One session cache for the SDK's client and the dialer: a new connection
	// to an endpoint seen before resumes its TLS session (a shorter handshake).
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	switch {
	case o.RootCAs != nil:
		tlsCfg.RootCAs = o.RootCAs
	case o.CAFile != "":
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return Config{}, err
		}
		tlsCfg.RootCAs = pool
	}
	imdsTimeout := o.IMDSTimeout
	if imdsTimeout <= 0 {
		imdsTimeout = DefaultIMDSTimeout
	}
	boundIMDS(&awsCfg, imdsTimeout)
	tr := kvsTransport(awsCfg.HTTPClient, tlsCfg, timeouts)
	awsCfg.HTTPClient = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return Config{
		AWS: awsCfg, TLS: tlsCfg, EndpointURL: o.EndpointURL, Timeouts: timeouts, transport: tr,
		credentialTimeout: o.CredentialTimeout, profile: profileOf(awsCfg, o.Profile),
		Variant: resolveVariant(ctx, awsCfg),
	}, nil
}

// kvsTransport is the transport of the SDK's HTTP client for KVS: the SDK's
// own (c's) with the timeouts, the custom trust of tlsCfg when it has one,
// and tlsCfg's TLS session cache.
func kvsTransport(c aws.HTTPClient, tlsCfg *tls.Config, timeouts Timeouts) *http.Transport {
	tr := baseTransport(c)
	timeouts.apply(tr)
	switch {
	case tlsCfg.RootCAs != nil:
		tr.TLSClientConfig = tlsCfg.Clone()
	case tr.TLSClientConfig != nil: // AWS_CA_BUNDLE's roots: kept
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		tr.TLSClientConfig.ClientSessionCache = tlsCfg.ClientSessionCache
	default:
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tlsCfg.ClientSessionCache}
	}
	return tr
}

// baseTransport is a copy of the transport of the SDK's HTTP client c (with
// AWS_CA_BUNDLE's roots when the SDK applied them), or of the SDK's default one.
func baseTransport(c aws.HTTPClient) *http.Transport {
	if bc, ok := c.(*awshttp.BuildableClient); ok {
		return bc.GetTransport()
	}
	return awshttp.NewBuildableClient().GetTransport()
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// httpClient returns the SDK's HTTP client of cfg (a default one when unset).
func (cfg Config) httpClient() aws.HTTPClient {
	if cfg.AWS.HTTPClient != nil {
		return cfg.AWS.HTTPClient
	}
	return awshttp.NewBuildableClient()
}
