package kvs

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// EndpointVariant says which of a region's endpoints a client uses: the
// dual-stack ones (IPv4 and IPv6, on api.aws) and the FIPS ones. The control
// plane client resolves its own from the same configuration; this tells the
// parts the SDK does not reach: the KVS STUN server.
type EndpointVariant struct {
	DualStack, FIPS bool
}

// resolveVariant reads the dual-stack and FIPS choices of cfg's sources in
// the SDK's order of precedence (load options, then the environment, then
// the shared config).
func resolveVariant(ctx context.Context, cfg aws.Config) EndpointVariant {
	var v EndpointVariant
	var dsFound, fipsFound bool
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error)
		}); ok && !dsFound {
			if st, found, err := p.GetUseDualStackEndpoint(ctx); err == nil && found {
				v.DualStack, dsFound = st == aws.DualStackEndpointStateEnabled, true
			}
		}
		if p, ok := src.(interface {
			GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error)
		}); ok && !fipsFound {
			if st, found, err := p.GetUseFIPSEndpoint(ctx); err == nil && found {
				v.FIPS, fipsFound = st == aws.FIPSEndpointStateEnabled, true
			}
		}
	}
	return v
}

// stunURL is the KVS STUN server of region, as the KVS SDK samples name it:
// stuns: and a "-fips" host for FIPS, the api.aws domain for dual-stack.
func (v EndpointVariant) stunURL(region string) string {
	scheme, fips, domain := "stun", "", "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	if v.FIPS {
		scheme, fips = "stuns", "-fips"
	}
	if v.DualStack {
		domain = "api.aws"
	}
	return fmt.Sprintf("%s:stun.kinesisvideo%s.%s.%s:443", scheme, fips, region, domain)
}
