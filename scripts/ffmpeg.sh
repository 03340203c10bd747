#!/usr/bin/env bash
# Builds the part of FFmpeg the app decodes with into DIR, as static libraries
# with pkg-config files: the H.264, H.265, VP8 and VP9 decoders of libavcodec,
# libswscale and libavutil, with their x86 assembly (nasm) and nothing else.
#
# usage: scripts/ffmpeg.sh VERSION SHA256 DIR   (`make deps` runs it)
#
# Why not Debian's libavcodec59: it links every codec library Debian builds FFmpeg
# with (x265, dav1d, aom, rav1e, SVT-AV1, rsvg, cairo, ICU, ... 88 more shared
# libraries). Each process mapped and relocated them all: 14 MB of the RSS of a
# headless call and 55 ms of every start (`--version` 125 -> 70 ms), for four
# decoders that are about 2 MB of code.
#
# The source is Debian's copy of the upstream release (the .orig tarball of Debian's
# ffmpeg package, the one libavcodec59 is built from), checked against its SHA-256.
# FFmpeg is LGPL 2.1 or later; this script and the app's source are what the LGPL
# asks for to relink the app with another build of it.
set -euo pipefail

version=${1:?usage: ffmpeg.sh VERSION SHA256 DIR}
sha256=${2:?usage: ffmpeg.sh VERSION SHA256 DIR}
dir=${3:?usage: ffmpeg.sh VERSION SHA256 DIR}
[[ $dir == /* ]] || dir=$PWD/$dir

built() { [[ -f $dir/lib/libavcodec.a && -f $dir/lib/pkgconfig/libavcodec.pc ]]; }
built && exit 0
# One build at a time per DIR (two checkouts' `make` may start together).
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
built && exit 0
for tool in nasm curl xz; do
	command -v "$tool" >/dev/null || { echo "ffmpeg.sh: $tool is missing (make deps installs it)" >&2; exit 1; }
done

work=$dir.build
rm -rf "$work" "$dir"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
tarball=$work/ffmpeg_$version.orig.tar.xz
fetched=
for pool in https://deb.debian.org/debian/pool/main/f/ffmpeg \
	https://deb.debian.org/debian-security/pool/updates/main/f/ffmpeg; do
	if curl -fsSL --retry 3 -o "$tarball" "$pool/ffmpeg_$version.orig.tar.xz"; then
		fetched=$pool
		break
	fi
done
if [[ -z $fetched ]]; then
	echo "ffmpeg.sh: Debian no longer serves ffmpeg_$version.orig.tar.xz; set FFMPEG_VERSION and FFMPEG_SHA256 in the Makefile to the release of Debian 12's ffmpeg package" >&2
	exit 1
fi
echo "$sha256  $tarball" | sha256sum -c --quiet
tar -xJf "$tarball" -C "$work"

echo "building FFmpeg $version's decoders into $dir (a few minutes, once)"
cd "$work/ffmpeg-$version"
./configure --prefix="$dir" --cc="${CC:-gcc}" \
	--enable-static --disable-shared --enable-pic \
	--disable-everything --disable-autodetect --disable-programs --disable-doc --disable-debug \
	--disable-avdevice --disable-avformat --disable-avfilter --disable-swresample \
	--disable-postproc --disable-network \
	--enable-decoder=h264,hevc,vp8,vp9 >"$work/configure.log" ||
	{ tail -20 "$work/configure.log" "ffbuild/config.log" >&2; exit 1; }
make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
# Staged, then moved: an interrupted build leaves no half-installed DIR behind.
make -s install DESTDIR="$work/stage" >/dev/null
mv "$work/stage$dir" "$dir"
