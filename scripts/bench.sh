#!/usr/bin/env bash
# Prints one table of the speed and footprint figures of issue 13, measured with the
# app's own headless commands on loopback (Demo mode unless said otherwise):
#   TTFF p50/p95, teardown p95, first RTP -> first frame p50 and RSS growth: one
#     `kvsviewer qa --demo` run of CYCLES connect/hold/disconnect cycles (its JSON report;
#     RSS after each teardown jumps by tens of MB from cycle to cycle, so the growth is
#     the median of the last 20 cycles less that of cycles 11-30; CYCLES >= 40 for it);
#   Reconnect click -> new first frame p50/p95: `kvsviewer qa --demo --reconnect`,
#     RECONNECTS reconnects (the run's first cycle is a plain Connect and is left out);
#   peak RSS of one headless `kvsviewer call --demo` (viewer, emulator and master in one
#     process) and of one in AWS mode against `kvsviewer emulator --master` in another
#     process (the viewer alone), both held CALL_DURATION after the first frame;
#   the window's CPU in a 1280x720@30 call and its RSS at the end of it (with the part
#     that is Mesa's OpenGL libraries): scripts/render-load.sh, medians of RENDER_RUNS
#     runs of RENDER_DURATION seconds (the rows are left out when the script is missing
#     or RENDER_RUNS=0).
# Given several binaries (e.g. a build of main and one of a branch) it measures each step
# on each in turn, alternating, so the columns come from the same run of the same machine.
# Usage: scripts/bench.sh [BIN...]   (default bin/kvsviewer; LABELS="before after" names
#        the columns; CYCLES=200 RECONNECTS=50 HOLD=500ms CALL_DURATION=10s
#        RENDER_RUNS=5 RENDER_DURATION=20 KEEP=dir keeps the reports,
#        KEEP=dir TABLE_ONLY=1 prints their table again)
set -euo pipefail
cd "$(dirname "$0")/.."

CYCLES=${CYCLES:-200}
RECONNECTS=${RECONNECTS:-50}
HOLD=${HOLD:-500ms}
CALL_DURATION=${CALL_DURATION:-10s}
RENDER_RUNS=${RENDER_RUNS:-5}
RENDER_DURATION=${RENDER_DURATION:-20}
export LANG=C.UTF-8

bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(./bin/kvsviewer)
read -r -a labels <<<"${LABELS:-}"
for i in "${!bins[@]}"; do
	[ -x "${bins[$i]}" ] || { echo "bench: ${bins[$i]} not found (make build)" >&2; exit 1; }
	bins[i]=$(realpath "${bins[$i]}")
	[ -n "${labels[$i]:-}" ] || labels[i]=$(basename "${bins[$i]}")
done
if [ "$CYCLES" -lt 2 ] || [ "$RECONNECTS" -lt 1 ]; then echo "bench: CYCLES >= 2 and RECONNECTS >= 1" >&2; exit 1; fi
TMP=${KEEP:-$(mktemp -d)}
mkdir -p "$TMP"
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
cleanup() {
	stop_emulator
	rm -f "$TMP"/bin-*
	[ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
# Each binary runs from a copy. A file the Go linker has just written sits in the page cache
# in large folios that are mapped whole: a process of it counted about 12 MB more of the
# binary's own pages in its RSS (30 MB against 18) than one of the same bytes copied, as an
# installed binary is.
for i in "${!bins[@]}"; do
	cp "${bins[$i]}" "$TMP/bin-$i"
	bins[i]="$TMP/bin-$i"
done
step() { echo "bench: $*" >&2; }

# measure runs each step once per binary, in turn; the files are named after the column.
measure() {
	for i in "${!bins[@]}"; do
		step "${labels[$i]}: qa --demo --cycles $CYCLES --hold $HOLD"
		"${bins[$i]}" qa --demo --cycles "$CYCLES" --hold "$HOLD" --out "$TMP/qa-$i.json" >/dev/null 2>"$TMP/qa-$i.err" ||
			{ tail -n 3 "$TMP/qa-$i.err" >&2; echo "bench: qa failed (report kept in the table)" >&2; }
	done
	for i in "${!bins[@]}"; do
		step "${labels[$i]}: qa --demo --reconnect --cycles $((RECONNECTS + 1)) --hold $HOLD"
		"${bins[$i]}" qa --demo --reconnect --cycles "$((RECONNECTS + 1))" --hold "$HOLD" --out "$TMP/rc-$i.json" >/dev/null 2>"$TMP/rc-$i.err" ||
			{ tail -n 3 "$TMP/rc-$i.err" >&2; echo "bench: qa --reconnect failed" >&2; }
	done
	for i in "${!bins[@]}"; do
		step "${labels[$i]}: call --demo --duration $CALL_DURATION"
		/usr/bin/time -f %M -o "$TMP/rss-demo-$i" "${bins[$i]}" call --demo --video test --audio tone --duration "$CALL_DURATION" >/dev/null 2>"$TMP/call-demo-$i.err" ||
			{ tail -n 3 "$TMP/call-demo-$i.err" >&2; echo "-" >"$TMP/rss-demo-$i"; }
	done

	for i in "${!bins[@]}"; do
		step "${labels[$i]}: call --channel demo-channel (AWS mode, emulator in another process) --duration $CALL_DURATION"
		start_emulator "${bins[$i]}" "$TMP"
		XDG_CONFIG_HOME="$TMP/config" /usr/bin/time -f %M -o "$TMP/rss-aws-$i" "${bins[$i]}" call --channel demo-channel --ca-file "$CA" \
			--video test --audio tone --duration "$CALL_DURATION" >/dev/null 2>"$TMP/call-aws-$i.err" ||
			{ tail -n 3 "$TMP/call-aws-$i.err" >&2; echo "-" >"$TMP/rss-aws-$i"; }
		stop_emulator
	done
}
# TABLE_ONLY=1 (with KEEP=dir of an earlier run) prints the table of that run again.
[ -n "${TABLE_ONLY:-}" ] || measure

render=
if [ ! -x scripts/render-load.sh ]; then
	render="scripts/render-load.sh is missing: no window rows"
elif [ "$RENDER_RUNS" -le 0 ]; then
	render="RENDER_RUNS=0: no window rows"
elif [ -z "${TABLE_ONLY:-}" ]; then
	for r in $(seq "$RENDER_RUNS"); do
		for i in "${!bins[@]}"; do
			step "${labels[$i]}: render-load.sh run $r of $RENDER_RUNS (${RENDER_DURATION}s)"
			BIN="${bins[$i]}" DURATION="$RENDER_DURATION" scripts/render-load.sh >"$TMP/render.out" 2>>"$TMP/render-$i.err" || true
			sed -n 's/^viewer .*: \([0-9.]*\)% of one core.*/\1/p' "$TMP/render.out" >>"$TMP/render-$i"
			sed -n 's/^viewer RSS at the end: \([0-9.]*\) MB, .*: \([0-9.]*\) MB$/\1 \2/p' "$TMP/render.out" >>"$TMP/render-rss-$i"
		done
	done
fi

# The table: one row a figure, one column a binary.
# pct is the nearest-rank percentile, as the qa report computes its own.
JQ_LIB='def pct(q): sort | if length == 0 then null else .[([((q * length + 0.5) | floor) - 1, 0] | max)] end;
def r1: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
def mb: if . == null then "-" else (. / 1024 | r1) end;'
cell() { # cell KIND I: one figure of binary I
	local f
	case $1 in
	ttff) jq -r "$JQ_LIB"' .phases.first_frame_ms | "\(.p50 | r1) / \(.p95 | r1)"' "$TMP/qa-$2.json" ;;
	reconnect) jq -r "$JQ_LIB"' [.results[1:][] | .phases_ms.first_frame | select(. != null)] | "\(pct(0.5) | r1) / \(pct(0.95) | r1)"' "$TMP/rc-$2.json" ;;
	rtpframe) jq -r "$JQ_LIB"' [.results[].phases_ms | select(.first_frame and .first_rtp) | .first_frame - .first_rtp] | pct(0.5) | r1' "$TMP/qa-$2.json" ;;
	teardown) jq -r "$JQ_LIB"' .phases.teardown_ms.p95 | r1' "$TMP/qa-$2.json" ;;
	rssdemo | rssaws)
		f=$TMP/rss-${1#rss}-$2
		if [ "$(cat "$f")" = - ]; then echo -; else jq -rn "$JQ_LIB $(cat "$f") | mb"; fi ;;
	rss) jq -r "$JQ_LIB"' [.results[] | .rss_kb | select(. > 0)] | if length < 40 then "-" else "\(.[0] | mb) / \(.[10:30] | pct(0.5) | mb) / \(.[-20:] | pct(0.5) | mb)" end' "$TMP/qa-$2.json" ;;
	growth) jq -r "$JQ_LIB"' [.results[] | .rss_kb | select(. > 0)] | if length < 40 then "-" else (.[-20:] | pct(0.5)) - (.[10:30] | pct(0.5)) | mb end' "$TMP/qa-$2.json" ;;
	trend) jq -r "$JQ_LIB"' .resources.rss_trend_kb_per_100_cycles | mb' "$TMP/qa-$2.json" ;;
	failed) jq -r '"\(.failed) of \(.cycles)"' "$TMP/qa-$2.json" ;;
	cpu) jq -rRs "$JQ_LIB"' [split("\n")[] | select(. != "") | tonumber] | if length == 0 then "-" else "\(pct(0.5) | r1) (\(length) runs)" end' "$TMP/render-$2" ;;
	winrss) jq -rRs "$JQ_LIB"' [split("\n")[] | select(. != "") | split(" ") | map(tonumber)] | if length == 0 then "-" else "\(map(.[0]) | pct(0.5) | r1) (\(map(.[1]) | pct(0.5) | r1))" end' "$TMP/render-rss-$2" ;;
	esac
}
row() { # row TITLE KIND
	printf '| %-58s |' "$1"
	for i in "${!bins[@]}"; do printf ' %-22s |' "$(cell "$2" "$i" 2>/dev/null || echo -)"; done
	echo
}
printf '| %-58s |' "figure (demo on loopback unless said)"
for i in "${!bins[@]}"; do printf ' %-22s |' "${labels[$i]}"; done
echo
printf '|%s|' "$(printf -- '-%.0s' $(seq 60))"
for _ in "${bins[@]}"; do printf '%s|' "$(printf -- '-%.0s' $(seq 24))"; done
echo
row "TTFF p50 / p95, ms ($CYCLES cycles)" ttff
row "Reconnect click -> new first frame p50 / p95, ms ($RECONNECTS)" reconnect
row "first RTP -> first frame p50, ms" rtpframe
row "teardown p95, ms" teardown
row "peak RSS, headless call --demo, MB" rssdemo
row "peak RSS, headless call, AWS mode (emulator apart), MB" rssaws
row "RSS after teardown, MB: cycle 1 / 11-30 / last 20 (medians)" rss
row "RSS growth over $CYCLES cycles after warm-up, MB (medians above)" growth
row "RSS trend, 2nd half of the cycles (qa report), MB/100 cycles" trend
row "failed cycles" failed
if [ -z "$render" ]; then
	row "window CPU, 720p30 call, % of one core (median)" cpu
	row "window RSS at the end, MB (of it Mesa's GL libraries)" winrss
else
	echo "($render)"
fi
