#!/usr/bin/env bash
# Runs the app under Xvfb in Demo mode and saves the README's screenshots:
#   docs/main-live.png  the call window, live with the demo master's test pattern
#   docs/settings.png   the connection settings
#   docs/settings-call.png  the call options at the end of the settings
#   docs/timeline.png   the phase waterfall of the last sessions (a connect and a reconnect)
#   docs/messages.png   the call with its data channel's message panel open
#   docs/qa.png         the QA tab after a CYCLES-cycle run (default 50)
#   docs/qa-viewers.png the QA tab after five viewers at once, CYCLES/10 cycles each (default 4)
# The app walks through these states by itself (--tour DIR): at each it writes
# DIR/NAME.ready and waits for DIR/NAME.done, which this script writes after taking the
# screenshot with ImageMagick's `import -window root`. With CSV=dir, the cycles of the two QA
# runs (qa.csv, qa-viewers.csv: phases, goroutines, open files and RSS of every cycle, as the
# QA tab's Export CSV writes them) are kept there too.
# Usage: scripts/screenshots.sh   (BIN=path/to/binary OUT=dir CYCLES=n CSV=dir to override)
set -euo pipefail
cd "$(dirname "$0")/.."

export BIN=${BIN:-./bin/kvsviewer}
export OUT=${OUT:-docs}
export CYCLES=${CYCLES:-50}
export CSV=${CSV:-}
export LANG=C.UTF-8
for tool in xvfb-run import; do
	command -v "$tool" >/dev/null || { echo "screenshots: $tool is missing (make deps installs it)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "screenshots: $BIN not found (make build)" >&2; exit 1; }
mkdir -p "$OUT"
TOUR=$(mktemp -d)
export TOUR
# The app keeps its preferences under XDG_CONFIG_HOME: use a scratch one so the
# screenshots show the first-run settings, not this machine's.
export XDG_CONFIG_HOME="$TOUR/config"
trap 'rm -rf "$TOUR"' EXIT

xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
	set -euo pipefail
	"$BIN" --demo --tour "$TOUR" --tour-qa-cycles "$CYCLES" >"$TOUR/app.log" 2>&1 &
	pid=$!
	for name in main-live settings settings-call timeline messages qa qa-viewers; do
		while [ ! -e "$TOUR/$name.ready" ]; do
			if [ -e "$TOUR/failed" ] || ! kill -0 "$pid" 2>/dev/null; then
				echo "screenshots: the app stopped before $name: $(cat "$TOUR/failed" 2>/dev/null)" >&2
				tail -n 30 "$TOUR/app.log" >&2
				exit 1
			fi
			sleep 0.2
		done
		import -window root "$OUT/$name.png"
		echo "saved $OUT/$name.png"
		if [ -n "$CSV" ] && [ -e "$TOUR/$name.csv" ]; then
			mkdir -p "$CSV" && cp "$TOUR/$name.csv" "$CSV/" && echo "saved $CSV/$name.csv"
		fi
		touch "$TOUR/$name.done"
	done
	wait "$pid"
'
