#!/usr/bin/env bash
# Proves the .deb on a clean Debian 12 root: the package installs with apt (which pulls
# every dependency from the archive, so a missing or misnamed Depends fails here), the
# binary starts, and the window reaches a live Demo call under Xvfb.
#
#   1. debootstrap a minimal bookworm root once into .cache/install-test/base (a few
#      minutes the first time; kept between runs, delete the folder to refresh it),
#   2. copy it to .cache/install-test/root, so every run starts from the clean base,
#   3. chroot: apt-get install ./kvsviewer_*.deb, kvsviewer --version (or --help while
#      the binary has no --version), then xvfb + imagemagick and
#      `kvsviewer --demo --connect -v` under Xvfb, a screenshot after WAIT seconds, and
#      the check that the call went Live (the log says so, or the video area is not
#      one flat colour); last, libx264 is removed by force and the menu entry's launcher
#      must say in words that a library is missing.
#
# Usage: scripts/install-test.sh [dist/kvsviewer_VERSION_amd64.deb]   (make install-test)
#        scripts/install-test.sh --prepare   only make the cached base root
# Env:   MIRROR (default: the host's Debian mirror), SECURITY_MIRROR, WAIT (default 15),
#        CACHE (default .cache/install-test), OUT (default dist/install-test)
# Needs root (debootstrap, chroot, mounts). Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${CACHE:-.cache/install-test}
OUT=${OUT:-dist/install-test}
WAIT=${WAIT:-15}
SUITE=bookworm

log() { printf 'install-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap (make install-test does)"

DEB=${1:-}
PREPARE=no
if [ "$DEB" = --prepare ]; then
	PREPARE=yes
elif [ -z "$DEB" ]; then
	DEB=$(ls -t dist/kvsviewer_*.deb 2>/dev/null | head -n 1 || true)
fi
[ "$PREPARE" = yes ] || { [ -n "$DEB" ] && [ -f "$DEB" ]; } || die "no package: run make deb first, or pass the .deb"

# host_uri SUITE prints the URI the host's apt uses for SUITE (deb822 .sources or
# one-line .list), so the root downloads from the same mirror as the host.
host_uri() {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			/^[[:space:]]*$/ { if (u != "" && hit) { print u; exit } u = ""; hit = 0; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
			END { if (u != "" && hit) print u }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == s) { print $i; exit } }' "$f"
	done
}
MIRROR=${MIRROR:-$(host_uri "$SUITE" | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(host_uri "$SUITE-security" | head -n 1)}
log "mirror $MIRROR${SECURITY_MIRROR:+, security $SECURITY_MIRROR}"

BASE=$CACHE/base
ROOT=$CACHE/root
ARCHIVES=$(realpath -m "$CACHE/archives")
mkdir -p "$CACHE" "$ARCHIVES/partial" "$OUT"

MOUNTS=()
cleanup() {
	local i
	# The app and Xvfb are started inside the root: stop what is left of them first,
	# or the unmounts below fail with "target is busy".
	if [ -d "$ROOT/proc" ]; then
		local root_real p
		root_real=$(realpath "$ROOT")
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" != "$root_real" ] || kill -9 "${p#/proc/}" 2>/dev/null || true
		done
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount -l "${MOUNTS[i]}" 2>/dev/null || log "could not unmount ${MOUNTS[i]}"
	done
	MOUNTS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The clean base, once.
if [ ! -e "$BASE/.complete" ]; then
	log "debootstrap $SUITE into $BASE (first run: a few minutes)"
	rm -rf "$BASE"
	debootstrap --variant=minbase --cache-dir="$ARCHIVES" "$SUITE" "$BASE" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	{
		echo "deb $MIRROR $SUITE main"
		echo "deb $MIRROR $SUITE-updates main"
		[ -z "$SECURITY_MIRROR" ] || echo "deb $SECURITY_MIRROR $SUITE-security main"
	} >"$BASE/etc/apt/sources.list"
	rm -f "$BASE"/var/cache/apt/archives/*.deb
	touch "$BASE/.complete"
fi
[ "$PREPARE" = no ] || { log "base root ready: $BASE"; exit 0; }

# 2. A fresh copy of it for this run.
cleanup
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
for m in proc sys dev dev/pts; do
	case $m in
	proc) mount -t proc proc "$ROOT/proc" ;;
	sys) mount -t sysfs sysfs "$ROOT/sys" ;;
	dev) mount --bind /dev "$ROOT/dev" ;;
	dev/pts) mount -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT/dev/pts" ;;
	esac
	MOUNTS+=("$ROOT/$m")
done
# The downloaded packages are kept between runs (the root is not).
mount --bind "$ARCHIVES" "$ROOT/var/cache/apt/archives"
MOUNTS+=("$ROOT/var/cache/apt/archives")
cp "$DEB" "$ROOT/tmp/"
PKG=/tmp/$(basename "$DEB")

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# 3. Install and run.
log "apt-get install $PKG"
in_root apt-get update -q >"$OUT/apt-update.log" 2>&1 || { tail "$OUT/apt-update.log" >&2; die "apt-get update failed"; }
in_root apt-get install -y -q "$PKG" >"$OUT/apt-install.log" 2>&1 || { tail -n 30 "$OUT/apt-install.log" >&2; die "the package does not install"; }
grep -E '^(The following NEW packages|  )' "$OUT/apt-install.log" | head -n 3 >&2 || true
log "installed: $(in_root dpkg-query -W -f='${Package} ${Version}, ${Installed-Size} KiB' kvsviewer)"
for f in /usr/bin/kvsviewer /usr/lib/kvsviewer/launch /usr/share/applications/io.github.kvsviewer.desktop \
	/usr/share/metainfo/io.github.kvsviewer.metainfo.xml /usr/share/icons/hicolor/256x256/apps/io.github.kvsviewer.png; do
	[ -e "$ROOT$f" ] || die "$f is not in the installed package"
done

# kvsviewer --version; a binary without it yet (flag not defined: exit 2, no window)
# is checked with --help exiting 0, which proves as well that the loader found every library.
if in_root kvsviewer --version >"$OUT/version.txt" 2>"$OUT/version.err" && grep -q '^kvsviewer [0-9]' "$OUT/version.txt"; then
	sed 's/^/  /' "$OUT/version.txt" >&2
else
	log "this binary has no --version yet: checking that kvsviewer --help exits 0"
	in_root kvsviewer --help >"$OUT/help.txt" 2>&1 || { cat "$OUT/help.txt" >&2; die "kvsviewer --help failed"; }
	grep -m 1 -i usage "$OUT/help.txt" | sed 's/^/  /' >&2
fi

log "apt-get install xvfb xauth imagemagick (for the window test)"
in_root apt-get install -y -q --no-install-recommends xvfb xauth imagemagick >>"$OUT/apt-install.log" 2>&1 ||
	{ tail -n 30 "$OUT/apt-install.log" >&2; die "could not install xvfb and imagemagick in the root"; }

log "kvsviewer --demo --connect -v under Xvfb, screenshot after ${WAIT}s"
rm -f "$ROOT/tmp/app.log" "$ROOT/tmp/shot.png"
cat >"$ROOT/tmp/window-test.sh" <<EOF
#!/bin/bash
set -u
export XDG_CONFIG_HOME=/tmp/config XDG_RUNTIME_DIR=/tmp/runtime
mkdir -p "\$XDG_RUNTIME_DIR" && chmod 700 "\$XDG_RUNTIME_DIR"
Xvfb :42 -screen 0 1280x800x24 -nolisten tcp >/tmp/xvfb.log 2>&1 &
xvfb=\$!
for _ in \$(seq 50); do [ -e /tmp/.X11-unix/X42 ] && break; sleep 0.1; done
export DISPLAY=:42
kvsviewer --demo --connect -v >/tmp/app.log 2>&1 &
app=\$!
sleep $WAIT
alive=yes; kill -0 \$app 2>/dev/null || alive=no
import -window root /tmp/shot.png
kill \$app 2>/dev/null; wait \$app 2>/dev/null
kill \$xvfb 2>/dev/null; wait \$xvfb 2>/dev/null
echo "\$alive"
EOF
chmod +x "$ROOT/tmp/window-test.sh"
alive=$(in_root /tmp/window-test.sh)
cp "$ROOT/tmp/app.log" "$OUT/app.log"
cp "$ROOT/tmp/shot.png" "$OUT/screenshot.png"
log "screenshot: $OUT/screenshot.png, log: $OUT/app.log"
[ "$alive" = yes ] || { tail -n 30 "$OUT/app.log" >&2; die "the app had exited before the screenshot"; }

# Live: the log at -v names the state Live (when the app logs its state changes), or
# the video area (below the tabs, left of the inset) is not one flat colour. Its grey
# level's standard deviation is about 0.30 with the demo's colour bars and 0.02 for the
# idle "Press Connect to start a call" placeholder, hence the threshold of 0.1.
live=no
if grep -Eq 'state=Live|to=Live|"Live"|state Live' "$OUT/app.log"; then
	live="the log says Live"
fi
sd=$(in_root convert /tmp/shot.png -crop 800x450+40+120 +repage -colorspace Gray -format '%[fx:standard_deviation]' info:)
log "standard deviation of the video area: $sd; first video frame logged: $(grep -q 'first video frame' "$OUT/app.log" && echo yes || echo no)"
if [ "$live" = no ] && awk -v s="$sd" 'BEGIN { exit !(s > 0.1) }'; then
	live="the video area is not uniform (sd $sd)"
fi
[ "$live" != no ] || { tail -n 30 "$OUT/app.log" >&2; die "the window did not reach a live call"; }
# The launcher of the menu entry, with a library gone (as after a forced removal): the
# real loader message, turned into words.
lib_pkg=$(in_root dpkg-query -W -f='${Package}\n' 'libx264-*' | head -n 1)
in_root dpkg --remove --force-depends "$lib_pkg" >/dev/null 2>&1 || die "could not remove $lib_pkg"
set +e
in_root /usr/lib/kvsviewer/launch --demo >"$OUT/launch.log" 2>&1
rc=$?
set -e
sed 's/^/  /' "$OUT/launch.log" >&2
[ "$rc" = 127 ] && grep -q "^kvsviewer: KVS Viewer cannot start: the library libx264.so.[0-9]* is missing" "$OUT/launch.log" ||
	die "the launcher did not explain the missing library (exit $rc)"
log "the launcher explains a missing library (exit 127)"

log "PASS: installed on a clean $SUITE root, started, live call ($live)"
