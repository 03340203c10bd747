package ui

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/kvsviewer/kvsviewer/call/kvs"
)

// writeCA writes a real self-signed PEM certificate.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultSettingsAreValidDemo(t *testing.T) {
	d := DefaultSettings()
	if d.Mode != ModeDemo {
		t.Errorf("first-run mode %q, want demo", d.Mode)
	}
	if errs := d.Validate(); errs != nil {
		t.Errorf("defaults invalid: %v", errs)
	}
}

func TestSettingsValidate(t *testing.T) {
	ca := writeCA(t)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	aws := func(mod func(*Settings)) Settings {
		s := DefaultSettings()
		s.Mode = ModeAWS
		s.Channel = "front-door"
		mod(&s)
		return s
	}
	cases := []struct {
		name string
		s    Settings
		want map[string]string // field -> substring of the message
	}{
		{"aws ok", aws(func(*Settings) {}), nil},
		{"aws arn ok", aws(func(s *Settings) {
			s.Channel = "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1700000000000"
			s.Region = "eu-west-1"
			s.EndpointURL = "https://kinesisvideo.eu-west-1.amazonaws.com"
			s.CAFile = ca
		}), nil},
		{"aws no channel", aws(func(s *Settings) { s.Channel = " " }), map[string]string{FieldChannel: "name or ARN"}},
		{"bad channel name", aws(func(s *Settings) { s.Channel = "front door!" }), map[string]string{FieldChannel: "letters, digits"}},
		{"bad arn", aws(func(s *Settings) { s.Channel = "arn:aws:s3:::bucket" }), map[string]string{FieldChannel: "ARN"}},
		{"arn region mismatch", aws(func(s *Settings) {
			s.Channel = "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1"
			s.Region = "us-east-1"
		}), map[string]string{FieldRegion: "eu-west-1"}},
		{"bad region", aws(func(s *Settings) { s.Region = "Mars" }), map[string]string{FieldRegion: "not an AWS region"}},
		{"http endpoint", aws(func(s *Settings) { s.EndpointURL = "http://127.0.0.1:4443" }), map[string]string{FieldEndpoint: "https"}},
		{"missing ca", aws(func(s *Settings) { s.CAFile = "/nonexistent/ca.pem" }), map[string]string{FieldCAFile: "not found"}},
		{"ca not pem", aws(func(s *Settings) { s.CAFile = notPEM }), map[string]string{FieldCAFile: "no PEM"}},
		{"bad profile", aws(func(s *Settings) { s.Profile = "my profile" }), map[string]string{FieldProfile: "profile"}},
		{"fixed without id", aws(func(s *Settings) { s.ClientIDPolicy = "fixed" }), map[string]string{FieldClientID: "enter"}},
		{"fixed AWS_ id", aws(func(s *Settings) { s.ClientIDPolicy = "fixed"; s.ClientID = "AWS_x" }), map[string]string{FieldClientID: "AWS_"}},
		{"bad policy", aws(func(s *Settings) { s.ClientIDPolicy = "random" }), map[string]string{FieldClientPolicy: "pool, fixed or fresh"}},
		{"timeouts and limits", aws(func(s *Settings) { s.AnswerTimeout = 100 * time.Millisecond; s.RetryLimit = -1 }),
			map[string]string{FieldAnswerTimeout: "1s and 60s", FieldRetryLimit: "0 and 100"}},
		{"sources", aws(func(s *Settings) { s.Camera = "device:"; s.Microphone = "usb" }), map[string]string{FieldCamera: "camera", FieldMicrophone: "microphone"}},
		{"codec and nat", aws(func(s *Settings) { s.Codec = "av1"; s.NAT = "none" }), map[string]string{FieldCodec: "H.264", FieldNAT: "TURN"}},
		{"demo ignores aws fields", func() Settings { s := DefaultSettings(); s.Channel = "bad name!"; s.Region = "x"; return s }(), nil},
		{"bad mode", func() Settings { s := DefaultSettings(); s.Mode = "gcp"; return s }(), map[string]string{FieldMode: "Demo or AWS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := fields(c.s.Validate())
			if len(got) != len(c.want) {
				t.Fatalf("errors %v, want fields %v", got, c.want)
			}
			for f, sub := range c.want {
				if !strings.Contains(got[f], sub) {
					t.Errorf("field %s: %q, want it to mention %q", f, got[f], sub)
				}
			}
		})
	}
}

func TestSettingsPreferencesRoundTrip(t *testing.T) {
	a := test.NewTempApp(t)
	p := a.Preferences()
	if got := LoadSettings(p); !reflect.DeepEqual(got, DefaultSettings()) {
		t.Fatalf("first run: %+v, want defaults", got)
	}
	s := Settings{Mode: ModeAWS, Profile: "dev", Region: "eu-west-1", Channel: "door", EndpointURL: "https://x.test",
		CAFile: "/tmp/ca.pem", ClientIDPolicy: "fixed", ClientID: "viewer-7", AnswerTimeout: 2500 * time.Millisecond,
		RetryLimit: 9, Camera: "device:/dev/video0", Microphone: SourceTest, Codec: "vp8", SendVideo: false, SendAudio: true, NAT: "relay"}
	SaveSettings(p, s)
	if got := LoadSettings(p); !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
	}
	// Settings are what gets stored: none of its fields may hold a credential.
	typ := reflect.TypeOf(Settings{})
	for i := range typ.NumField() {
		name := strings.ToLower(typ.Field(i).Name)
		for _, k := range []string{"secret", "token", "password", "accesskey", "credential"} {
			if strings.Contains(name, k) {
				t.Errorf("Settings.%s looks like a secret; the app must not store it", typ.Field(i).Name)
			}
		}
	}
}

func TestListProfiles(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(cfg, []byte("[default]\nregion = us-west-2\n[profile dev]\nregion=eu-west-1\n[sso-session corp]\nsso_start_url=x\n"+
		"[profile   spaced  ]\n[profilex]\n[services s]\n  [profile prod] ; comment\n"), 0o600)
	os.WriteFile(creds, []byte("[default]\naws_access_key_id=AKIA\naws_secret_access_key=SECRET\n[ci]\n[dev]\n"), 0o600)
	got := ListProfiles(cfg, creds)
	want := []string{"ci", "default", "dev", "prod", "spaced"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
	if got := ListProfiles(filepath.Join(dir, "missing"), ""); len(got) != 0 {
		t.Errorf("missing files gave %v", got)
	}
}

func FuzzParseProfileNames(f *testing.F) {
	f.Add("[default]\n[profile a]\n", true)
	f.Add("[x]\n[", false)
	f.Add("[profile]\n[profile\t b ]\n]", true)
	f.Fuzz(func(t *testing.T, data string, config bool) {
		for _, name := range parseProfileNames(bytes.NewBufferString(data), config) {
			if !reProfile.MatchString(name) {
				t.Fatalf("invalid profile name %q from %q", name, data)
			}
			if !strings.Contains(data, name) {
				t.Fatalf("name %q not in input", name)
			}
		}
	})
}

func FuzzSettingsValidate(f *testing.F) {
	f.Add("door", "eu-west-1", "https://x.test", "viewer-1", "fixed", "5s")
	f.Add("arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1", "", "", "", "pool", "1500ms")
	f.Add("", "Mars", "http://[::1", "AWS_x", "nope", "-1")
	f.Fuzz(func(t *testing.T, channel, region, endpoint, clientID, policy, timeout string) {
		s := DefaultSettings()
		s.Mode, s.Channel, s.Region, s.EndpointURL, s.ClientID, s.ClientIDPolicy = ModeAWS, channel, region, endpoint, clientID, policy
		if d, err := parseSeconds(timeout); err == nil {
			s.AnswerTimeout = d
		}
		errs := s.Validate()
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("empty field error %+v", e)
			}
		}
		if len(errs) == 0 {
			// Valid settings are usable: a channel the service accepts, a known policy.
			if ChannelRegion(s.Channel) == "" && !reChannelName.MatchString(s.Channel) {
				t.Fatalf("accepted channel %q", s.Channel)
			}
			if s.ClientIDPolicy == "fixed" && kvs.ValidateClientID(s.ClientID) != nil {
				t.Fatalf("accepted ClientId %q", s.ClientID)
			}
		}
	})
}
