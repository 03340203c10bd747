package kvs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesisvideo"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// resolvedEndpoint is the control plane endpoint the SDK's kinesisvideo
// client resolves with cfg's options (no request is sent).
func resolvedEndpoint(t *testing.T, cfg Config) string {
	t.Helper()
	o := kinesisvideo.NewFromConfig(cfg.AWS).Options()
	ep, err := o.EndpointResolverV2.ResolveEndpoint(context.Background(), kinesisvideo.EndpointParameters{
		Region:       aws.String(o.Region),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
	})
	if err != nil {
		t.Fatal(err)
	}
	return endpointURL(ep)
}

func endpointURL(ep smithyendpoints.Endpoint) string { return ep.URI.String() }

// TestDualStackAndFIPSEndpoints: the flags, the environment and the shared
// config's settings all select the region's dual-stack and FIPS endpoints
// for the control plane, and the STUN server follows.
func TestDualStackAndFIPSEndpoints(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[profile ds]\nuse_dualstack_endpoint = true\n[profile fips]\nuse_fips_endpoint = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	cases := []struct {
		name     string
		o        AWSOptions
		env      map[string]string
		endpoint string
		stun     string
	}{
		{"default", AWSOptions{}, nil, "https://kinesisvideo.us-gov-west-1.amazonaws.com", "stun:stun.kinesisvideo.us-gov-west-1.amazonaws.com:443"},
		{"dual-stack flag", AWSOptions{DualStack: true}, nil, "https://kinesisvideo.us-gov-west-1.api.aws", "stun:stun.kinesisvideo.us-gov-west-1.api.aws:443"},
		{"fips flag", AWSOptions{FIPS: true}, nil, "https://kinesisvideo-fips.us-gov-west-1.amazonaws.com", "stuns:stun.kinesisvideo-fips.us-gov-west-1.amazonaws.com:443"},
		{"both flags", AWSOptions{DualStack: true, FIPS: true}, nil, "https://kinesisvideo-fips.us-gov-west-1.api.aws", "stuns:stun.kinesisvideo-fips.us-gov-west-1.api.aws:443"},
		{"dual-stack from the environment", AWSOptions{}, map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "https://kinesisvideo.us-gov-west-1.api.aws", "stun:stun.kinesisvideo.us-gov-west-1.api.aws:443"},
		{"fips from the environment", AWSOptions{}, map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, "https://kinesisvideo-fips.us-gov-west-1.amazonaws.com", "stuns:stun.kinesisvideo-fips.us-gov-west-1.amazonaws.com:443"},
		{"dual-stack from the shared config", AWSOptions{Profile: "ds"}, nil, "https://kinesisvideo.us-gov-west-1.api.aws", "stun:stun.kinesisvideo.us-gov-west-1.api.aws:443"},
		{"fips from the shared config", AWSOptions{Profile: "fips"}, nil, "https://kinesisvideo-fips.us-gov-west-1.amazonaws.com", "stuns:stun.kinesisvideo-fips.us-gov-west-1.amazonaws.com:443"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"AWS_USE_DUALSTACK_ENDPOINT", "AWS_USE_FIPS_ENDPOINT"} {
				t.Setenv(k, c.env[k])
			}
			c.o.Region, c.o.Credentials = "us-gov-west-1", creds
			cfg, err := LoadAWSConfig(context.Background(), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := resolvedEndpoint(t, cfg); got != c.endpoint {
				t.Errorf("control plane %s, want %s", got, c.endpoint)
			}
			if got := cfg.Variant.stunURL("us-gov-west-1"); got != c.stun {
				t.Errorf("STUN %s, want %s", got, c.stun)
			}
		})
	}
}
