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
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// This file is an independent AWS Signature Version 4 verifier, written from the
// published algorithm (canonical request, string to sign, derived signing key).
// It deliberately does not call into aws-sdk-go-v2's signer, so that the tests,
// which sign with that signer, check one implementation against the other.

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

// checkSkew enforces the 5-minute window around the emulator's clock, with AWS's messages.
func checkSkew(signed, now time.Time) *AuthError {
	if signed.Before(now.Add(-MaxClockSkew)) {
		return authErr(http.StatusForbidden, "InvalidSignatureException", "signature_expired",
			"Signature expired: %s is now earlier than %s (%s - 5 min.)",
			signed.UTC().Format(amzDateFmt), now.Add(-MaxClockSkew).UTC().Format(amzDateFmt), now.UTC().Format(amzDateFmt))
	}
	if signed.After(now.Add(MaxClockSkew)) {
		return authErr(http.StatusForbidden, "InvalidSignatureException", "signature_not_yet_current",
			"Signature not yet current: %s is still later than %s (%s + 5 min.)",
			signed.UTC().Format(amzDateFmt), now.Add(MaxClockSkew).UTC().Format(amzDateFmt), now.UTC().Format(amzDateFmt))
	}
	return nil
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

// parseAuthorization splits an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." header.
func parseAuthorization(h string) (cred credentialScope, signed []string, sig string, aerr *AuthError) {
	rest, ok := strings.CutPrefix(h, sigAlgorithm+" ")
	if !ok {
		return cred, nil, "", authErr(http.StatusForbidden, "IncompleteSignatureException", "bad_algorithm",
			"Authorization header requires the %s algorithm", sigAlgorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		fields[k] = v
	}
	credV, ok1 := fields["Credential"]
	signedV, ok2 := fields["SignedHeaders"]
	sig, ok3 := fields["Signature"]
	if !ok1 || !ok2 || !ok3 {
		return cred, nil, "", authErr(http.StatusForbidden, "IncompleteSignatureException", "incomplete_authorization",
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters")
	}
	if cred, aerr = parseCredential(credV); aerr != nil {
		return cred, nil, "", aerr
	}
	if signed, aerr = parseSignedHeaders(signedV); aerr != nil {
		return cred, nil, "", aerr
	}
	return cred, signed, sig, nil
}

// VerifyRequest checks the SigV4 Authorization header of an HTTP request whose body
// has already been read into body. It returns the access key id that signed it.
func VerifyRequest(r *http.Request, body []byte, region string, lookup CredentialLookup, now time.Time) (string, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", authErr(http.StatusForbidden, "MissingAuthenticationTokenException", "missing_authorization", "Missing Authentication Token")
	}
	scope, signed, sig, aerr := parseAuthorization(auth)
	if aerr != nil {
		return "", aerr
	}
	amzDate, t, aerr := requestDate(r, signed)
	if aerr != nil {
		return "", aerr
	}
	if aerr := checkScope(scope, amzDate, region); aerr != nil {
		return "", aerr
	}
	if aerr := checkSkew(t, now); aerr != nil {
		return "", aerr
	}
	token := r.Header.Get("X-Amz-Security-Token")
	creds, aerr := lookupCreds(lookup, scope.AccessKeyID, token)
	if aerr != nil {
		return "", aerr
	}
	if token != "" && !slices.Contains(signed, "x-amz-security-token") {
		return "", authErr(http.StatusForbidden, "InvalidSignatureException", "bad_signed_headers", "'X-Amz-Security-Token' must be a signed header")
	}
	payloadHash := hexSHA256(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return "", authErr(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "payload_hash",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", authErr(http.StatusForbidden, "InvalidSignatureException", "bad_query", "The query string is malformed")
	}
	creq := canonicalRequest(r.Method, canonicalURI(r.URL.EscapedPath(), true), canonicalQuery(q, ""), signed, requestHeaderValues(r), payloadHash)
	want := computeSignature(creds.SecretAccessKey, scope, stringToSign(amzDate, scope, creq))
	if !signaturesEqual(want, sig) {
		return "", authErr(http.StatusForbidden, "InvalidSignatureException", "signature_mismatch", msgSignatureMismatch)
	}
	return scope.AccessKeyID, nil
}

// requestDate returns the X-Amz-Date header of r, which must be among the
// signed headers, and the time it names.
func requestDate(r *http.Request, signed []string) (string, time.Time, *AuthError) {
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", time.Time{}, authErr(http.StatusForbidden, "IncompleteSignatureException", "missing_date", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header")
	}
	if !slices.Contains(signed, "x-amz-date") {
		return "", time.Time{}, authErr(http.StatusForbidden, "InvalidSignatureException", "bad_signed_headers", "'X-Amz-Date' must be a signed header")
	}
	t, aerr := parseAmzDate(amzDate)
	if aerr != nil {
		return "", time.Time{}, aerr
	}
	return amzDate, t, nil
}

// requestHeaderValues returns the values of a signed header of r as the
// signer saw them: Host and Content-Length live outside r.Header on the
// server side.
func requestHeaderValues(r *http.Request) func(name string) []string {
	return func(name string) []string {
		switch name {
		case "host":
			return []string{r.Host}
		case "content-length":
			if vs := r.Header.Values("Content-Length"); len(vs) > 0 {
				return vs
			}
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return r.Header.Values(name)
	}
}

// Presigned is what a verified presigned signaling URL carries.
type Presigned struct {
	AccessKeyID string
	SignedAt    time.Time
	Expires     time.Duration
	Region      string
	ChannelARN  string // X-Amz-ChannelARN
	ClientID    string // X-Amz-ClientId, empty for a master
}

// presign query parameter names.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSecurityToken = "X-Amz-Security-Token"
	qSignature     = "X-Amz-Signature"
	qChannelARN    = "X-Amz-ChannelARN"
	qClientID      = "X-Amz-ClientId"
)

// VerifyPresignedURL checks a SigV4 presigned signaling URL (method GET, host the only
// signed header, payload hash of the empty string) as received by the server for host,
// at time now. It checks the algorithm, the credential scope (service kinesisvideo and
// region), X-Amz-Date, X-Amz-Expires (1 s to MaxPresignExpires, not elapsed), the
// session token when the credential has one, and the signature. It does not check that
// the channel exists or the ClientId's syntax. Errors are *AuthError.
func VerifyPresignedURL(u *url.URL, host, region string, lookup CredentialLookup, now time.Time) (*Presigned, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, authErr(http.StatusForbidden, "InvalidSignatureException", "bad_query", "The query string is malformed")
	}
	p, aerr := presignParamsOf(q)
	if aerr != nil {
		return nil, aerr
	}
	if p.algorithm != sigAlgorithm {
		return nil, authErr(http.StatusForbidden, "AccessDeniedException", "bad_algorithm", "X-Amz-Algorithm only supports %s", sigAlgorithm)
	}
	scope, aerr := parseCredential(p.credential)
	if aerr != nil {
		return nil, aerr
	}
	signedAt, aerr := parseAmzDate(p.date)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkScope(scope, p.date, region); aerr != nil {
		return nil, aerr
	}
	expires, aerr := checkPresignExpiry(p, signedAt, now)
	if aerr != nil {
		return nil, aerr
	}
	signed, aerr := parseSignedHeaders(p.signedHeaders)
	if aerr != nil {
		return nil, aerr
	}
	if len(signed) != 1 {
		return nil, authErr(http.StatusForbidden, "AccessDeniedException", "bad_signed_headers", "X-Amz-SignedHeaders must be host")
	}
	token, aerr := presignToken(q)
	if aerr != nil {
		return nil, aerr
	}
	creds, aerr := lookupCreds(lookup, scope.AccessKeyID, token)
	if aerr != nil {
		return nil, aerr
	}
	headerValue := func(string) []string { return []string{host} }
	creq := canonicalRequest(http.MethodGet, canonicalURI(u.EscapedPath(), true), canonicalQuery(q, qSignature), signed, headerValue, emptySHA256)
	want := computeSignature(creds.SecretAccessKey, scope, stringToSign(p.date, scope, creq))
	if !signaturesEqual(want, p.signature) {
		return nil, authErr(http.StatusForbidden, "AccessDeniedException", "signature_mismatch", msgSignatureMismatch)
	}
	return &Presigned{
		AccessKeyID: scope.AccessKeyID,
		SignedAt:    signedAt,
		Expires:     expires,
		Region:      scope.Region,
		ChannelARN:  q.Get(qChannelARN),
		ClientID:    q.Get(qClientID),
	}, nil
}

// presignParams are the query parameters every presigned URL carries.
type presignParams struct {
	algorithm, credential, date, expires, signedHeaders, signature string
}

// presignParamsOf takes the required parameters from q: each exactly once and
// non-empty, checked in the order of presignParams.
func presignParamsOf(q url.Values) (presignParams, *AuthError) {
	var vals [6]string
	for i, name := range []string{qAlgorithm, qCredential, qDate, qExpires, qSignedHeaders, qSignature} {
		vs := q[name]
		if len(vs) != 1 || vs[0] == "" {
			return presignParams{}, authErr(http.StatusForbidden, "AccessDeniedException", "missing_"+strings.ToLower(strings.TrimPrefix(name, "X-Amz-")),
				"Query-string authentication requires exactly one non-empty %s parameter", name)
		}
		vals[i] = vs[0]
	}
	return presignParams{
		algorithm: vals[0], credential: vals[1], date: vals[2],
		expires: vals[3], signedHeaders: vals[4], signature: vals[5],
	}, nil
}

// checkPresignExpiry parses X-Amz-Expires (1 s to MaxPresignExpires) and
// checks that the URL signed at signedAt is valid at now: not signed more than
// MaxClockSkew in the future and not expired. It returns the validity.
func checkPresignExpiry(p presignParams, signedAt, now time.Time) (time.Duration, *AuthError) {
	secs, err := strconv.Atoi(p.expires)
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > MaxPresignExpires {
		return 0, authErr(http.StatusForbidden, "AccessDeniedException", "bad_expires",
			"X-Amz-Expires must be a whole number of seconds from 1 to %d", int(MaxPresignExpires/time.Second))
	}
	expires := time.Duration(secs) * time.Second
	if signedAt.After(now.Add(MaxClockSkew)) {
		return 0, authErr(http.StatusForbidden, "AccessDeniedException", "signature_not_yet_current",
			"Request is not yet valid: X-Amz-Date %s is more than 5 minutes in the future", p.date)
	}
	if now.After(signedAt.Add(expires)) {
		return 0, authErr(http.StatusForbidden, "AccessDeniedException", "url_expired",
			"Request has expired: the presigned URL signed at %s expired %s later", p.date, expires)
	}
	return expires, nil
}

// presignToken returns the X-Amz-Security-Token of q: "" when absent, an
// error when given more than once.
func presignToken(q url.Values) (string, *AuthError) {
	vs, ok := q[qSecurityToken]
	if !ok {
		return "", nil
	}
	if len(vs) != 1 {
		return "", authErr(http.StatusForbidden, "UnrecognizedClientException", "bad_session_token", msgInvalidToken)
	}
	return vs[0], nil
}
