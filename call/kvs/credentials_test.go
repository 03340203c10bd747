package kvs_test

import (
	"context"
	"crypto/sha1" // the SDK names SSO token cache files by SHA-1
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/call/kvs/emulator"
)

// nowhere is a loopback endpoint nothing listens on: no test can reach AWS
// even if its credentials resolved.
const nowhere = "https://127.0.0.1:1"

// awsEnvVars are the variables that could give the SDK credentials or a
// profile from the machine running the tests.
var awsEnvVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_KINESIS_VIDEO", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_STS",
}

// isolateAWS gives the test an empty home and AWS config of its own, no
// credentials in the environment and the instance metadata service disabled
// (nothing may go to 169.254.169.254). It returns the home directory; config
// is written to home/config.
func isolateAWS(t *testing.T, config string) string {
	t.Helper()
	home := t.TempDir()
	for _, k := range awsEnvVars {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-west-2")
	if config != "" {
		if err := os.WriteFile(filepath.Join(home, "config"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// checkCredentialsError checks that err is ErrCredentials with exactly the
// sentence want, and that it holds none of leaks.
func checkCredentialsError(t *testing.T, err error, want string, leaks ...string) {
	t.Helper()
	var ce *kvs.CredentialsError
	if !errors.Is(err, kvs.ErrCredentials) || !errors.As(err, &ce) {
		t.Fatalf("got %v (%T), want ErrCredentials", err, err)
	}
	if err.Error() != want {
		t.Errorf("text %q, want %q", err, want)
	}
	for _, leak := range leaks {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("text %q holds %q", err, leak)
		}
	}
}

// allCalls runs every call that needs credentials (DescribeChannel,
// GetEndpoints, GetICEServers, Dial) with cfg and returns their errors.
func allCalls(t *testing.T, cfg kvs.Config) map[string]error {
	t.Helper()
	ctx := ctxT(t)
	cp := kvs.NewControlPlane(cfg)
	out := map[string]error{}
	_, out["describe"] = cp.DescribeChannel(ctx, "ch")
	_, out["endpoints"] = cp.GetEndpoints(ctx, "arn:aws:kinesisvideo:us-west-2:123456789012:channel/ch/1", kvs.RoleViewer)
	_, out["ice"] = cp.GetICEServers(ctx, kvs.Endpoints{HTTPS: nowhere}, "arn:x", "v1")
	_, out["dial"] = kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: "arn:x", Endpoints: kvs.Endpoints{WSS: "wss://127.0.0.1:1"}, Role: kvs.RoleViewer, ClientID: "v1"})
	return out
}

func load(t *testing.T, o kvs.AWSOptions) kvs.Config {
	t.Helper()
	cfg, err := kvs.LoadAWSConfig(ctxT(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.CloseIdleConnections)
	return cfg
}

// Known secrets a credential_process prints.
const (
	procKeyID  = "AKIAPROCESSEXAMPLE01"
	procSecret = "procSecret/K7MDENG+bPxRfiCYzEXAMPLEKEY"
	procToken  = "procToken-FwoGZXIvYXdzEXAMPLEsessionTOKEN"
)

// writeProcess writes an executable shell script to dir and returns its path.
func writeProcess(t *testing.T, dir, name, script string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// A failing credential_process is ErrCredentials in one sentence that holds
// nothing it printed, even though the SDK's error embeds its whole output.
func TestCredentialProcessFailure(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	creds := `{"Version": 1, "AccessKeyId": "` + procKeyID + `", "SecretAccessKey": "` + procSecret + `", "SessionToken": "` + procToken + `"}`
	for name, script := range map[string]string{
		"banner before the JSON": "echo 'Welcome to the credential helper v1.0'\necho '" + creds + "'\n",
		"exits 1 after printing": "echo '" + creds + "'\necho '" + creds + "' >&2\nexit 1\n",
		"prints no JSON at all":  "echo 'login required: " + procSecret + "'\n",
	} {
		t.Run(name, func(t *testing.T) {
			home := isolateAWS(t, "")
			proc := writeProcess(t, home, "cred.sh", script)
			writeConfig(t, home, "[profile proc]\nregion = us-west-2\ncredential_process = "+proc+"\n")
			cfg := load(t, kvs.AWSOptions{Profile: "proc", EndpointURL: nowhere})
			for call, err := range allCalls(t, cfg) {
				t.Run(call, func(t *testing.T) {
					checkCredentialsError(t, err, "The credential_process of profile proc failed: run it by hand to see why",
						procKeyID, procSecret, procToken, "Welcome", "login required")
				})
			}
		})
	}
}

func writeConfig(t *testing.T, home, config string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(home, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A working credential_process is used as is: the failure test above is not
// failing for want of a usable setup.
func TestCredentialProcessWorks(t *testing.T) {
	ev := setup(t)
	c := ev.e.Credentials()
	home := isolateAWS(t, "")
	proc := writeProcess(t, home, "cred.sh",
		`echo '{"Version": 1, "AccessKeyId": "`+c.AccessKeyID+`", "SecretAccessKey": "`+c.SecretAccessKey+`"}'`+"\n")
	writeConfig(t, home, "[profile proc]\nregion = "+ev.e.Region()+"\ncredential_process = "+proc+"\n")
	cfg := load(t, kvs.AWSOptions{Profile: "proc", EndpointURL: ev.e.Endpoint(), CAFile: ev.e.CAFile()})
	if _, err := kvs.NewControlPlane(cfg).DescribeChannel(ctxT(t), "ch"); err != nil {
		t.Fatal(err)
	}
}

// No credentials anywhere: ErrCredentials within 3 s, whether the instance
// metadata service is disabled or black-holed (accepts TCP, never answers).
func TestNoCredentials(t *testing.T) {
	const want = "No AWS credentials found: set AWS_PROFILE, run `aws sso login`, or pick a profile in Settings"
	t.Run("metadata service disabled", func(t *testing.T) {
		t.Cleanup(func() { goleak.VerifyNone(t) })
		isolateAWS(t, "")
		start := time.Now()
		cfg := load(t, kvs.AWSOptions{EndpointURL: nowhere})
		for call, err := range allCalls(t, cfg) {
			t.Run(call, func(t *testing.T) { checkCredentialsError(t, err, want) })
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("took %s", took)
		}
	})
	t.Run("metadata service black-holed", func(t *testing.T) {
		t.Cleanup(func() { goleak.VerifyNone(t) })
		isolateAWS(t, "")
		addr, accepted := blackHole(t)
		if err := os.Unsetenv("AWS_EC2_METADATA_DISABLED"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+addr)
		start := time.Now()
		cfg := load(t, kvs.AWSOptions{EndpointURL: nowhere})
		_, err := kvs.NewControlPlane(cfg).DescribeChannel(ctxT(t), "ch")
		took := time.Since(start)
		checkCredentialsError(t, err, want)
		if took > 3*time.Second {
			t.Errorf("reported after %s, want within 3s", took)
		}
		if accepted() == 0 {
			t.Error("the metadata lookup never reached the black hole: the bound was not tested")
		}
		t.Logf("reported after %s; %d metadata connections", took, accepted())
	})
}

// A profile that does not exist is named, not retried.
func TestMissingProfile(t *testing.T) {
	isolateAWS(t, "[profile other]\nregion = us-west-2\n")
	_, err := kvs.LoadAWSConfig(ctxT(t), kvs.AWSOptions{Profile: "nope", EndpointURL: nowhere})
	checkCredentialsError(t, err, "The AWS profile nope does not exist: pick a profile in Settings or fix AWS_PROFILE")
}

// An expired SSO token cache gives the SSO sentence, for a legacy SSO profile
// and for one with an sso-session (whose token cannot be refreshed here); no
// request leaves the machine.
func TestExpiredSSO(t *testing.T) {
	const startURL = "https://example.awsapps.com/start"
	const token = "ssoAccessTokenSECRETexample"
	cases := map[string]struct{ config, cacheKey string }{
		"legacy": {
			config: "[profile dev]\nregion = us-west-2\nsso_start_url = " + startURL +
				"\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Viewer\n",
			cacheKey: startURL,
		},
		"sso-session": {
			config: "[profile dev]\nregion = us-west-2\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Viewer\n" +
				"[sso-session corp]\nsso_start_url = " + startURL + "\nsso_region = us-east-1\n",
			cacheKey: "corp",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			home := isolateAWS(t, tc.config)
			sum := sha1.Sum([]byte(tc.cacheKey))
			cache := filepath.Join(home, ".aws", "sso", "cache")
			if err := os.MkdirAll(cache, 0o700); err != nil {
				t.Fatal(err)
			}
			body := `{"accessToken":"` + token + `","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"` + startURL + `"}`
			if err := os.WriteFile(filepath.Join(cache, hex.EncodeToString(sum[:])+".json"), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := load(t, kvs.AWSOptions{Profile: "dev", EndpointURL: nowhere})
			for call, err := range allCalls(t, cfg) {
				t.Run(call, func(t *testing.T) {
					checkCredentialsError(t, err, "The AWS SSO session of profile dev has expired: run `aws sso login --profile dev`", token)
				})
			}
		})
	}
}

// A provider whose failure reaches the SDK (credentials that expired between
// our check and the call) is still ErrCredentials without its output.
func TestCredentialsFailingInsideTheSDK(t *testing.T) {
	var calls atomic.Int32
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		if calls.Add(1) == 1 {
			return aws.Credentials{AccessKeyID: procKeyID, SecretAccessKey: procSecret}, nil
		}
		return aws.Credentials{}, errors.New("helper said: " + procSecret + " " + procToken)
	})
	cfg := kvs.Config{AWS: aws.Config{Region: "us-west-2", Credentials: provider}, EndpointURL: nowhere}
	_, err := kvs.NewControlPlane(cfg).DescribeChannel(ctxT(t), "ch")
	if !errors.Is(err, kvs.ErrCredentials) || calls.Load() != 2 {
		t.Fatalf("%v after %d retrievals", err, calls.Load())
	}
	for _, leak := range []string{procSecret, procToken, "helper said"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("text %q holds %q", err, leak)
		}
	}
}

// Credentials the service rejects are ErrCredentials (and ErrAccessDenied);
// a permission refusal is ErrAccessDenied only. The service's words are
// shortened and never echo the request (the signature-mismatch message repeats
// the canonical request, session token included).
func TestServiceRejectsCredentials(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	creds := aws.Credentials{AccessKeyID: "AKIAEMULATORSESSION1", SecretAccessKey: "emuSecret/EXAMPLEsecretKEY0123456789abcd", SessionToken: "emuToken-IQoJb3JpZ2luX2VjEXAMPLEsession"}
	ctx := ctxT(t)
	e, err := emulator.Start(ctx, emulator.Config{Channels: []string{"ch"}, Credentials: []aws.Credentials{creds}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	isolateAWS(t, "")
	cfg := load(t, kvs.AWSOptions{
		Region: e.Region(), EndpointURL: e.Endpoint(), RootCAs: e.CAPool(),
		Credentials: credentials.StaticCredentialsProvider{Value: creds},
	})
	cp := kvs.NewControlPlane(cfg)
	arn := e.ChannelARN("ch")
	ep, err := cp.GetEndpoints(ctx, arn, kvs.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"describe": func() error { _, err := cp.DescribeChannel(ctx, "ch"); return err },
		"ice":      func() error { _, err := cp.GetICEServers(ctx, ep, arn, "v1"); return err },
		"dial": func() error {
			c, err := kvs.Dial(ctx, kvs.DialOptions{Config: cfg, ChannelARN: arn, Endpoints: ep, Role: kvs.RoleViewer, ClientID: "v1"})
			if err == nil {
				_ = c.Close()
			}
			return err
		},
	}
	cases := []struct {
		fault, text string
		credentials bool
	}{
		{"reject-unrecognized-client", "AWS rejected the credentials (UnrecognizedClient): the access key id is not known", true},
		{"reject-invalid-signature", "AWS rejected the credentials (InvalidSignature): the secret key is wrong", true},
		{"reject-expired-token", "AWS rejected the credentials (ExpiredToken): the session token has expired", true},
		{"reject-403", "check the IAM policy", false},
	}
	for _, tc := range cases {
		for name, call := range calls {
			t.Run(tc.fault+"/"+name, func(t *testing.T) {
				setFaults(t, e, tc.fault+"=1")
				err := call()
				var se *kvs.ServiceError
				if !errors.As(err, &se) || !errors.Is(err, kvs.ErrAccessDenied) || errors.Is(err, kvs.ErrCredentials) != tc.credentials {
					t.Fatalf("got %v (%T); want ErrAccessDenied, ErrCredentials %v", err, err, tc.credentials)
				}
				text := err.Error()
				if !strings.Contains(text, tc.text) {
					t.Errorf("%q lacks %q", text, tc.text)
				}
				if len(se.Message) > 200 || len(se.Code) > 64 {
					t.Errorf("message of %d bytes, code of %d", len(se.Message), len(se.Code))
				}
				for _, leak := range []string{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, "Canonical", "String-to-Sign", "Authorization", "X-Amz-"} {
					if strings.Contains(text, leak) {
						t.Errorf("%q holds %q", text, leak)
					}
				}
				t.Logf("error text: %s", text)
				if err := call(); err != nil {
					t.Errorf("after the fault: %v", err)
				}
			})
		}
	}
}
