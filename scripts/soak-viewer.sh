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
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
trap 'stop_emulator; rm -rf "$TMP"' EXIT

start_emulator "$BIN" "$TMP"
XDG_CONFIG_HOME="$TMP/config" "$BIN" qa --channel demo-channel --ca-file "$CA" --video test --audio tone \
	--cycles "$CYCLES" --hold "$HOLD" --out soak-viewer-report.json --csv soak-viewer-report.csv
