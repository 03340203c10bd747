package kvs

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// The failures of a provider that no test can provoke end to end without the
// network: SSO or STS unreachable, SSO refusing the token, STS refusing the role.
func TestCredentialsErrorClasses(t *testing.T) {
	sso := aws.NewCredentialsCache(ssocreds.New(nil, "123456789012", "Viewer", "https://example.awsapps.com/start"))
	const secret = "s3cr3t-from-the-provider"
	unreachable := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	cases := []struct {
		name     string
		err      error
		provider aws.CredentialsProvider
		is       bool
		text     string
	}{
		{"SSO unreachable", errors.Join(errors.New(secret), unreachable), sso, false, "could not be reached: check the network"},
		{"SSO refuses the token", &smithy.GenericAPIError{Code: "UnauthorizedException", Message: secret}, sso,
			true, "The AWS SSO session of profile dev has expired"},
		{"STS refuses the role", &smithy.GenericAPIError{Code: "AccessDenied", Message: secret}, nil,
			true, "AWS refused to issue credentials for profile dev (AccessDenied)"},
		{"anything else", errors.New(secret), nil, true, "The AWS credentials of profile dev could not be loaded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := credentialsError(tc.err, "dev", tc.provider)
			if errors.Is(err, ErrCredentials) != tc.is || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), secret) {
				t.Errorf("got %q (ErrCredentials %v)", err, errors.Is(err, ErrCredentials))
			}
		})
	}
}
