# Build, test and run the KVS WebRTC viewer. `make test` and `make run` work on a
# fresh Debian 12 machine: both install what is missing first (`make deps`).

SHELL := /bin/bash
GO    ?= go
PKGS  := ./...
APT_PKGS := gcc g++ pkg-config libgl1-mesa-dev xorg-dev libvpx-dev libx264-dev \
	libopus-dev nasm curl ca-certificates xz-utils xvfb xauth imagemagick \
	pulseaudio pulseaudio-utils libpulse0
# nasm, curl, xz-utils: scripts/ffmpeg.sh builds FFmpeg's decoders (below) from Debian's source.
# pulseaudio and pulseaudio-utils (pactl, parec, pacat): the audio tests run a private daemon
# (internal/pulsetest). libpulse0: miniaudio loads libpulse at run time to reach a PulseAudio or
# PipeWire server; without it the app has no sound even where a server runs.
# Only for `make deb` and `make install-test` (not `make deps`, which `make test` runs):
# dpkg-shlibdeps derives Depends, ImageMagick draws the icon sizes, the validators check
# the .desktop entry and the AppStream metainfo, debootstrap makes the clean root.
DEB_APT_PKGS := dpkg-dev imagemagick appstream desktop-file-utils
INSTALL_TEST_APT_PKGS := debootstrap
# The interop tests (call/interop) run the official KVS WebRTC JS SDK as the master in headless
# Chromium; certutil gives that Chromium an NSS database that trusts the emulator's CA.
INTEROP_APT_PKGS := chromium libnss3-tools curl ca-certificates
JSSDK_VERSION := 2.9.0
JSSDK_SHA256  := 0be2455b9c39d815956207da5a70775f78ca5a4d9896e5b4146a352c9018899d
JSSDK_DIR     := .cache/kvs-webrtc-js-$(JSSDK_VERSION)
export KVS_JS_SDK := $(CURDIR)/$(JSSDK_DIR)/package/dist/kvs-webrtc.min.js
export LANG := C.UTF-8
# no_emoji leaves Fyne's bundled colour emoji font out of the build. Fyne parses it again
# for every text style it measures: it held 20 MB of the window's Go heap and 30 MB of its
# RSS in a call, and no text of the app needs it (emoji in a peer's messages still show
# with a system emoji font, which Fyne finds by itself). Every go command here gets it.
export GOFLAGS += -tags=no_emoji
# FFmpeg: its H.264, H.265, VP8 and VP9 decoders and libswscale, linked statically, built once
# per machine from Debian 12's FFmpeg source by scripts/ffmpeg.sh (which says why not libavcodec59)
# into the user's cache, where every checkout finds it (like Go's own caches).
FFMPEG_VERSION := 5.1.9
FFMPEG_SHA256  := d9b593bb2ba93d4b50f74177e0cdcd41747e708596367deed0c30348a71dd176
FFMPEG_DIR     := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kvsviewer/ffmpeg-$(FFMPEG_VERSION)-$(shell sha256sum scripts/ffmpeg.sh | cut -c1-8)
# Also in CGO_CPPFLAGS: go's build cache tells cgo packages apart by these flags, not by what
# pkg-config prints, so a build against another FFmpeg is never taken from the cache. Added once
# only: a nested make (make test runs make fuzz) must not change the flags, and with them the keys.
ifeq ($(filter -I$(FFMPEG_DIR)/include,$(CGO_CPPFLAGS)),)
export PKG_CONFIG_PATH := $(FFMPEG_DIR)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export CGO_CPPFLAGS += -I$(FFMPEG_DIR)/include
endif
FUZZTIME ?= 60s
# golangci-lint is a tool, not a dependency of the app: pinned here, kept out of go.mod.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT_PKG     := github.com/golangci/golangci-lint/v2/cmd/golangci-lint
# nfpm builds the .deb: a tool like golangci-lint, pinned here and kept out of go.mod.
NFPM_VERSION := v2.45.2
NFPM_PKG     := github.com/goreleaser/nfpm/v2/cmd/nfpm

# The binary `make deb` packages. Another one can be packaged with
# `make deb BIN=path DESCRIBE="$$(git -C its-checkout describe --tags --always --dirty)"`.
BIN ?= bin/kvsviewer

# What `kvsviewer --version` reports (internal/version): the git tag (v0.x.y, or the
# commit when there is no tag), the commit and its time (`go build` stamps them itself
# only outside git worktrees and without -buildvcs=false) and the build date.
VERSION_PKG := github.com/kvsviewer/kvsviewer/internal/version
LDFLAGS = -X $(VERSION_PKG).describe=$(shell git describe --tags --always --dirty 2>/dev/null) \
	-X $(VERSION_PKG).commit=$(shell git rev-parse HEAD 2>/dev/null) \
	-X $(VERSION_PKG).commitTime=$(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null) \
	-X $(VERSION_PKG).buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

# apt_install installs the Debian packages of $(1) that are missing (as root, or with sudo).
define apt_install
@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

.PHONY: deps interop-deps lint-tools deb-tools run test lint bench bench-go fuzz soak soak-viewer screenshots package build deb install-test audio-check

## deps: install the Debian packages and Go modules the build needs and build FFmpeg's decoders (skips what is present)
deps:
	$(call apt_install,$(APT_PKGS))
	@./scripts/ffmpeg.sh $(FFMPEG_VERSION) $(FFMPEG_SHA256) $(FFMPEG_DIR)
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required: https://go.dev/dl/"; exit 1; }
	$(GO) mod download

## interop-deps: Chromium and the KVS WebRTC JS SDK $(JSSDK_VERSION) (the npm registry's tarball,
## checked against its SHA-256) for the interop tests
interop-deps:
	$(call apt_install,$(INTEROP_APT_PKGS))
	@if [ ! -f $(KVS_JS_SDK) ]; then \
		echo "fetching amazon-kinesis-video-streams-webrtc $(JSSDK_VERSION) into $(JSSDK_DIR)"; \
		mkdir -p $(JSSDK_DIR) && tgz=$(JSSDK_DIR)/sdk.tgz && \
		curl -fsSL --retry 3 -o $$tgz https://registry.npmjs.org/amazon-kinesis-video-streams-webrtc/-/amazon-kinesis-video-streams-webrtc-$(JSSDK_VERSION).tgz && \
		echo "$(JSSDK_SHA256)  $$tgz" | sha256sum -c --quiet && \
		tar -xzf $$tgz -C $(JSSDK_DIR) && rm $$tgz; \
	fi

## lint-tools: install golangci-lint $(GOLANGCI_LINT_VERSION) into $(go env GOPATH)/bin unless that version is there
lint-tools:
	@bin=$$($(GO) env GOPATH)/bin; \
	have=$$($(GO) version -m $$bin/golangci-lint 2>/dev/null | awk '$$1 == "mod" {print $$3}'); \
	if [ "$$have" != "$(GOLANGCI_LINT_VERSION)" ]; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $$bin (takes a few minutes)"; \
		GOBIN=$$bin $(GO) install $(GOLANGCI_LINT_PKG)@$(GOLANGCI_LINT_VERSION); \
	fi

## deb-tools: the Debian packages `make deb` needs, and nfpm $(NFPM_VERSION) in $(go env GOPATH)/bin unless that version is there
deb-tools:
	$(call apt_install,$(DEB_APT_PKGS))
	@bin=$$($(GO) env GOPATH)/bin; \
	have=$$($(GO) version -m $$bin/nfpm 2>/dev/null | awk '$$1 == "mod" {print $$3}'); \
	if [ "$$have" != "$(NFPM_VERSION)" ]; then \
		echo "installing nfpm $(NFPM_VERSION) into $$bin"; \
		GOBIN=$$bin $(GO) install $(NFPM_PKG)@$(NFPM_VERSION); \
	fi

## build: compile the app to bin/kvsviewer (with its version, see LDFLAGS)
build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kvsviewer ./app

## run: set up and open the app (Demo mode when no AWS settings are given)
run: build
	./bin/kvsviewer

## test: set up and run every test (call/, media/ and the window's logic with the race detector, the rest and the UI under Xvfb, each fuzz target briefly)
# The tests that read pixels back from the screen (ui/xwin: XGetImage, ui/e2e: import) get an
# Xvfb of their own, one package at a time: the server keeps no backing store, so where another
# test's window overlaps theirs it returns undefined pixels (a CI run read all black).
SCREEN_TESTS := ui/xwin ui/e2e
test: deps interop-deps
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m ./call/... ./media/... ./ui/
	xvfb-run -a -s "-screen 0 1280x800x24" $(GO) test -count=1 -timeout 10m $$($(GO) list ./... | grep -v -e /call -e /media -e '/ui$$' $(addprefix -e /,$(SCREEN_TESTS)))
	xvfb-run -a -s "-screen 0 1280x800x24" $(GO) test -p 1 -count=1 -timeout 10m $(addprefix ./,$(SCREEN_TESTS))
	$(MAKE) --no-print-directory fuzz FUZZTIME=3000x

## audio-check: a demo call through a private PulseAudio daemon (internal/pulsetest), listening
## 10 s instead of make test's 3 s: the microphone's tone at the master, the master's tone at the
## speaker (frequency, level, drop-outs over 60 ms, underruns), mute, a speaker and a microphone unloaded mid-call,
## and the outputs' and microphones' own tests; one package at a time (-p 1): a drop-out measured
## here is the call's, not another test binary's load on the 2 cores
audio-check: deps
	set -o pipefail; AUDIO_CHECK_SECONDS=10 $(GO) test -p 1 -race -count=1 -timeout 5m -v -run '^(TestHearBothWays|TestSpeakerVanishes|TestMicrophoneVanishes|TestPulse.*)$$' \
		./call/ ./media/audioout/ ./media/capture/ | grep -E 'audio-check|SKIP|PulseAudio|^(---|ok|FAIL|PASS)'

## lint: golangci-lint with .golangci.yml (gofmt, vet, staticcheck, errcheck, revive, ...)
## (deps first: type-checking the cgo packages needs the Debian -dev packages)
lint: deps lint-tools
	$$($(GO) env GOPATH)/bin/golangci-lint run $(PKGS)

## bench: one table of the speed and footprint figures (TTFF, Reconnect, first RTP -> first
## frame, teardown, peak RSS, RSS growth over CYCLES cycles, the window's CPU in a 720p30
## call) from the app's own qa/call commands (scripts/bench.sh; CYCLES=200 by default).
## Before/after: `make bench BENCH_BINS="old-binary bin/kvsviewer" LABELS="before after"`.
BENCH_BINS ?= bin/kvsviewer
bench: build
	./scripts/bench.sh $(BENCH_BINS)

## bench-go: the Go benchmarks (decoder, teardown, connect)
bench-go: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=2s ./media/... ./call/...

## fuzz: run each fuzz target for FUZZTIME (default 60s). make test gives each 3000 inputs
## instead of a duration: Go 1.26's fuzzer can report "context deadline exceeded" as a failure
## when a -fuzztime duration ends under load, with nothing found (go.dev/issue/75804, fixed in 1.27)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## soak: 1000 demo connect/disconnect cycles with a report
soak: build
	./bin/kvsviewer qa --demo --cycles 1000 --hold 500ms --out soak-report.json --csv soak-report.csv

## soak-viewer: 1000 cycles in AWS mode against `kvsviewer emulator --master` in another
## process: the viewer's own memory and resources, without the demo's master in its process
soak-viewer: build
	./scripts/soak-viewer.sh

## screenshots: run the window under Xvfb and save screenshots to docs/
screenshots: build
	./scripts/screenshots.sh

## deb: the Debian package dist/kvsviewer_VERSION_ARCH.deb (packaging/deb.sh, packaging/nfpm.yaml)
deb: deb-tools $(if $(filter bin/kvsviewer,$(BIN)),build)
	BIN=$(BIN) NFPM=$$($(GO) env GOPATH)/bin/nfpm ./packaging/deb.sh

## install-test: install the .deb on a clean Debian 12 root (debootstrap, cached in .cache/)
## and run it there: --version, then a demo call in the window under Xvfb (root; not in make test)
install-test: deb
	$(call apt_install,$(INSTALL_TEST_APT_PKGS))
	./scripts/install-test.sh

## package: the Linux desktop bundle (double-click launcher)
## (the fyne tool reads app/FyneApp.toml and bumps its Build number: the file is restored after)
package: build
	$(GO) install fyne.io/tools/cmd/fyne@v1.7.4
	cd app && cp FyneApp.toml FyneApp.toml.orig && { $$($(GO) env GOPATH)/bin/fyne package -os linux --release --executable ../bin/kvsviewer; rc=$$?; mv FyneApp.toml.orig FyneApp.toml; exit $$rc; }
