#!/usr/bin/env bash
# Builds the Debian package dist/kvsviewer_VERSION_ARCH.deb with nfpm from
# packaging/nfpm.yaml (`make deb` runs it after building bin/kvsviewer):
#   - the version from `git describe --tags --always --dirty`, as a Debian version;
#   - the hicolor icons (16..512) from assets/icon.png, with ImageMagick;
#   - the AppStream metainfo with the releases from the git tags;
#   - the binary without its DWARF debug info (as Debian ships binaries; Go's own symbol
#     and line tables stay, so panics still name functions and lines);
#   - Depends from dpkg-shlibdeps on the binary itself, so they are always the libraries
#     it links (and their minimum versions), never a list kept by hand;
#   - the .desktop entry and the metainfo checked with desktop-file-validate and
#     appstreamcli when those are installed (make deb installs them).
# Env: BIN (default bin/kvsviewer), OUT (default dist), DESCRIBE (default from git),
#      NFPM (default nfpm on PATH, else $(go env GOPATH)/bin/nfpm).
# `packaging/deb.sh --deb-version DESCRIBE` only prints the Debian version of DESCRIBE.
set -euo pipefail
cd "$(dirname "$0")/.."

# deb_version turns `git describe --tags --always --dirty` output into a Debian version
# that sorts right: v0.1.0 -> 0.1.0; v0.1.0-3-gabc1234 -> 0.1.0+git3.abc1234 (after
# 0.1.0); no tag (abc1234) -> 0.0.0~git.abc1234 (before any release); -dirty -> .dirty.
deb_version() {
	local d=$1 dirty=""
	if [[ $d == *-dirty ]]; then
		d=${d%-dirty}
		dirty=.dirty
	fi
	if [[ $d =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)(-([0-9A-Za-z.]+))?-([0-9]+)-g([0-9a-f]+)$ ]]; then
		# A pre-release tag (v0.2.0-rc1) sorts before its release: 0.2.0~rc1.
		echo "${BASH_REMATCH[1]}${BASH_REMATCH[3]:+~${BASH_REMATCH[3]}}+git${BASH_REMATCH[4]}.${BASH_REMATCH[5]}$dirty"
	elif [[ $d =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)(-([0-9A-Za-z.]+))?$ ]]; then
		local v=${BASH_REMATCH[1]}${BASH_REMATCH[3]:+~${BASH_REMATCH[3]}}
		echo "$v${dirty:++dirty}"
	elif [[ $d =~ ^[0-9a-f]+$ ]]; then
		echo "0.0.0~git.$d$dirty"
	else
		echo "deb.sh: cannot make a Debian version of \"$1\"" >&2
		return 1
	fi
}

if [ "${1:-}" = --deb-version ]; then
	deb_version "${2:-}"
	exit
fi

log() { printf 'deb: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

BIN=${BIN:-bin/kvsviewer}
OUT=${OUT:-dist}
DESCRIBE=${DESCRIBE:-$(git describe --tags --always --dirty)}
NFPM=${NFPM:-$(command -v nfpm || echo "$(go env GOPATH)/bin/nfpm")}
for tool in dpkg-shlibdeps objcopy convert "$NFPM"; do
	command -v "$tool" >/dev/null || die "$tool is missing (make deb installs dpkg-dev, imagemagick and nfpm)"
done
[ -x "$BIN" ] || die "$BIN not found (make build)"

VERSION=$(deb_version "$DESCRIBE")
ARCH=$(dpkg --print-architecture)
STAGE=$OUT/deb-stage
rm -rf "$STAGE"
mkdir -p "$STAGE/icons"
log "kvsviewer $VERSION ($DESCRIBE) for $ARCH from $BIN"

objcopy --strip-debug "$BIN" "$STAGE/kvsviewer"

# Icons: every hicolor size from the 512x512 master, without time stamps (the same
# input gives the same package).
for size in 16 24 32 48 64 128 256 512; do
	convert assets/icon.png -resize "${size}x${size}" -strip -define png:exclude-chunks=date,time \
		"$STAGE/icons/$size.png"
done

# Releases for the metainfo: each v* tag with its date, newest first, and the version
# being built when it is not one of them.
releases=""
if [[ $DESCRIBE =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then :; else
	releases+="    <release version=\"$VERSION\" date=\"$(date -u +%F)\" type=\"development\"/>"$'\n'
fi
while read -r tag date; do
	[ -n "$tag" ] || continue
	releases+="    <release version=\"$(deb_version "$tag")\" date=\"$date\"/>"$'\n'
done < <(git tag -l 'v[0-9]*' --sort=-v:refname --format='%(refname:short) %(creatordate:short)')
awk -v r="${releases%$'\n'}" '$0 == "@RELEASES@" { print r; next } { print }' \
	packaging/io.github.kvsviewer.metainfo.xml.in >"$STAGE/io.github.kvsviewer.metainfo.xml"

if command -v desktop-file-validate >/dev/null; then
	desktop-file-validate --no-hints packaging/io.github.kvsviewer.desktop
fi
if command -v appstreamcli >/dev/null; then
	appstreamcli validate --no-net --pedantic "$STAGE/io.github.kvsviewer.metainfo.xml" >"$STAGE/appstream.log" 2>&1 ||
		{ cat "$STAGE/appstream.log" >&2; die "the metainfo is not valid"; }
fi

# Depends: dpkg-shlibdeps reads the binary's NEEDED libraries and the shlibs/symbols
# files of the packages that own them. It wants a debian/control; a minimal one in a
# scratch directory is enough.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: kvsviewer\n\nPackage: kvsviewer\nArchitecture: any\n' >"$scratch/debian/control"
bin_abs=$(realpath "$STAGE/kvsviewer")
shlibs=$(cd "$scratch" && dpkg-shlibdeps -O -e"$bin_abs" 2>"$scratch/shlibdeps.err") ||
	{ cat "$scratch/shlibdeps.err" >&2; die "dpkg-shlibdeps failed"; }
DEPENDS=${shlibs#shlibs:Depends=}
[ -n "$DEPENDS" ] && [ "$DEPENDS" != "$shlibs" ] || die "dpkg-shlibdeps gave no Depends: $shlibs"
log "Depends: $DEPENDS"

mkdir -p "$OUT"
rm -f "$OUT"/kvsviewer_*.deb
KVSVIEWER_VERSION=$VERSION KVSVIEWER_ARCH=$ARCH KVSVIEWER_BIN=$STAGE/kvsviewer KVSVIEWER_STAGE=$STAGE \
	KVSVIEWER_DEPENDS=$DEPENDS "$NFPM" package --config packaging/nfpm.yaml --packager deb --target "$OUT/" >&2
deb=$OUT/kvsviewer_${VERSION}_$ARCH.deb
[ -f "$deb" ] || die "nfpm wrote no $deb"
log "built $deb"
echo "$deb"
