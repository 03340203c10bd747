package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Credentials that must never be shown anywhere.
const (
	leakKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLEAKKEY12"
	leakToken = "IQoJb3JpZ2luX2VjLEAKTOKENLEAKTOKENLEAKTOKENLEAKTOKENexampletoken0123456789"
)

// noAWSEnv is an environment with no AWS credentials, configuration or
// instance metadata (nothing may be sent to 169.254.169.254).
func noAWSEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true"}, extra...)...)
}

// TestNoCredentialsFailsFastAsAuth: with no AWS credentials at all, a call
// fails at once with class auth and one sentence that says what to do; it is
// not retried and the command exits non-zero within 3 s.
func TestNoCredentialsFailsFastAsAuth(t *testing.T) {
	cmd := exec.Command(bin, "call", "--channel", "door", "--region", "us-west-2", "--duration", "30s")
	cmd.Env = noAWSEnv(t)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("call without credentials succeeded: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "call failed: auth: ") || !strings.Contains(last, "No AWS credentials found") {
		t.Errorf("last line %q, want the auth class and what to do", last)
	}
	if n := len(regexp.MustCompile(`attempt \d+ failed`).FindAllString(string(out), -1)); n != 1 {
		t.Errorf("%d attempts, want 1 (auth is not retried):\n%s", n, out)
	}
	if took > 3*time.Second {
		t.Errorf("took %s, want under 3 s", took)
	}
}

// TestCredentialProcessSecretsNeverShown: a credential_process that prints a
// banner line before its JSON makes the SDK's error carry its whole output,
// secret key and token included. Neither may reach stdout, stderr, --json,
// or the QA reports.
func TestCredentialProcessSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	body := "#!/bin/sh\necho 'Welcome to the corporate credential helper v2'\n" +
		`echo '{"Version":1,"AccessKeyId":"AKIAIOSFODNN7LEAKED","SecretAccessKey":"` + leakKey + `","SessionToken":"` + leakToken + `"}'` + "\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	env := noAWSEnv(t, "AWS_PROFILE=corp")
	var cfgFile string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			cfgFile = v
		}
	}
	if err := os.WriteFile(cfgFile, []byte("[profile corp]\nregion = us-west-2\ncredential_process = "+script+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	report, csv := filepath.Join(dir, "qa.json"), filepath.Join(dir, "qa.csv")
	runs := [][]string{
		{"call", "--channel", "door", "--duration", "1s"},
		{"call", "--channel", "door", "--duration", "1s", "--json", "-v"},
		{"qa", "--channel", "door", "--cycles", "2", "--json", "--out", report, "--csv", csv, "-v"},
	}
	var all strings.Builder
	for _, args := range runs {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v succeeded with a broken credential_process", args)
		}
		all.Write(out)
	}
	for _, f := range []string{report, csv} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("QA report: %v", err)
		}
		all.Write(raw)
	}
	got := all.String()
	for _, secret := range []string{leakKey, leakToken, "corporate credential helper"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q reached an output:\n%s", secret, got)
		}
	}
	if !strings.Contains(got, "credential_process") {
		t.Errorf("the outputs do not say the credential_process failed:\n%s", got)
	}
}
