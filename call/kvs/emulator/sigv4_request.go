// Verifying a request signed in its Authorization header (the control
// plane's REST calls): VerifyRequest and its clock-skew check.

package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
