package interop_test

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sdkBundle is the JS SDK's browser bundle: $KVS_JS_SDK (the Makefile sets
// it), else where `make interop-deps` puts it.
func sdkBundle(t testing.TB) string {
	t.Helper()
	path := os.Getenv("KVS_JS_SDK")
	if path == "" {
		matches, _ := filepath.Glob("../../.cache/kvs-webrtc-js-*/package/dist/kvs-webrtc.min.js")
		if len(matches) > 0 {
			path = matches[len(matches)-1]
		}
	}
	if path == "" {
		t.Skip("the KVS WebRTC JS SDK is not here: run `make interop-deps` (or set KVS_JS_SDK to its dist/kvs-webrtc.min.js)")
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the KVS WebRTC JS SDK: %v (run `make interop-deps`)", err)
	}
	return path
}

// tool returns the path of a command the test needs, or skips the test.
func tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: run `make interop-deps`", name)
	}
	return path
}

// reportJS is the pages' shared report function.
//
//go:embed testdata/report.js
var reportJS string

// report is one thing the page said (POST /report): {"event": ..., ...}.
type report map[string]any

func (r report) event() string       { s, _ := r["event"].(string); return s }
func (r report) str(k string) string { s, _ := r[k].(string); return s }
func (r report) num(k string) float64 {
	f, _ := r[k].(float64)
	return f
}

// page serves a test page, the SDK and a JSON config on 127.0.0.1, and
// collects the page's reports.
type page struct {
	URL     string
	reports chan report
	mu      sync.Mutex
	all     []report
	srv     *http.Server
}

func servePage(t testing.TB, html, bundle string, config any) *page {
	t.Helper()
	sdk, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	p := &page{reports: make(chan report, 1024)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, html)
	})
	mux.HandleFunc("GET /report.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = io.WriteString(w, reportJS)
	})
	mux.HandleFunc("GET /kvs-webrtc.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(sdk)
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cfg)
	})
	mux.HandleFunc("POST /report", func(_ http.ResponseWriter, r *http.Request) {
		var rep report
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&rep); err != nil {
			return
		}
		p.mu.Lock()
		p.all = append(p.all, rep)
		p.mu.Unlock()
		select {
		case p.reports <- rep:
		default:
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	p.URL = "http://" + ln.Addr().String() + "/"
	return p
}

// wait returns the first report (from now on) that match accepts; an
// "error" report fails the test at once.
func (p *page) wait(t testing.TB, limit time.Duration, what string, match func(report) bool) report {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case r := <-p.reports:
			if r.event() == "error" {
				t.Fatalf("the JS SDK master reported an error while waiting for %s: %s", what, r.str("message"))
			}
			if match(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("the JS SDK master: no %s within %s; its reports: %v", what, limit, p.history())
		}
	}
}

func (p *page) history() []report {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.all)
	return append([]report(nil), p.all[max(0, n-20):]...)
}

// chromium runs headless Chromium on url with the fake camera and
// microphone, loopback ICE candidates allowed and mDNS names off, trusting
// caFile (and nothing more) through an NSS database of its own. It is
// stopped by the function returned, or when the test ends.
func chromium(t testing.TB, url, caFile string) (stop func()) {
	t.Helper()
	bin := tool(t, "chromium")
	certutil := tool(t, "certutil")
	home := t.TempDir()
	nss := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", nss, "--empty-password"},
		{"-A", "-d", nss, "-n", "kvs-emulator-ca", "-t", "C,,", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--user-data-dir="+filepath.Join(home, "profile"),
		"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
		"--autoplay-policy=no-user-gesture-required",
		url)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &syncWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			err := cmd.Wait()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Logf("chromium: %v", err)
			}
			if t.Failed() {
				t.Logf("chromium's stderr (tail):\n%s", tail(stderr.Bytes(), 4000))
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
