package kvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"
)

// Default bounds of getting credentials (see AWSOptions).
const (
	// DefaultCredentialTimeout bounds getting credentials from the chain
	// (SSO, credential_process, STS): generous, a credential_process may wait
	// for the user.
	DefaultCredentialTimeout = 15 * time.Second
	// DefaultIMDSTimeout bounds the EC2 instance metadata lookup, the chain's
	// last resort when nothing else holds credentials. On EC2 it answers in
	// milliseconds; elsewhere it would take seconds to fail.
	DefaultIMDSTimeout = 2 * time.Second
)

// ErrCredentials is matched by a failure of the AWS credentials themselves:
// none found, an expired SSO session, a failing credential_process, a profile
// that does not exist, or credentials AWS rejected (unknown access key, wrong
// secret key, expired session token). Another attempt does not help: the user
// has to act. A local failure is a *CredentialsError; a refusal by the service
// is a *ServiceError that also matches ErrAccessDenied.
var ErrCredentials = errors.New("AWS credentials missing or invalid")

// Reasons of a CredentialsError.
const (
	CredentialsMissing        = "missing"         // no provider of the chain holds credentials
	CredentialsSSOExpired     = "sso-expired"     // the SSO session (token cache) expired or is invalid
	CredentialsProcessFailed  = "process-failed"  // the profile's credential_process failed
	CredentialsProfileMissing = "profile-missing" // the selected profile does not exist
	CredentialsUnusable       = "unusable"        // any other failure of the provider
)

// CredentialsError is a failure to get AWS credentials on this machine. Its
// text is one sentence saying what to do and holds none of the provider's
// output (a credential_process's output may hold the secret key). It matches
// ErrCredentials.
type CredentialsError struct {
	// Reason is one of the Credentials* constants.
	Reason string
	// Profile is the shared config profile in use ("" when none was named).
	Profile string
	// Code is the AWS error code when SSO or STS refused the request (shortened).
	Code string
}

// Error implements error.
func (e *CredentialsError) Error() string {
	switch e.Reason {
	case CredentialsMissing:
		return "No AWS credentials found: set AWS_PROFILE, run `aws sso login`, or pick a profile in Settings"
	case CredentialsSSOExpired:
		if e.Profile != "" {
			return fmt.Sprintf("The AWS SSO session of profile %s has expired: run `aws sso login --profile %s`", e.Profile, e.Profile)
		}
		return "The AWS SSO session has expired: run `aws sso login`"
	case CredentialsProcessFailed:
		return fmt.Sprintf("The credential_process of profile %s failed: run it by hand to see why", e.profileName())
	case CredentialsProfileMissing:
		return fmt.Sprintf("The AWS profile %s does not exist: pick a profile in Settings or fix AWS_PROFILE", e.profileName())
	}
	if e.Code != "" {
		return fmt.Sprintf("AWS refused to issue credentials for profile %s (%s): check the profile's configuration", e.profileName(), e.Code)
	}
	return fmt.Sprintf("The AWS credentials of profile %s could not be loaded: check the profile's configuration", e.profileName())
}

func (e *CredentialsError) profileName() string {
	if e.Profile == "" {
		return config.DefaultSharedConfigProfile
	}
	return e.Profile
}

// Is reports whether target is ErrCredentials.
func (e *CredentialsError) Is(target error) bool { return target == ErrCredentials }

// errCredentialTimeout is the cause of a credential retrieval that took longer
// than the credential timeout.
var errCredentialTimeout = errors.New("credential retrieval timed out")

// credentials retrieves the current credentials of cfg within its credential
// timeout. A failure is a *CredentialsError, a *TimeoutError, a network
// failure reaching SSO or STS (worth another attempt), or the caller's
// context error; none holds the provider's output.
func (cfg Config) credentials(ctx context.Context) (aws.Credentials, error) {
	if cfg.AWS.Credentials == nil {
		return aws.Credentials{}, &CredentialsError{Reason: CredentialsMissing, Profile: cfg.profile}
	}
	d := cfg.credentialTimeout
	if d <= 0 {
		d = DefaultCredentialTimeout
	}
	cctx, cancel := context.WithTimeoutCause(ctx, d, errCredentialTimeout)
	defer cancel()
	creds, err := cfg.AWS.Credentials.Retrieve(cctx)
	switch {
	case err == nil:
		return creds, nil
	case ctx.Err() != nil:
		return aws.Credentials{}, fmt.Errorf("get AWS credentials: %w", ctx.Err())
	case errors.Is(context.Cause(cctx), errCredentialTimeout):
		return aws.Credentials{}, &TimeoutError{Op: "get AWS credentials", Phase: PhaseCredentials, After: d}
	}
	return aws.Credentials{}, credentialsError(err, cfg.profile, cfg.AWS.Credentials)
}

// credentialsError classifies a failure of provider (cfg.AWS.Credentials) of
// profile. It never wraps err: its text may hold the provider's output.
func credentialsError(err error, profile string, provider aws.CredentialsProvider) error {
	var procErr *processcreds.ProviderError
	var ssoErr *ssocreds.InvalidTokenError
	var emptyErr *credentials.StaticCredentialsEmptyError
	var apiErr smithy.APIError
	msg := strings.ToLower(err.Error())
	reason := ""
	switch {
	case errors.As(err, &procErr) || isProvider(provider, (*processcreds.Provider)(nil)):
		reason = CredentialsProcessFailed
	case errors.As(err, &emptyErr) || isProvider(provider, (*ec2rolecreds.Provider)(nil)) ||
		isProvider(provider, (*imdsBound)(nil)) || strings.Contains(msg, "ec2 imds"):
		reason = CredentialsMissing
	case isNetworkError(err):
		return errors.New("get AWS credentials: the credential service (SSO or STS) could not be reached: check the network")
	case errors.As(err, &ssoErr) || strings.Contains(msg, "sso token"):
		reason = CredentialsSSOExpired
	case errors.As(err, &apiErr):
		if apiErr.ErrorCode() == "UnauthorizedException" { // SSO's answer to a revoked or expired token
			reason = CredentialsSSOExpired
		}
	case isProvider(provider, (*ssocreds.Provider)(nil)):
		reason = CredentialsSSOExpired
	}
	ce := &CredentialsError{Reason: reason, Profile: profile}
	if reason == "" {
		ce.Reason = CredentialsUnusable
		if errors.As(err, &apiErr) {
			ce.Code = cleanCode(apiErr.ErrorCode())
		}
	}
	return ce
}

// loadError is LoadAWSConfig's error for a failed config.LoadDefaultConfig:
// a *CredentialsError for a profile that does not exist.
func loadError(err error) error {
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		return &CredentialsError{Reason: CredentialsProfileMissing, Profile: clipName(missing.Profile)}
	}
	return fmt.Errorf("load AWS configuration: %w", err)
}

// isProvider reports whether provider (possibly inside a credentials cache)
// is of target's type.
func isProvider(provider, target aws.CredentialsProvider) bool {
	return provider != nil && aws.IsCredentialsProvider(provider, target)
}

// isNetworkError reports whether err is a failure to reach a service: a
// connect, DNS or timeout error, or an endpoint timeout.
func isNetworkError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var netErr net.Error
	_, timeout := timeoutPhase(err)
	return timeout || errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout())
}

// clipName shortens a profile name for error texts.
func clipName(s string) string { return truncate(s, 64) }

// profileOf is the shared config profile awsCfg was loaded with ("" when none
// was named).
func profileOf(awsCfg aws.Config, named string) string {
	if named != "" {
		return clipName(named)
	}
	for _, src := range awsCfg.ConfigSources {
		if sc, ok := src.(config.SharedConfig); ok && sc.Profile != config.DefaultSharedConfigProfile {
			return clipName(sc.Profile)
		}
	}
	return ""
}

// boundIMDS replaces an EC2 instance-metadata credential provider at the top
// of awsCfg's chain with one whose lookups end after d, so that a machine
// outside EC2 (where nothing answers 169.254.169.254, or a firewall drops it)
// reports missing credentials within d instead of after the SDK's retries. It
// must run before awsCfg.HTTPClient is replaced: the IMDS client keeps the
// SDK's fast-failing transport only on the SDK's own client type.
func boundIMDS(awsCfg *aws.Config, d time.Duration) {
	if !isProvider(awsCfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		return
	}
	client := imds.NewFromConfig(*awsCfg)
	awsCfg.Credentials = aws.NewCredentialsCache(&imdsBound{
		Provider: ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }),
		timeout:  d,
	})
}

// imdsBound is an EC2 role credential provider whose Retrieve ends after timeout.
type imdsBound struct {
	*ec2rolecreds.Provider
	timeout time.Duration
}

// Retrieve implements aws.CredentialsProvider.
func (p *imdsBound) Retrieve(ctx context.Context) (aws.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	creds, err := p.Provider.Retrieve(ctx)
	if err != nil {
		return creds, fmt.Errorf("no EC2 IMDS role found within %s: %w", p.timeout, err)
	}
	return creds, nil
}
