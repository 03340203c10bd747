#!/usr/bin/env bash
# Measures how the window keeps up with a 1280x720@30 call: runs `kvsviewer emulator --master`
# (the demo master sending 1280x720 at 30 fps) in its own process, opens the viewer window
# under Xvfb in AWS mode against it with --connect, and after a warm-up reports over DURATION
# seconds (default 60) the viewer process's CPU use (% of one core), its RSS at the end (and
# how much of it is Mesa's OpenGL libraries: under Xvfb, llvmpipe's libLLVM and DRI driver
# pages alone hold about 60 MB) and the share of decoded frames the window never showed (the
# app's "render" log lines). The emulator and master run in another process, so their
# encoding does not count against the viewer.
# Usage: scripts/render-load.sh   (BIN=... DURATION=60 VIDEO=test|none AUDIO=tone|none
#                                  APP_FLAGS="--gl-video" to measure the OpenGL video path)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-./bin/kvsviewer}
DURATION=${DURATION:-60}
VIDEO=${VIDEO:-test}
AUDIO=${AUDIO:-tone}
APP_FLAGS=${APP_FLAGS:-}
export LANG=C.UTF-8
[ -x "$BIN" ] || { echo "render-load: $BIN not found (make build)" >&2; exit 1; }
TMP=$(mktemp -d)
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
trap 'stop_emulator; rm -rf "$TMP"' EXIT

start_emulator "$BIN" "$TMP"
export BIN CA DURATION VIDEO AUDIO TMP APP_FLAGS
export XDG_CONFIG_HOME="$TMP/config"

xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
	set -euo pipefail
	"$BIN" --channel demo-channel --ca-file "$CA" --video "$VIDEO" --audio "$AUDIO" --connect -v $APP_FLAGS >"$TMP/app.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do
		grep -q "msg=render" "$TMP/app.log" && break
		kill -0 "$pid" 2>/dev/null || { tail -n 30 "$TMP/app.log" >&2; exit 1; }
		sleep 0.1
	done
	grep -q "msg=render" "$TMP/app.log" || { echo "render-load: the call did not go live" >&2; tail -n 30 "$TMP/app.log" >&2; kill "$pid"; exit 1; }
	ticks() { awk "{print \$14 + \$15}" "/proc/$1/stat"; }
	xvfb=$(pgrep -n Xvfb || true)
	a0=$(ticks "$pid"); x0=$( [ -n "$xvfb" ] && ticks "$xvfb" || echo 0 ); t0=$(date +%s.%N)
	sleep "$DURATION"
	a1=$(ticks "$pid"); x1=$( [ -n "$xvfb" ] && ticks "$xvfb" || echo 0 ); t1=$(date +%s.%N)
	hz=$(getconf CLK_TCK)
	awk -v a="$((a1 - a0))" -v x="$((x1 - x0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v v="$VIDEO" -v au="$AUDIO" -v fl="${APP_FLAGS:+ $APP_FLAGS}" \
		"BEGIN { s = t1 - t0; printf \"viewer (sending video=%s audio=%s%s): %.1f%% of one core over %.0f s; Xvfb %.1f%%\\n\", v, au, fl, 100*a/hz/s, s, 100*x/hz/s }"
	awk "/^VmRSS:/ { rss = \$2 } /^[0-9a-f]+-[0-9a-f]+ / { m = \$NF } /^Rss:/ && m ~ /libLLVM|_dri[.]so|libgallium/ { gl += \$2 }
		END { printf \"viewer RSS at the end: %.1f MB, of which Mesa GL libraries (libLLVM, the DRI driver): %.1f MB\\n\", rss / 1024, gl / 1024 }" \
		"/proc/$pid/status" "/proc/$pid/smaps"
	grep "msg=render" "$TMP/app.log" | tail -n 1
	kill "$pid"
	wait "$pid" || true
'
