package startup

import (
	"bytes"
	"errors"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestCheckDisplay(t *testing.T) {
	if err := CheckDisplay(env("DISPLAY", ":0")); err != nil {
		t.Errorf("DISPLAY=:0: %v", err)
	}
	err := CheckDisplay(env())
	const want = "cannot open a window: no display (DISPLAY is not set). " +
		"Run it from a desktop session, or use `kvsviewer call --demo` for a headless call."
	if err == nil || err.Error() != want {
		t.Errorf("no DISPLAY: %v\nwant %s", err, want)
	}
	var we *WindowError
	if !errors.As(err, &we) {
		t.Errorf("%T is not a *WindowError", err)
	}
	err = CheckDisplay(env("WAYLAND_DISPLAY", "wayland-0"))
	if err == nil || !strings.Contains(err.Error(), "Xwayland") {
		t.Errorf("Wayland only: %v", err)
	}
}

// The texts are what GLFW 3.3 and Fyne 2.7 print in each case (seen on
// Debian 12 with DISPLAY unset, DISPLAY=:78 with no server, and an Xvfb
// started with -extension GLX).
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		getenv  func(string) string
		want    string // "" for nil
	}{
		{"panic, no DISPLAY", "NotInitialized: The GLFW library is not initialized", env(),
			"cannot open a window: no display (DISPLAY is not set)."},
		{"GLFW, no DISPLAY", "PlatformError: X11: The DISPLAY environment variable is missing", env(),
			"cannot open a window: no display (DISPLAY is not set)."},
		{"GLFW, no server", "PlatformError: X11: Failed to open display :78", env("DISPLAY", ":78"),
			"cannot open a window: the display :78 cannot be opened"},
		{"panic, DISPLAY set", "NotInitialized: The GLFW library is not initialized", env("DISPLAY", ":78"),
			"cannot open a window: the display :78 cannot be opened"},
		{"no GLX", "APIUnavailable: GLX: GLX extension not found", env("DISPLAY", ":77"),
			"cannot open a window: no OpenGL on the display :77 (GLX: GLX extension not found). Install an OpenGL driver"},
		{"old GL", "VersionUnavailable: GLX: Failed to create context: GLXBadFBConfig", env("DISPLAY", ":0"),
			"cannot open a window: no OpenGL on the display :0 (GLX: Failed to create context: GLXBadFBConfig)"},
		{"something else", "runtime error: index out of range [3] with length 2", env("DISPLAY", ":0"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Explain(tc.v, tc.getenv)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("got %v\nwant %s...", err, tc.want)
			case err != nil && !strings.HasSuffix(err.Error(), Headless+"."):
				t.Errorf("%v: no headless advice", err)
			}
		})
	}
	if Explain(nil, env()) != nil {
		t.Error("Explain(nil) is not nil")
	}
	we := &WindowError{Reason: "r", Advice: "a"}
	if got := Explain(errors.Join(errors.New("x"), we), env()); got != we {
		t.Errorf("a wrapped *WindowError comes back as %v", got)
	}
}

// fyneLog logs what Fyne 2.7 logs through the standard log package when the
// window cannot be created (fyne.LogError).
func fyneLog(l *log.Logger, reason, cause string) {
	l.Println("Fyne error: ", reason)
	l.Println("  Cause:", cause)
	l.Printf("  At: %s:%d", "/root/go/pkg/mod/fyne.io/fyne/v2@v2.7.1/internal/driver/glfw/driver.go", 147)
}

func TestWatchNoOpenGL(t *testing.T) {
	var out bytes.Buffer
	var failures []error
	l := log.New(Watch(&out, env("DISPLAY", ":77"), func(err error) { failures = append(failures, err) }), "", log.LstdFlags)
	// The locale complaint has a Cause line too, and is harmless.
	fyneLog(l, "Error parsing user locale C", "language: tag is not well-formed")
	if len(failures) != 0 {
		t.Fatalf("the locale message is a failure: %v", failures)
	}
	fyneLog(l, "window creation error", "APIUnavailable: GLX: GLX extension not found")
	fyneLog(l, "window creation error", "APIUnavailable: GLX: GLX extension not found")
	if len(failures) != 1 {
		t.Fatalf("%d failures, want 1: %v", len(failures), failures)
	}
	if got := failures[0].Error(); !strings.HasPrefix(got, "cannot open a window: no OpenGL on the display :77 (GLX: GLX extension not found)") {
		t.Errorf("failure: %s", got)
	}
	if n := strings.Count(out.String(), "\n"); n != 9 {
		t.Errorf("%d lines passed on, want 9:\n%s", n, out.String())
	}
}

func TestWatchDisplay(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		getenv     func(string) string
		want       string
	}{
		{"unset", "PlatformError: X11: The DISPLAY environment variable is missing", env(), "no display (DISPLAY is not set)"},
		{"no server", "PlatformError: X11: Failed to open display :78", env("DISPLAY", ":78"), "the display :78 cannot be opened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failures []error
			l := log.New(Watch(&bytes.Buffer{}, tc.getenv, func(err error) { failures = append(failures, err) }), "", 0)
			l.Println(tc.line)
			if len(failures) != 1 || !strings.Contains(failures[0].Error(), tc.want) {
				t.Errorf("failures %v, want one with %q", failures, tc.want)
			}
		})
	}
	// An unknown cause after Fyne's window creation error is still a failure, in GLFW's words.
	var failures []error
	l := log.New(Watch(&bytes.Buffer{}, env("DISPLAY", ":0"), func(err error) { failures = append(failures, err) }), "", 0)
	fyneLog(l, "window creation error", "PlatformError: X11: something new")
	if len(failures) != 1 || !strings.HasPrefix(failures[0].Error(), "cannot open a window: PlatformError: X11: something new. ") {
		t.Errorf("failures %v", failures)
	}
}

func TestReport(t *testing.T) {
	var stderr bytes.Buffer
	var title, body string
	r := Reporter{Stderr: &stderr, Notify: func(ti, b string) error {
		title, body = ti, b
		return errors.New("no notification server")
	}}
	err := CheckDisplay(env())
	r.Report(err)
	want := "kvsviewer: cannot open a window: no display (DISPLAY is not set). " +
		"Run it from a desktop session, or use `kvsviewer call --demo` for a headless call.\n"
	if stderr.String() != want {
		t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
	}
	if title != "KVS Viewer cannot start" || body != err.Error() {
		t.Errorf("notification %q / %q", title, body)
	}
	stderr.Reset()
	r.Report(nil)
	if stderr.Len() != 0 {
		t.Errorf("Report(nil) wrote %q", stderr.String())
	}
}

func TestNotifySend(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	if err := NotifySend("t", "b"); err == nil {
		t.Error("no notify-send on PATH, no error")
	}
	args := filepath.Join(dir, "args")
	script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > " + args + "\n"
	if err := os.WriteFile(filepath.Join(dir, "notify-send"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := NotifySend("KVS Viewer cannot start", "no display"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	want := "--app-name=KVS Viewer\n--icon=io.github.kvsviewer\n--urgency=critical\nKVS Viewer cannot start\nno display\n"
	if string(got) != want {
		t.Errorf("notify-send got\n%s\nwant\n%s", got, want)
	}
}
