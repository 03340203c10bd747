// Package version tells which build of kvsviewer is running: the release
// version, the commit it was built from, when, with which Go, and the versions
// of the libraries that matter most in a bug report (Fyne, Pion WebRTC, Pion
// mediadevices, the AWS SDK).
//
// The version comes from the git tag: `make build` injects
// `git describe --tags --always --dirty` with
//
//	-ldflags "-X github.com/kvsviewer/kvsviewer/internal/version.describe=$(git describe --tags --always --dirty)
//	          -X github.com/kvsviewer/kvsviewer/internal/version.buildDate=2026-01-02T15:04:05Z"
//
// Everything else is read from the binary's build information
// (runtime/debug.ReadBuildInfo): the commit, its time and whether the tree had
// changes (vcs.revision, vcs.time, vcs.modified, stamped by `go build` inside
// a git checkout) and the module versions. `go build` stamps no VCS facts in a
// git worktree (.git is a file there) nor with -buildvcs=false, so the
// Makefile injects the commit and its time too (commit, commitTime); the
// stamped ones win where both exist. A build without a tag (a plain
// `go build`, or a repository with no v* tag yet) is "0.0.0-dev+<short commit>".
package version

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Set with -ldflags -X at build time (see the package comment). Empty in a
// plain `go build`.
var (
	describe   string // `git describe --tags --always --dirty`: v0.1.0, v0.1.0-3-gabc1234-dirty, abc1234
	buildDate  string // when the binary was built, RFC 3339 in UTC
	commit     string // `git rev-parse HEAD`, for builds without VCS stamps
	commitTime string // the commit's time, RFC 3339, likewise
)

// Modules are the module paths whose versions Info reports, in this order.
var Modules = []string{
	"fyne.io/fyne/v2",
	"github.com/pion/webrtc/v4",
	"github.com/pion/mediadevices",
	"github.com/aws/aws-sdk-go-v2",
}

// DevVersion is the version of a build that has no release tag.
const DevVersion = "0.0.0-dev"

// BuildInfo describes this build. Fields that could not be learnt are empty.
type BuildInfo struct {
	// Version is the release: "0.1.0" for a build of the tag v0.1.0,
	// "0.1.0-3-gabc1234" three commits after it, with "-dirty" when the tree had
	// changes; "0.0.0-dev+abc1234" (".dirty" appended when the tree had
	// changes) when no tag was injected.
	Version string
	// Tagged reports whether Version comes from a git tag.
	Tagged bool
	// Commit is the full git commit hash (vcs.revision).
	Commit string
	// CommitTime is the commit's time (vcs.time), RFC 3339.
	CommitTime string
	// Modified reports that the tree had uncommitted changes (vcs.modified).
	Modified bool
	// BuildDate is when the binary was built, RFC 3339; empty unless injected.
	BuildDate string
	// GoVersion is the Go toolchain that built the binary, e.g. "go1.26.8".
	GoVersion string
	// Platform is GOOS/GOARCH, e.g. "linux/amd64".
	Platform string
	// Deps are the versions of Modules, in that order; Version is "" for a
	// module the binary does not contain.
	Deps []Module
}

// Module is one dependency's version.
type Module struct {
	Path    string
	Version string // e.g. "v2.7.1"; a replaced module's is the replacement's
}

// ShortCommit is the first 7 characters of Commit.
func (b BuildInfo) ShortCommit() string {
	if len(b.Commit) > 7 {
		return b.Commit[:7]
	}
	return b.Commit
}

var (
	infoOnce sync.Once
	info     BuildInfo
)

// Info describes the running binary (computed once).
func Info() BuildInfo {
	infoOnce.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		info = FromBuildInfo(bi, Injected{Describe: describe, BuildDate: buildDate, Commit: commit, CommitTime: commitTime})
	})
	return info
}

// String is the text of `kvsviewer --version`: one line per fact, e.g.
//
//	kvsviewer 0.1.0
//	commit:       4f3c2a1b... (2026-01-02T15:04:05Z)
//	built:        2026-01-03T09:00:00Z with go1.26.8 for linux/amd64
//	fyne.io/fyne/v2               v2.7.1
//	...
func String() string { return Info().String() }

// String is the multi-line description of b (see the package's String).
func (b BuildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "kvsviewer %s\n", b.Version)
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += " (with uncommitted changes)"
	}
	if b.CommitTime != "" {
		commit += ", committed " + b.CommitTime
	}
	fmt.Fprintf(&s, "commit:  %s\n", commit)
	built := b.BuildDate
	if built == "" {
		built = "date unknown"
	}
	fmt.Fprintf(&s, "built:   %s with %s for %s\n", built, b.GoVersion, b.Platform)
	width := 0
	for _, m := range b.Deps {
		width = max(width, len(m.Path))
	}
	for _, m := range b.Deps {
		v := m.Version
		if v == "" {
			v = "(not linked)"
		}
		fmt.Fprintf(&s, "%-*s  %s\n", width, m.Path, v)
	}
	return s.String()
}

// Injected are the facts given to the linker with -X (see the package
// comment); any may be empty.
type Injected struct {
	Describe   string // `git describe --tags --always --dirty`
	BuildDate  string // RFC 3339
	Commit     string // `git rev-parse HEAD`
	CommitTime string // RFC 3339
}

// FromBuildInfo computes the BuildInfo from build information (nil when the
// binary has none) and the facts injected at build time. Info calls it with
// the running binary's; it is exported for tests and tools.
func FromBuildInfo(bi *debug.BuildInfo, inj Injected) BuildInfo {
	b := BuildInfo{
		BuildDate: inj.BuildDate, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Commit: inj.Commit, CommitTime: inj.CommitTime,
	}
	deps := map[string]string{}
	if bi != nil {
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			b.Commit, b.CommitTime = rev, settings["vcs.time"]
			b.Modified = settings["vcs.modified"] == "true"
		}
		if goos, goarch := settings["GOOS"], settings["GOARCH"]; goos != "" && goarch != "" {
			b.Platform = goos + "/" + goarch
		}
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			deps[d.Path] = d.Version
		}
	}
	for _, p := range Modules {
		b.Deps = append(b.Deps, Module{Path: p, Version: deps[p]})
	}
	if strings.HasSuffix(inj.Describe, "-dirty") {
		b.Modified = true
	}
	b.Version, b.Tagged = versionOf(inj.Describe, b.ShortCommit(), b.Modified)
	return b
}

// tagged matches a `git describe` output that starts at a release tag.
var tagged = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+`)

// versionOf turns `git describe --tags --always --dirty` output into the
// version: the tag without its "v", or DevVersion with the commit as build
// metadata when there is no tag (describe is empty, or only a commit hash).
func versionOf(gitDescribe, shortCommit string, modified bool) (string, bool) {
	d := strings.TrimSpace(gitDescribe)
	if tagged.MatchString(d) {
		return strings.TrimPrefix(d, "v"), true
	}
	// `--always` without a tag gives "abc1234" or "abc1234-dirty".
	if c, dirty := strings.CutSuffix(d, "-dirty"); c != "" {
		if shortCommit == "" {
			shortCommit = c
		}
		modified = modified || dirty
	}
	v := DevVersion
	meta := []string{}
	if shortCommit != "" {
		meta = append(meta, shortCommit)
	}
	if modified {
		meta = append(meta, "dirty")
	}
	if len(meta) > 0 {
		v += "+" + strings.Join(meta, ".")
	}
	return v, false
}
