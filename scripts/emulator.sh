# shellcheck shell=bash
# Sourced by the scripts that run the viewer in AWS mode against `kvsviewer emulator --master`
# in a process of its own (bench.sh, render-load.sh, soak-viewer.sh).

# start_emulator BIN DIR runs BIN's emulator and demo master, writing their output in DIR, and
# exports what a viewer needs to reach them; sets CA (the emulator's CA file) and emu (its pid).
# Its output holds the test credentials: never print it.
start_emulator() {
	"$1" emulator --master >"$2/emu.out" 2>"$2/emu.err" &
	emu=$!
	for _ in $(seq 100); do
		grep -qs "demo master connected" "$2/emu.out" && break
		kill -0 "$emu" 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q "demo master connected" "$2/emu.out"; then
		echo "$(basename "$0"): the emulator did not start" >&2
		tail -n 3 "$2/emu.err" >&2
		exit 1
	fi
	eval "$(sed -n 's/^  export /export /p' "$2/emu.out")"
	# shellcheck disable=SC2034 # read by the script that sources this file
	CA=$(sed -n 's/^CA file: //p' "$2/emu.out")
}

# stop_emulator stops it and drops its settings: its CA file is gone, and a next emulator's
# viewer must not try to load it.
stop_emulator() {
	[ -n "${emu:-}" ] || return 0
	kill "$emu" 2>/dev/null || true
	wait "$emu" 2>/dev/null || true
	emu=
	unset AWS_ENDPOINT_URL_KINESIS_VIDEO AWS_CA_BUNDLE SSL_CERT_FILE AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}
