#!/usr/bin/env bash
# The viewer's own soak: QA cycles in AWS mode against `kvsviewer emulator --master` in another
# process, so the report's RSS figures are the viewer's alone. In `make soak` (--demo) the
# emulator and the demo master share the viewer's process, and the master's encoders, kept
# from call to call, make its C heap's figure move by several MB from run to run.
# Writes soak-viewer-report.json and soak-viewer-report.csv; all traffic stays on 127.0.0.1.
# Usage: scripts/soak-viewer.sh   (BIN=... CYCLES=1000 HOLD=500ms)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-./bin/kvsviewer}
CYCLES=${CYCLES:-1000}
HOLD=${HOLD:-500ms}
[ -x "$BIN" ] || { echo "soak-viewer: $BIN not found (make build)" >&2; exit 1; }
TMP=$(mktemp -d)
emu=
cleanup() {
	[ -n "$emu" ] && kill "$emu" 2>/dev/null && wait "$emu" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" emulator --master >"$TMP/emu.out" 2>"$TMP/emu.err" &
emu=$!
for _ in $(seq 100); do
	grep -q "demo master connected" "$TMP/emu.out" && break
	kill -0 "$emu" 2>/dev/null || { cat "$TMP/emu.err" >&2; exit 1; }
	sleep 0.2
done
grep -q "demo master connected" "$TMP/emu.out" || { echo "soak-viewer: the emulator did not start" >&2; exit 1; }
# The emulator prints the environment a viewer needs (endpoint, region, test credentials, CA).
eval "$(sed -n 's/^  export /export /p' "$TMP/emu.out")"
CA=$(sed -n 's/^CA file: //p' "$TMP/emu.out")
XDG_CONFIG_HOME="$TMP/config" "$BIN" qa --channel demo-channel --ca-file "$CA" --video test --audio tone \
	--cycles "$CYCLES" --hold "$HOLD" --out soak-viewer-report.json --csv soak-viewer-report.csv
