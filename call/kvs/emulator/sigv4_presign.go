// Verifying a presigned signaling URL (query-string SigV4):
// VerifyPresignedURL, its query parameters and its expiry.

package emulator

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

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
