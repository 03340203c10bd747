// Package packaging_test checks the files of the Debian package (packaging/):
// the launcher's message when a library is missing, the Debian version made
// from git describe, and that the desktop entry, the AppStream metainfo and
// the nfpm config agree with each other and with the app's id.
package packaging_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const appID = "io.github.kvsviewer"

const loaderMessage = "/usr/bin/kvsviewer: error while loading shared libraries: libx264.so.164: " +
	"cannot open shared object file: No such file or directory"

// launchRig is a PATH with fakes: a program that records its arguments for
// each of the given names, plus the real grep and timeout the launcher uses.
type launchRig struct {
	dir, path string
}

func newLaunchRig(t *testing.T, fakes ...string) launchRig {
	t.Helper()
	r := launchRig{dir: t.TempDir()}
	bin := filepath.Join(r.dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"grep", "timeout"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range fakes {
		script := "#!/bin/bash\nprintf '%s\\0' \"$@\" > " + filepath.Join(r.dir, name+".args") + "\n"
		writeExec(t, filepath.Join(bin, name), script)
	}
	r.path = bin
	return r
}

// called returns the arguments a fake was called with (it writes them
// NUL-separated: the messages have several lines), or nil.
func (r launchRig) called(name string) []string {
	b, err := os.ReadFile(filepath.Join(r.dir, name+".args"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// run runs packaging/launch with the program prog and returns its stderr and exit code.
func (r launchRig) run(t *testing.T, prog string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command("./launch", args...)
	cmd.Env = append([]string{"PATH=" + r.path, "KVSVIEWER_BIN=" + prog}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeExec(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeLoaderFailure is a program that fails as the dynamic loader does when
// libx264 is missing.
func fakeLoaderFailure(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "kvsviewer")
	writeExec(t, p, "#!/bin/bash\necho '"+loaderMessage+"' >&2\nexit 127\n")
	return p
}

func TestLaunchMissingLibraryDialog(t *testing.T) {
	r := newLaunchRig(t, "zenity", "notify-send")
	_, stderr, code := r.run(t, fakeLoaderFailure(t), []string{"DISPLAY=:0"})
	if code != 127 {
		t.Errorf("exit code %d, want 127", code)
	}
	const words = "KVS Viewer cannot start: the library libx264.so.164 is missing (cannot open shared object file: No such file or directory)."
	if !strings.Contains(stderr, loaderMessage+"\n") || !strings.Contains(stderr, "kvsviewer: "+words) ||
		!strings.Contains(stderr, "sudo apt-get install -f") {
		t.Errorf("stderr:\n%s", stderr)
	}
	z := r.called("zenity")
	if len(z) < 4 || z[0] != "--error" || !strings.Contains(strings.Join(z, "\n"), words) {
		t.Errorf("zenity called with %q", z)
	}
	if n := r.called("notify-send"); n != nil {
		t.Errorf("notify-send called too: %q", n)
	}
}

func TestLaunchMissingLibraryNotification(t *testing.T) {
	// No zenity (or no display for it): a notification instead.
	for _, tc := range []struct {
		name  string
		fakes []string
		env   []string
	}{
		{"no zenity", []string{"notify-send"}, []string{"DISPLAY=:0"}},
		{"no display", []string{"zenity", "notify-send"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newLaunchRig(t, tc.fakes...)
			_, stderr, code := r.run(t, fakeLoaderFailure(t), tc.env)
			n := r.called("notify-send")
			if code != 127 || !strings.Contains(stderr, "libx264.so.164 is missing") {
				t.Errorf("exit %d, stderr:\n%s", code, stderr)
			}
			if len(n) != 5 || n[0] != "--app-name=KVS Viewer" || n[3] != "KVS Viewer cannot start" ||
				!strings.HasPrefix(n[4], "The library libx264.so.164 is missing (cannot open shared object file: No such file or directory).\nInstall") {
				t.Errorf("notify-send called with %q", n)
			}
			if z := r.called("zenity"); z != nil {
				t.Errorf("zenity called with no display: %q", z)
			}
		})
	}
}

func TestLaunchMissingLibraryStderrOnly(t *testing.T) {
	r := newLaunchRig(t)
	_, stderr, code := r.run(t, fakeLoaderFailure(t), []string{"DISPLAY=:0"})
	if code != 127 || !strings.Contains(stderr, "kvsviewer: KVS Viewer cannot start: the library libx264.so.164 is missing") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestLaunchPassesThrough(t *testing.T) {
	r := newLaunchRig(t, "zenity", "notify-send")
	prog := filepath.Join(t.TempDir(), "kvsviewer")
	writeExec(t, prog, "#!/bin/bash\nprintf '<%s>' \"$@\"\necho oops >&2\nexit 3\n")
	stdout, stderr, code := r.run(t, prog, []string{"DISPLAY=:0"}, "--demo", "two words")
	if code != 3 || stdout != "<--demo><two words>" || stderr != "oops\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A 127 of the program's own (no loader message) is passed on without a message.
	writeExec(t, prog, "#!/bin/bash\nexit 127\n")
	if _, stderr, code := r.run(t, prog, []string{"DISPLAY=:0"}); code != 127 || stderr != "" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if r.called("zenity") != nil || r.called("notify-send") != nil {
		t.Error("a message for a program that started")
	}
}

func TestLaunchNotInstalled(t *testing.T) {
	r := newLaunchRig(t, "notify-send")
	_, stderr, code := r.run(t, "/nonexistent/kvsviewer", nil)
	if code != 127 || !strings.Contains(stderr, "kvsviewer: KVS Viewer cannot start: /nonexistent/kvsviewer is not installed") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if n := r.called("notify-send"); len(n) != 5 {
		t.Errorf("notify-send called with %q", n)
	}
}

func TestDebVersion(t *testing.T) {
	for describe, want := range map[string]string{
		"v0.1.0":                  "0.1.0",
		"v0.1.0-dirty":            "0.1.0+dirty",
		"v0.1.0-3-gabc1234":       "0.1.0+git3.abc1234",
		"v0.1.0-3-gabc1234-dirty": "0.1.0+git3.abc1234.dirty",
		"0503d0c":                 "0.0.0~git.0503d0c",
		"0503d0c-dirty":           "0.0.0~git.0503d0c.dirty",
		"v0.2.0-rc1":              "0.2.0~rc1",
		"v0.2.0-rc1-2-gdeadbee":   "0.2.0~rc1+git2.deadbee",
	} {
		out, err := exec.Command("./deb.sh", "--deb-version", describe).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", describe, got, err, want)
		}
	}
	if err := exec.Command("./deb.sh", "--deb-version", "not a version").Run(); err == nil {
		t.Error("no error for a describe that is no version")
	}
	// The order apt sees: untagged builds before any release, builds after a tag after it.
	if _, err := exec.LookPath("dpkg"); err == nil {
		for _, pair := range [][2]string{
			{"0.0.0~git.0503d0c", "0.1.0"}, {"0.1.0", "0.1.0+git3.abc1234"}, {"0.2.0~rc1+git2.deadbee", "0.2.0"},
		} {
			if err := exec.Command("dpkg", "--compare-versions", pair[0], "lt", pair[1]).Run(); err != nil {
				t.Errorf("%s does not sort before %s", pair[0], pair[1])
			}
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The id is the one of app/FyneApp.toml; the desktop entry runs the launcher
// the package installs and names the icon the package installs.
func TestDesktopEntry(t *testing.T) {
	if !regexp.MustCompile(`(?m)^ID = "` + regexp.QuoteMeta(appID) + `"$`).MatchString(read(t, "../app/FyneApp.toml")) {
		t.Fatalf("app/FyneApp.toml's ID is not %s", appID)
	}
	desktop := read(t, appID+".desktop")
	for _, line := range []string{
		"Exec=/usr/lib/kvsviewer/launch", "Icon=" + appID, "Name=KVS Viewer", "Type=Application", "Terminal=false",
		// GLFW names the window's class after its title: the dock groups the window with the launcher.
		"StartupWMClass=KVS Viewer",
	} {
		if !strings.Contains(desktop, "\n"+line+"\n") {
			t.Errorf("the desktop entry lacks %q", line)
		}
	}
}

type metainfo struct {
	XMLName    xml.Name `xml:"component"`
	Type       string   `xml:"type,attr"`
	ID         string   `xml:"id"`
	Name       string   `xml:"name"`
	Summary    string   `xml:"summary"`
	Paragraphs []string `xml:"description>p"`
	Launchable struct {
		Type string `xml:"type,attr"`
		ID   string `xml:",chardata"`
	} `xml:"launchable"`
	Screenshots []struct {
		Caption string `xml:"caption"`
		Image   string `xml:"image"`
	} `xml:"screenshots>screenshot"`
	ContentRating struct {
		Type string `xml:"type,attr"`
	} `xml:"content_rating"`
	Releases string `xml:"releases"`
}

func TestMetainfo(t *testing.T) {
	var m metainfo
	text := read(t, appID+".metainfo.xml.in")
	if err := xml.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "desktop-application" || m.ID != appID || m.Name != "KVS Viewer" || m.Summary == "" || len(m.Paragraphs) == 0 {
		t.Errorf("metainfo: %+v", m)
	}
	if m.Launchable.Type != "desktop-id" || m.Launchable.ID != appID+".desktop" {
		t.Errorf("launchable %+v, want the desktop entry %s.desktop", m.Launchable, appID)
	}
	if m.ContentRating.Type != "oars-1.1" {
		t.Errorf("content rating %q", m.ContentRating.Type)
	}
	if !strings.Contains(m.Releases, "@RELEASES@") {
		t.Error("no @RELEASES@ for deb.sh to fill in")
	}
	// Each screenshot is a file of docs/ (make screenshots), shown from the repository.
	const prefix = "https://raw.githubusercontent.com/kvsviewer/kvsviewer/main/"
	if len(m.Screenshots) == 0 {
		t.Error("no screenshots")
	}
	for _, s := range m.Screenshots {
		rel, ok := strings.CutPrefix(s.Image, prefix)
		if !ok || !strings.HasPrefix(rel, "docs/") || s.Caption == "" {
			t.Errorf("screenshot %+v", s)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", rel)); err != nil {
			t.Errorf("screenshot %s: %v", s.Image, err)
		}
	}
}

// Every file the package ships is listed in nfpm.yaml with its place, and
// the checked-in sources exist.
func TestNfpmContents(t *testing.T) {
	cfg := read(t, "nfpm.yaml")
	for _, dst := range []string{
		"/usr/bin/kvsviewer", "/usr/lib/kvsviewer/launch",
		"/usr/share/applications/" + appID + ".desktop", "/usr/share/metainfo/" + appID + ".metainfo.xml",
	} {
		if !strings.Contains(cfg, "dst: "+dst+"\n") {
			t.Errorf("nfpm.yaml installs nothing at %s", dst)
		}
	}
	for _, size := range []string{"16", "24", "32", "48", "64", "128", "256", "512"} {
		dst := "dst: /usr/share/icons/hicolor/" + size + "x" + size + "/apps/" + appID + ".png\n"
		if !strings.Contains(cfg, "src: ${KVSVIEWER_STAGE}/icons/"+size+".png\n    expand: true\n    "+dst) {
			t.Errorf("no %s icon from the stage", size)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^  - src: (packaging/\S+)$`).FindAllStringSubmatch(cfg, -1) {
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("source %s: %v", m[1], err)
		}
	}
	if !strings.Contains(cfg, "depends:\n  - ${KVSVIEWER_DEPENDS}\n") {
		t.Error("Depends do not come from dpkg-shlibdeps (KVSVIEWER_DEPENDS)")
	}
}
