package call_test

import (
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

	"github.com/kvsviewer/kvsviewer/call"
	"github.com/kvsviewer/kvsviewer/call/kvs"
	"github.com/kvsviewer/kvsviewer/media/capture"
	"github.com/kvsviewer/kvsviewer/media/pattern"
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

func fieldMessages(err error) map[string]string {
	m := map[string]string{}
	for _, e := range call.FieldErrors(err) {
		m[e.Field] = e.Message
	}
	return m
}

func TestDefaultSettingsAreValidDemo(t *testing.T) {
	d := call.DefaultSettings()
	if d.Mode != call.ModeDemo {
		t.Errorf("first-run mode %q, want demo", d.Mode)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	ca := writeCA(t)
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	aws := func(mod func(*call.Settings)) call.Settings {
		s := call.DefaultSettings()
		s.Mode = call.ModeAWS
		s.Channel = "front-door"
		mod(&s)
		return s
	}
	cases := []struct {
		name string
		s    call.Settings
		want map[string]string // field -> substring of the message
	}{
		{"aws ok", aws(func(*call.Settings) {}), nil},
		{"aws arn ok", aws(func(s *call.Settings) {
			s.Channel = "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1700000000000"
			s.Region = "eu-west-1"
			s.EndpointURL = "https://kinesisvideo.eu-west-1.amazonaws.com"
			s.CAFile = ca
		}), nil},
		{"aws no channel", aws(func(s *call.Settings) { s.Channel = " " }), map[string]string{call.FieldChannel: "name or ARN"}},
		{"bad channel name", aws(func(s *call.Settings) { s.Channel = "front door!" }), map[string]string{call.FieldChannel: "letters, digits"}},
		{"bad arn", aws(func(s *call.Settings) { s.Channel = "arn:aws:s3:::bucket" }), map[string]string{call.FieldChannel: "ARN"}},
		{"longest channel name", aws(func(s *call.Settings) { s.Channel = strings.Repeat("a", 256) }), nil},
		{"channel name too long", aws(func(s *call.Settings) { s.Channel = strings.Repeat("a", 257) }), map[string]string{call.FieldChannel: "1-256"}},
		{"longest name in an arn", aws(func(s *call.Settings) {
			s.Channel = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/" + strings.Repeat("a", 256) + "/1"
		}), nil},
		{"arn name too long", aws(func(s *call.Settings) {
			s.Channel = "arn:aws:kinesisvideo:us-west-2:123456789012:channel/" + strings.Repeat("a", 257) + "/1"
		}), map[string]string{call.FieldChannel: "ARN"}},
		{"longest profile", aws(func(s *call.Settings) { s.Profile = strings.Repeat("p", 128) }), nil},
		{"profile too long", aws(func(s *call.Settings) { s.Profile = strings.Repeat("p", 129) }), map[string]string{call.FieldProfile: "profile"}},
		{"arn region mismatch", aws(func(s *call.Settings) {
			s.Channel = "arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1"
			s.Region = "us-east-1"
		}), map[string]string{call.FieldRegion: "eu-west-1"}},
		{"bad region", aws(func(s *call.Settings) { s.Region = "Mars" }), map[string]string{call.FieldRegion: "not an AWS region"}},
		{"http endpoint", aws(func(s *call.Settings) { s.EndpointURL = "http://127.0.0.1:4443" }), map[string]string{call.FieldEndpoint: "https"}},
		{"missing ca", aws(func(s *call.Settings) { s.CAFile = "/nonexistent/ca.pem" }), map[string]string{call.FieldCAFile: "not found"}},
		{"ca not pem", aws(func(s *call.Settings) { s.CAFile = notPEM }), map[string]string{call.FieldCAFile: "no PEM"}},
		{"bad profile", aws(func(s *call.Settings) { s.Profile = "my profile" }), map[string]string{call.FieldProfile: "profile"}},
		{"fixed without id", aws(func(s *call.Settings) { s.ClientIDPolicy = call.PolicyFixed }), map[string]string{call.FieldClientID: "enter"}},
		{"fixed AWS_ id", aws(func(s *call.Settings) { s.ClientIDPolicy = call.PolicyFixed; s.ClientID = "AWS_x" }), map[string]string{call.FieldClientID: "AWS_"}},
		{"bad policy", aws(func(s *call.Settings) { s.ClientIDPolicy = "random" }), map[string]string{call.FieldClientIDPolicy: "pool, fixed or fresh"}},
		{"timeouts and limits", aws(func(s *call.Settings) { s.AnswerTimeout = 50 * time.Millisecond; s.Retries = -1 }),
			map[string]string{call.FieldAnswerTimeout: "between 100ms and 2m0s", call.FieldRetries: "between 0 and 100"}},
		{"answer timeout cap below the timeout", aws(func(s *call.Settings) { s.AnswerTimeout, s.MaxAnswerTimeout = 10*time.Second, 5*time.Second }),
			map[string]string{call.FieldMaxAnswerTimeout: "between the answer timeout"}},
		{"sources", aws(func(s *call.Settings) { s.Video = "webcam"; s.Audio = "usb" }), map[string]string{call.FieldVideo: "camera", call.FieldAudio: "mic"}},
		{"video format", aws(func(s *call.Settings) { s.Width, s.Height = 7680, 4321 }), map[string]string{call.FieldVideoFormat: "3840x2160"}},
		{"codec and nat", aws(func(s *call.Settings) { s.Codec = "av1"; s.NAT = "none" }), map[string]string{call.FieldCodec: "H.264", call.FieldNAT: "TURN"}},
		{"faults need demo", aws(func(s *call.Settings) { s.Faults = "drop-offers=1" }), map[string]string{call.FieldFaults: "Demo mode"}},
		{"candidate filters", aws(func(s *call.Settings) { s.SendCandidates, s.AcceptCandidates = "host,udp", "relay" }),
			map[string]string{call.FieldSendCandidates: `"udp" is not a candidate type`}},
		{"TURN only needs relay candidates", aws(func(s *call.Settings) { s.NAT, s.SendCandidates = call.NATRelay, "host" }),
			map[string]string{call.FieldSendCandidates: "allow relay"}},
		{"bitrate", aws(func(s *call.Settings) { s.MaxBitrate = 10 }), map[string]string{call.FieldMaxBitrate: "between 50 and 20000"}},
		{"demo ignores aws fields", func() call.Settings {
			s := call.DefaultSettings()
			s.Channel, s.Region = "bad name!", "x"
			return s
		}(), nil},
		{"bad mode", func() call.Settings { s := call.DefaultSettings(); s.Mode = "gcp"; return s }(), map[string]string{call.FieldMode: "demo or aws"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := fieldMessages(c.s.Validate())
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

// TestSettingsConfig: the one mapping from what users set to what the
// controller takes.
func TestSettingsConfig(t *testing.T) {
	ca := writeCA(t)
	s := call.DefaultSettings()
	s.Mode, s.Channel, s.Region, s.Profile = call.ModeAWS, "door", "eu-west-1", "dev"
	s.EndpointURL, s.CAFile = "https://127.0.0.1:4443", ca
	s.ClientIDPolicy, s.ClientID = call.PolicyFixed, "viewer-1"
	s.AnswerTimeout, s.MaxAnswerTimeout, s.Retries = 3*time.Second, 12*time.Second, 0
	s.Video, s.VideoDevice, s.Audio, s.Codec, s.NAT = capture.SourceCamera, "/dev/video0", capture.SourceTone, "h264", call.NATRelay
	s.Width, s.Height, s.FPS = 640, 360, 15
	want := call.Config{
		AWS:           kvs.AWSOptions{Region: "eu-west-1", Profile: "dev", EndpointURL: "https://127.0.0.1:4443", CAFile: ca},
		Channel:       "door",
		ClientIDs:     call.ClientIDConfig{Policy: call.PolicyFixed, ID: "viewer-1"},
		AnswerTimeout: 3 * time.Second, MaxAnswerTimeout: 12 * time.Second,
		NoRetries: true,
		Media: capture.Options{Video: capture.SourceCamera, VideoDevice: "/dev/video0", Audio: capture.SourceTone, Codec: "h264",
			Width: 640, Height: 360, FPS: 15, PatternStyle: pattern.StyleViewer},
		NAT:            call.NATRelay,
		DataChannel:    true,
		SendCandidates: call.AllCandidates, AcceptCandidates: call.AllCandidates,
	}
	if got := s.Config(); !reflect.DeepEqual(got, want) {
		t.Errorf("config\n got %+v\nwant %+v", got, want)
	}
	if err := s.Config().Validate(); err != nil {
		t.Errorf("the controller rejects it: %v", err)
	}
	s.Retries = 4
	if c := s.Config(); c.NoRetries || c.RetryLimit != 4 {
		t.Errorf("retries 4: %+v", c)
	}
	s.Trickle, s.DataChannel, s.MaxBitrate, s.DualStack, s.FIPS = false, false, 900, true, true
	if c := s.Config(); !c.NoTrickle || c.DataChannel || c.Media.VideoBitrate != 900_000 || !c.AWS.DualStack || !c.AWS.FIPS {
		t.Errorf("trickle off, no data channel, 900 kbit/s, dual-stack, FIPS: %+v", c)
	}
	s.Mode = call.ModeDemo
	if c := s.Config(); c.Channel != "" || c.AWS != (kvs.AWSOptions{}) {
		t.Errorf("demo mode keeps AWS settings for the demo to replace: %+v", c)
	}
}

func FuzzSettingsValidate(f *testing.F) {
	f.Add("door", "eu-west-1", "https://x.test", "viewer-1", "fixed", int64(5e9))
	f.Add("arn:aws:kinesisvideo:eu-west-1:123456789012:channel/door/1", "", "", "", "pool", int64(15e8))
	f.Add("", "Mars", "http://[::1", "AWS_x", "nope", int64(-1))
	f.Fuzz(func(t *testing.T, channel, region, endpoint, clientID, policy string, timeout int64) {
		s := call.DefaultSettings()
		s.Mode, s.Channel, s.Region, s.EndpointURL, s.ClientID = call.ModeAWS, channel, region, endpoint, clientID
		s.ClientIDPolicy, s.AnswerTimeout = call.IDPolicy(policy), time.Duration(timeout)
		errs := call.FieldErrors(s.Validate())
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("empty field error %+v", e)
			}
		}
		if len(errs) == 0 {
			// Valid settings are usable: a channel the service accepts, a known policy.
			if call.ChannelRegion(s.Channel) == "" && (s.Channel == "" || strings.ContainsAny(s.Channel, " /:")) {
				t.Fatalf("accepted channel %q", s.Channel)
			}
			if s.ClientIDPolicy == call.PolicyFixed && kvs.ValidateClientID(s.ClientID) != nil {
				t.Fatalf("accepted ClientId %q", s.ClientID)
			}
			c, err := call.NewController(s.Config())
			if err != nil {
				t.Fatalf("valid settings, but the controller refuses them: %v", err)
			}
			_ = c.Close()
		}
	})
}
