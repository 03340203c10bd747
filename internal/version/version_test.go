package version

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

const rev = "4f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"

func buildInfo(settings map[string]string, deps ...*debug.Module) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/kvsviewer/kvsviewer/app", Deps: deps}
	for k, v := range settings {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: k, Value: v})
	}
	return bi
}

func TestFromBuildInfoFields(t *testing.T) {
	bi := buildInfo(map[string]string{
		"vcs.revision": rev, "vcs.time": "2026-01-02T15:04:05Z", "vcs.modified": "false",
		"GOOS": "linux", "GOARCH": "arm64",
	},
		&debug.Module{Path: "fyne.io/fyne/v2", Version: "v2.7.1"},
		&debug.Module{Path: "github.com/pion/webrtc/v4", Version: "v4.2.26"},
		&debug.Module{Path: "github.com/aws/aws-sdk-go-v2", Version: "v1.48.0",
			Replace: &debug.Module{Path: "github.com/aws/aws-sdk-go-v2", Version: "v1.99.0"}},
		&debug.Module{Path: "github.com/pion/rtp", Version: "v1.10.6"},
	)
	b := FromBuildInfo(bi, Injected{Describe: "v0.1.0", BuildDate: "2026-01-03T09:00:00Z"})
	want := BuildInfo{
		Version: "0.1.0", Tagged: true, Commit: rev, CommitTime: "2026-01-02T15:04:05Z",
		BuildDate: "2026-01-03T09:00:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64",
		Deps: []Module{
			{"fyne.io/fyne/v2", "v2.7.1"},
			{"github.com/pion/webrtc/v4", "v4.2.26"},
			{"github.com/pion/mediadevices", ""}, // not in this build
			{"github.com/aws/aws-sdk-go-v2", "v1.99.0"},
		},
	}
	if b.String() != want.String() || b.Tagged != want.Tagged || b.Modified {
		t.Fatalf("got\n%+v\nwant\n%+v", b, want)
	}
	if b.ShortCommit() != "4f3c2a1" {
		t.Errorf("ShortCommit = %q", b.ShortCommit())
	}
	text := b.String()
	for _, line := range []string{
		"kvsviewer 0.1.0\n",
		"commit:  " + rev + ", committed 2026-01-02T15:04:05Z\n",
		"built:   2026-01-03T09:00:00Z with go1.26.8 for linux/arm64\n",
		"fyne.io/fyne/v2               v2.7.1\n",
		"github.com/pion/mediadevices  (not linked)\n",
		"github.com/aws/aws-sdk-go-v2  v1.99.0\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("String() lacks %q:\n%s", line, text)
		}
	}
}

func TestVersionFromDescribe(t *testing.T) {
	stamped := buildInfo(map[string]string{"vcs.revision": rev, "vcs.modified": "false"})
	dirty := buildInfo(map[string]string{"vcs.revision": rev, "vcs.modified": "true"})
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		inj      Injected
		version  string
		tagged   bool
		modified bool
	}{
		{"tag", stamped, Injected{Describe: "v0.3.1"}, "0.3.1", true, false},
		{"after the tag", stamped, Injected{Describe: "v0.3.1-4-g4f3c2a1"}, "0.3.1-4-g4f3c2a1", true, false},
		{"after the tag, dirty", stamped, Injected{Describe: "v0.3.1-4-g4f3c2a1-dirty"}, "0.3.1-4-g4f3c2a1-dirty", true, true},
		{"nothing injected", stamped, Injected{}, "0.0.0-dev+4f3c2a1", false, false},
		{"nothing injected, dirty tree", dirty, Injected{}, "0.0.0-dev+4f3c2a1.dirty", false, true},
		{"no tag in the repository", stamped, Injected{Describe: "4f3c2a1"}, "0.0.0-dev+4f3c2a1", false, false},
		{"no tag, no stamps, injected commit", nil, Injected{Describe: "4f3c2a1-dirty", Commit: rev}, "0.0.0-dev+4f3c2a1.dirty", false, true},
		{"no tag, no stamps, no commit", nil, Injected{Describe: "4f3c2a1"}, "0.0.0-dev+4f3c2a1", false, false},
		{"nothing known", nil, Injected{}, DevVersion, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := FromBuildInfo(tc.bi, tc.inj)
			if b.Version != tc.version || b.Tagged != tc.tagged || b.Modified != tc.modified {
				t.Errorf("Version %q tagged %v modified %v, want %q %v %v", b.Version, b.Tagged, b.Modified, tc.version, tc.tagged, tc.modified)
			}
		})
	}
}

func TestStampedCommitWinsOverInjected(t *testing.T) {
	bi := buildInfo(map[string]string{"vcs.revision": rev, "vcs.time": "2026-01-02T15:04:05Z"})
	b := FromBuildInfo(bi, Injected{Commit: "0123456789", CommitTime: "2000-01-01T00:00:00Z"})
	if b.Commit != rev || b.CommitTime != "2026-01-02T15:04:05Z" {
		t.Errorf("commit %q at %q, want the stamped one", b.Commit, b.CommitTime)
	}
	b = FromBuildInfo(buildInfo(nil), Injected{Commit: rev, CommitTime: "2026-01-02T15:04:05Z"})
	if b.Commit != rev || b.CommitTime != "2026-01-02T15:04:05Z" || !strings.Contains(b.String(), "commit:  "+rev) {
		t.Errorf("injected commit not used: %+v", b)
	}
}

// The test binary itself: no tag was injected, so the version is the dev
// fallback; the Go version and platform are this toolchain's. (A test
// binary's build information lists no modules: TestBuiltProgram checks those.)
func TestInfoOfThisBinary(t *testing.T) {
	b := Info()
	if b.Tagged || !strings.HasPrefix(b.Version, DevVersion) {
		t.Errorf("Version %q tagged %v, want the %s fallback", b.Version, b.Tagged, DevVersion)
	}
	if b.GoVersion != runtime.Version() || b.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Go %q on %q", b.GoVersion, b.Platform)
	}
	if len(b.Deps) != len(Modules) {
		t.Errorf("Deps %v, want one per module of %v", b.Deps, Modules)
	}
	if got := String(); !strings.HasPrefix(got, "kvsviewer "+b.Version+"\n") || strings.Count(got, "\n") != 3+len(Modules) {
		t.Errorf("String():\n%s", got)
	}
}

// TestBuiltProgram builds testdata/printversion, which links the four modules
// as kvsviewer does, and checks what it prints: the module versions of go.mod,
// read from the built binary's build information, the fallback version with
// nothing injected, and the injected facts with -ldflags -X.
func TestBuiltProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	build := func(name string, ldflags ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		args := []string{"build", "-o", out}
		if len(ldflags) > 0 {
			args = append(args, "-ldflags", strings.Join(ldflags, " "))
		}
		cmd := exec.Command(goBin, append(args, "./testdata/printversion")...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		b, err := exec.Command(out).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(b)
	}

	plain := build("plain")
	if !strings.HasPrefix(plain, "kvsviewer "+DevVersion) {
		t.Errorf("plain build, want the %s fallback:\n%s", DevVersion, plain)
	}
	want := goModVersions(t)
	for _, p := range Modules {
		line := p + "  "
		if i := strings.Index(plain, line); i < 0 {
			t.Errorf("no line for %s:\n%s", p, plain)
		} else if v, _, _ := strings.Cut(strings.TrimSpace(plain[i+len(line):]), "\n"); v != want[p] {
			t.Errorf("%s %s, go.mod requires %s", p, v, want[p])
		}
	}

	const pkg = "github.com/kvsviewer/kvsviewer/internal/version"
	injected := build("injected",
		"-X "+pkg+".describe=v1.2.3-4-g4f3c2a1-dirty",
		"-X "+pkg+".buildDate=2026-01-03T09:00:00Z",
		"-X "+pkg+".commit="+rev,
		"-X "+pkg+".commitTime=2026-01-02T15:04:05Z")
	for _, line := range []string{
		"kvsviewer 1.2.3-4-g4f3c2a1-dirty\n",
		"built:   2026-01-03T09:00:00Z with " + runtime.Version() + " for " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
	} {
		if !strings.Contains(injected, line) {
			t.Errorf("injected build lacks %q:\n%s", line, injected)
		}
	}
	// Stamped VCS facts (a plain checkout built with -buildvcs) win over the injected commit.
	if !strings.Contains(injected, "commit:  ") || strings.Contains(injected, "commit:  unknown") {
		t.Errorf("no commit:\n%s", injected)
	}
}

// goModVersions reads the required versions of Modules from the module's go.mod.
func goModVersions(t *testing.T) map[string]string {
	t.Helper()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(mod))
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		for _, p := range Modules {
			if len(fields) >= 2 && fields[0] == p {
				want[p] = fields[1]
			}
		}
	}
	if len(want) != len(Modules) {
		t.Fatalf("go.mod requires %v, want all of %v", want, Modules)
	}
	return want
}
