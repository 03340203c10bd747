// sigv4.go, sigv4_request.go and sigv4_presign.go are an independent AWS
// Signature Version 4 verifier, written from the published algorithm (canonical
// request, string to sign, derived signing key). It deliberately does not call
// into aws-sdk-go-v2's signer, so that the tests, which sign with that signer,
// check one implementation against the other.
//
// This file holds what both checks share: AuthError, the credential scope,
// the canonical request, the signing key and the signature.

package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SigV4 constants.
const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	scopeDateFmt = "20060102"
	// SigningService is the SigV4 service name of both the KVS control plane and signaling.
	SigningService = "kinesisvideo"
	// MaxClockSkew is how far X-Amz-Date may be from the emulator's clock.
	MaxClockSkew = 5 * time.Minute
	// MaxPresignExpires is the longest X-Amz-Expires accepted on a signaling URL.
	MaxPresignExpires = 300 * time.Second
	// emptySHA256 is the hex SHA-256 of the empty payload.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// CredentialLookup returns the credential whose access key id is given, if it is accepted.
type CredentialLookup func(accessKeyID string) (aws.Credentials, bool)

// AuthError is an authentication failure, shaped like the AWS error the service returns.
// Its text never contains a secret, a session token or a signature.
type AuthError struct {
	Status  int    // HTTP status, 403 or 400
	Code    string // AWS error code, e.g. InvalidSignatureException
	Message string // AWS-like message
	Reason  string // short machine-friendly reason for the event log
}

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

func authErr(status int, code, reason, format string, args ...any) *AuthError {
	return &AuthError{Status: status, Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken = "The security token included in the request is invalid."
)

// credentialScope is the parsed Credential component of a signature.
type credentialScope struct {
	AccessKeyID, Date, Region, Service string
}

func (s credentialScope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

func parseCredential(v string) (credentialScope, *AuthError) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" {
		return credentialScope{}, authErr(http.StatusForbidden, "IncompleteSignatureException", "bad_credential",
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request")
	}
	return credentialScope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

// checkScope checks the credential scope against the request date, region and service.
func checkScope(s credentialScope, amzDate, region string) *AuthError {
	if len(amzDate) < 8 || s.Date != amzDate[:8] {
		return authErr(http.StatusForbidden, "InvalidSignatureException", "scope_date",
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			clip(s.Date, 16), clip(amzDate, 8))
	}
	if s.Region != region {
		return authErr(http.StatusForbidden, "InvalidSignatureException", "scope_region",
			"Credential should be scoped to a valid region, not '%s'. Expected '%s'.", clip(s.Region, 32), region)
	}
	if s.Service != SigningService {
		return authErr(http.StatusForbidden, "InvalidSignatureException", "scope_service",
			"Credential should be scoped to correct service: '%s'.", SigningService)
	}
	return nil
}

func parseAmzDate(v string) (time.Time, *AuthError) {
	t, err := time.Parse(amzDateFmt, v)
	if err != nil {
		return time.Time{}, authErr(http.StatusForbidden, "IncompleteSignatureException", "bad_date",
			"X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z'")
	}
	return t, nil
}

// lookupCreds finds the credential and checks the session token.
func lookupCreds(lookup CredentialLookup, keyID, token string) (aws.Credentials, *AuthError) {
	creds, ok := lookup(keyID)
	if !ok {
		return aws.Credentials{}, authErr(http.StatusForbidden, "UnrecognizedClientException", "unknown_access_key", msgInvalidToken)
	}
	if subtle.ConstantTimeCompare([]byte(creds.SessionToken), []byte(token)) != 1 {
		return aws.Credentials{}, authErr(http.StatusForbidden, "UnrecognizedClientException", "bad_session_token", msgInvalidToken)
	}
	return creds, nil
}

// uriEncode applies the SigV4 URI encoding: every byte except A-Z a-z 0-9 - _ . ~
// becomes %XX (upper-case hex); '/' is kept when keepSlash is set.
func uriEncode(s string, keepSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

// canonicalURI returns the canonical path. Services other than S3 URI-encode the
// already-escaped path once more ("double encoding").
func canonicalURI(escapedPath string, doubleEncode bool) string {
	if escapedPath == "" {
		return "/"
	}
	if doubleEncode {
		return uriEncode(escapedPath, true)
	}
	return escapedPath
}

// canonicalQuery encodes q sorted by encoded key, then by encoded value, leaving out skip.
func canonicalQuery(q url.Values, skip string) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		if k == skip {
			continue
		}
		ek := uriEncode(k, false)
		for _, v := range vs {
			pairs = append(pairs, kv{ek, uriEncode(v, false)})
		}
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// canonicalHeaderValue trims a header value and collapses inner runs of spaces.
func canonicalHeaderValue(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalRequest assembles the SigV4 canonical request. headerValue returns the
// values of a (lower-case) signed header.
func canonicalRequest(method, canonURI, canonQuery string, signed []string, headerValue func(string) []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(canonURI)
	b.WriteByte('\n')
	b.WriteString(canonQuery)
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(headerValue(h)))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// stringToSign builds the SigV4 string to sign.
func stringToSign(amzDate string, scope credentialScope, canonReq string) string {
	return sigAlgorithm + "\n" + amzDate + "\n" + scope.String() + "\n" + hexSHA256([]byte(canonReq))
}

// deriveSigningKey derives the SigV4 signing key from the secret and the scope.
func deriveSigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// computeSignature returns the hex signature of sts for the scope with secret.
func computeSignature(secret string, scope credentialScope, sts string) string {
	return hex.EncodeToString(hmacSHA256(deriveSigningKey(secret, scope.Date, scope.Region, scope.Service), sts))
}

// signaturesEqual compares two hex signatures in constant time.
func signaturesEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// parseSignedHeaders validates a SignedHeaders list (lower-case, ';'-separated, containing host).
func parseSignedHeaders(v string) ([]string, *AuthError) {
	if v == "" {
		return nil, authErr(http.StatusForbidden, "IncompleteSignatureException", "bad_signed_headers", "SignedHeaders is empty")
	}
	hs := strings.Split(v, ";")
	for _, h := range hs {
		if h == "" || h != strings.ToLower(h) {
			return nil, authErr(http.StatusForbidden, "IncompleteSignatureException", "bad_signed_headers",
				"SignedHeaders must be a ';'-separated list of lower-case header names")
		}
	}
	if !slices.Contains(hs, "host") {
		return nil, authErr(http.StatusForbidden, "InvalidSignatureException", "bad_signed_headers", "'Host' must be a signed header")
	}
	return hs, nil
}
