package emulator

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The official aws-sig-v4-test-suite credentials and date.
const (
	suiteKey    = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
)

// TestSigV4SuiteVectors reproduces signatures published in AWS's SigV4 test suite
// (get-vanilla, get-vanilla-query-order-key-case, post-vanilla) and the S3 documentation's
// presigned-URL example, with the verifier's own canonicalisation and key derivation.
func TestSigV4SuiteVectors(t *testing.T) {
	scope := credentialScope{AccessKeyID: suiteKey, Date: "20150830", Region: "us-east-1", Service: "service"}
	headers := func(name string) []string {
		switch name {
		case "host":
			return []string{"example.amazonaws.com"}
		case "x-amz-date":
			return []string{suiteDate}
		}
		return nil
	}
	cases := []struct {
		name, method, rawQuery, want string
	}{
		{"get-vanilla", http.MethodGet, "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", http.MethodGet, "Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"post-vanilla", http.MethodPost, "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.rawQuery)
			if err != nil {
				t.Fatal(err)
			}
			creq := canonicalRequest(tc.method, canonicalURI("/", true), canonicalQuery(q, ""), []string{"host", "x-amz-date"}, headers, emptySHA256)
			got := computeSignature(suiteSecret, scope, stringToSign(suiteDate, scope, creq))
			if got != tc.want {
				t.Errorf("signature = %s, want %s\ncanonical request:\n%s", got, tc.want, creq)
			}
		})
	}

	t.Run("s3-presigned-get-object", func(t *testing.T) {
		// docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
		u, err := url.Parse("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
			"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
			"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host")
		if err != nil {
			t.Fatal(err)
		}
		s3 := credentialScope{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Date: "20130524", Region: "us-east-1", Service: "s3"}
		creq := canonicalRequest(http.MethodGet, canonicalURI(u.EscapedPath(), false), canonicalQuery(u.Query(), qSignature),
			[]string{"host"}, func(string) []string { return []string{u.Host} }, "UNSIGNED-PAYLOAD")
		got := computeSignature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", s3, stringToSign("20130524T000000Z", s3, creq))
		if want := "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"; got != want {
			t.Errorf("signature = %s, want %s\ncanonical request:\n%s", got, want, creq)
		}
	})
}

func TestURIEncode(t *testing.T) {
	cases := map[string]string{
		"abcXYZ019-_.~": "abcXYZ019-_.~",
		"a b":           "a%20b",
		"a/b":           "a%2Fb",
		"arn:aws:x/y":   "arn%3Aaws%3Ax%2Fy",
		"é":             "%C3%A9",
	}
	for in, want := range cases {
		if got := uriEncode(in, false); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := uriEncode("/a b/c", true); got != "/a%20b/c" {
		t.Errorf("path encode = %q", got)
	}
}

func testLookup(creds ...aws.Credentials) CredentialLookup {
	return func(id string) (aws.Credentials, bool) {
		for _, c := range creds {
			if c.AccessKeyID == id {
				return c, true
			}
		}
		return aws.Credentials{}, false
	}
}

// TestVerifyRequestAgainstSDKSigner checks the header verifier against requests signed
// by aws-sdk-go-v2's signer, and that each tampering is caught with the AWS error code.
func TestVerifyRequestAgainstSDKSigner(t *testing.T) {
	good := aws.Credentials{AccessKeyID: "AKIATESTKEY", SecretAccessKey: "secret-one", SessionToken: "token-one"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"ChannelName":"demo-channel"}`)
	sign := func(creds aws.Credentials, at time.Time, mutate func(*http.Request)) *http.Request {
		req, err := http.NewRequest(http.MethodPost, "https://127.0.0.1:4443/describeSignalingChannel?b=2&a=1", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hexSHA256(body), SigningService, "us-west-2", at); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(req)
		}
		return req
	}
	check := func(name string, req *http.Request, b []byte, wantCode string) {
		t.Helper()
		_, err := VerifyRequest(req, b, "us-west-2", testLookup(good), now)
		if wantCode == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			return
		}
		var aerr *AuthError
		if !errors.As(err, &aerr) || aerr.Code != wantCode {
			t.Errorf("%s: err = %v, want %s", name, err, wantCode)
			return
		}
		if strings.Contains(aerr.Error(), good.SecretAccessKey) || strings.Contains(aerr.Error(), good.SessionToken) {
			t.Errorf("%s: error leaks a secret: %v", name, aerr)
		}
	}
	check("valid", sign(good, now, nil), body, "")
	check("valid at +4m skew", sign(good, now.Add(4*time.Minute), nil), body, "")
	wrongSecret := good
	wrongSecret.SecretAccessKey = "secret-two"
	check("wrong secret", sign(wrongSecret, now, nil), body, "InvalidSignatureException")
	unknown := good
	unknown.AccessKeyID = "AKIAUNKNOWN"
	check("unknown key", sign(unknown, now, nil), body, "UnrecognizedClientException")
	wrongToken := good
	wrongToken.SessionToken = "token-two"
	check("wrong token", sign(wrongToken, now, nil), body, "UnrecognizedClientException")
	check("skewed clock", sign(good, now.Add(-6*time.Minute), nil), body, "InvalidSignatureException")
	check("future clock", sign(good, now.Add(6*time.Minute), nil), body, "InvalidSignatureException")
	check("tampered body", sign(good, now, nil), []byte(`{"ChannelName":"other"}`), "InvalidSignatureException")
	check("tampered query", sign(good, now, func(r *http.Request) { r.URL.RawQuery = "a=1&b=3" }), body, "InvalidSignatureException")
	check("tampered path", sign(good, now, func(r *http.Request) { r.URL.Path = "/deleteSignalingChannel" }), body, "InvalidSignatureException")
	check("no authorization", sign(good, now, func(r *http.Request) { r.Header.Del("Authorization") }), body, "MissingAuthenticationTokenException")
	check("payload hash header mismatch", sign(good, now, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", emptySHA256) }), body, "XAmzContentSHA256Mismatch")
	req := sign(good, now, nil)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/us-west-2/", "/eu-west-1/", 1))
	check("wrong region scope", req, body, "InvalidSignatureException")

	_, err := VerifyRequest(sign(good, now.Add(-10*time.Minute), nil), body, "us-west-2", testLookup(good), now)
	if err == nil || !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("skew error = %v, want 'Signature expired'", err)
	}
}

// TestVerifyPresignedURL checks URLs presigned by aws-sdk-go-v2 the way the KVS SDKs do.
func TestVerifyPresignedURL(t *testing.T) {
	good := aws.Credentials{AccessKeyID: "AKIATESTKEY", SecretAccessKey: "secret-one"}
	withToken := aws.Credentials{AccessKeyID: "AKIATOKEN", SecretAccessKey: "secret-t", SessionToken: "tok"}
	lookup := testLookup(good, withToken)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const host = "127.0.0.1:4443"
	arn := "arn:aws:kinesisvideo:us-west-2:123456789012:channel/demo-channel/1"
	mk := func(creds aws.Credentials, at time.Time, expires int, region string) *url.URL {
		u, err := url.Parse(presignURL(t, "wss://"+host+"/", arn, "viewer-1", creds, region, at, expires))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	ps, err := VerifyPresignedURL(mk(good, now, 299, "us-west-2"), host, "us-west-2", lookup, now.Add(298*time.Second))
	if err != nil {
		t.Fatalf("valid URL: %v", err)
	}
	if ps.ChannelARN != arn || ps.ClientID != "viewer-1" || ps.AccessKeyID != good.AccessKeyID || ps.Expires != 299*time.Second {
		t.Errorf("presigned = %+v", ps)
	}
	if _, err := VerifyPresignedURL(mk(withToken, now, 299, "us-west-2"), host, "us-west-2", lookup, now); err != nil {
		t.Errorf("valid URL with session token: %v", err)
	}

	fail := func(name string, u *url.URL, h string, at time.Time, wantReason string) {
		t.Helper()
		_, err := VerifyPresignedURL(u, h, "us-west-2", lookup, at)
		var aerr *AuthError
		if !errors.As(err, &aerr) || aerr.Reason != wantReason || aerr.Status != http.StatusForbidden {
			t.Errorf("%s: err = %v (%+v), want reason %s", name, err, aerr, wantReason)
		}
	}
	fail("expired", mk(good, now, 299, "us-west-2"), host, now.Add(300*time.Second), "url_expired")
	fail("expires too long", mk(good, now, 3600, "us-west-2"), host, now, "bad_expires")
	fail("signed in the future", mk(good, now.Add(10*time.Minute), 299, "us-west-2"), host, now, "signature_not_yet_current")
	fail("wrong region", mk(good, now, 299, "eu-west-1"), host, now, "scope_region")
	fail("wrong host", mk(good, now, 299, "us-west-2"), "127.0.0.1:9999", now, "signature_mismatch")
	wrongSecret := good
	wrongSecret.SecretAccessKey = "nope"
	fail("wrong secret", mk(wrongSecret, now, 299, "us-west-2"), host, now, "signature_mismatch")
	unknown := good
	unknown.AccessKeyID = "AKIAUNKNOWN"
	fail("unknown key", mk(unknown, now, 299, "us-west-2"), host, now, "unknown_access_key")
	missingToken := withToken
	missingToken.SessionToken = ""
	fail("missing session token", mk(missingToken, now, 299, "us-west-2"), host, now, "bad_session_token")

	u := mk(good, now, 299, "us-west-2")
	q := u.Query()
	q.Set(qClientID, "someone-else")
	u.RawQuery = q.Encode()
	fail("tampered client id", u, host, now, "signature_mismatch")
	u = mk(good, now, 299, "us-west-2")
	q = u.Query()
	q.Del(qSignature)
	u.RawQuery = q.Encode()
	fail("no signature", u, host, now, "missing_signature")
}

// FuzzVerifyPresignedURL feeds arbitrary query strings and hosts to the verifier: it
// must never panic, and anything it accepts must carry the fields it promises.
func FuzzVerifyPresignedURL(f *testing.F) {
	creds := aws.Credentials{AccessKeyID: "AKIATESTKEY", SecretAccessKey: "secret-one"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := presignURL(f, "wss://127.0.0.1:4443/", "arn:aws:kinesisvideo:us-west-2:1:channel/c/1", "v1", creds, "us-west-2", now, 299)
	u, err := url.Parse(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(u.RawQuery, "127.0.0.1:4443", "/")
	f.Add("", "", "")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/d/e&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=;&X-Amz-Signature=00", "h", "/%zz")
	f.Add("X-Amz-Credential=%%%&&&==", "127.0.0.1", "//")
	f.Add(strings.Replace(u.RawQuery, "299", "99999999999999999999", 1), "127.0.0.1:4443", "/")
	f.Fuzz(func(t *testing.T, rawQuery, host, path string) {
		u := &url.URL{Scheme: "wss", Host: host, Path: path, RawQuery: rawQuery}
		ps, err := VerifyPresignedURL(u, host, "us-west-2", testLookup(creds), now)
		if err != nil {
			var aerr *AuthError
			if !errors.As(err, &aerr) {
				t.Fatalf("error is not an *AuthError: %v", err)
			}
			if strings.Contains(err.Error(), creds.SecretAccessKey) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			return
		}
		if ps.AccessKeyID != creds.AccessKeyID || ps.Expires <= 0 || ps.Expires > MaxPresignExpires {
			t.Fatalf("accepted with odd fields: %+v", ps)
		}
	})
}
