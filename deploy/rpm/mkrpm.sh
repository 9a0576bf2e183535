#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mkrpm.sh STAGE OUTDIR VERSION: build the vfbypass and vfbypass-rx RPMs for
# RHEL-family hosts from a make install tree, with nfpm ($NFPM), into
# OUTDIR. The trees are deploy/split.sh's, as for the Debian packages; the
# units go to /usr/lib/systemd/system and zsh's completion to
# site-functions, where RHEL keeps them. vfbypass-rx requires the DPDK
# libraries it links (their sonames, so the DPDK ABI must match: 22.11's
# .so.23) and the dpdk package, which holds the PMDs (net_ixgbe included).
set -euo pipefail
src=$1 out=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
: "${NFPM:?mkrpm: set NFPM to the nfpm binary (make rpm installs it in bin/)}"
: "${SOURCE_DATE_EPOCH:?mkrpm: set SOURCE_DATE_EPOCH (make rpm sets the time of the last commit)}"
# shellcheck source=../pkginfo.sh
. "$here/../pkginfo.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
"$here/../split.sh" "$src" "$work"
for pkg in vfbypass vfbypass-rx; do
  mkdir -p "$work/$pkg/usr/lib" "$work/$pkg/usr/share/licenses/$pkg"
  mv "$work/$pkg/lib/systemd" "$work/$pkg/usr/lib/systemd" && rmdir "$work/$pkg/lib"
  cp "$here/../../LICENSE" "$work/$pkg/usr/share/licenses/$pkg/LICENSE"
  units=$(cd "$work/$pkg/usr/lib/systemd/system" && LC_ALL=C ls -- *@.service | sed 's/@\.service$//' | paste -sd' ')
  { echo "UNITS='$units'"; cat "$here/postun.sh"; } > "$work/$pkg.postun"
done
mkdir -p "$work/vfbypass/usr/share/zsh/site-functions"
mv "$work/vfbypass/usr/share/zsh/vendor-completions/_vfbypass" "$work/vfbypass/usr/share/zsh/site-functions/"
rmdir "$work/vfbypass/usr/share/zsh/vendor-completions"

# contents PKG: nfpm's list of PKG's files; /etc files are config(noreplace).
contents() {
  echo "contents:"
  (cd "$work/$1" && find . -type f | sort) | while read -r f; do
    f=${f#./}
    echo "  - src: $work/$1/$f"
    echo "    dst: /$f"
    case $f in etc/*) echo "    type: config|noreplace" ;; esac
    echo "    file_info: {mode: 0$(stat -c %a "$work/$1/$f"), mtime: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)}"
  done
  echo "  - dst: /etc/vfbypass"
  echo "    type: dir"
  echo "    file_info: {mode: 0755}"
}

# nfpm PKG REQUIRES SUMMARY DESCRIPTION PREUN: write PKG's nfpm config and build it.
nfpm() {
  {
    echo "name: $1"
    echo "arch: $(go env GOARCH)"
    echo "platform: linux"
    echo "version: \"$version\""
    echo "version_schema: none"
    echo "release: \"1\""
    echo "maintainer: \"$maintainer\""
    echo "vendor: vfbypass"
    echo "homepage: $homepage"
    echo "license: Apache-2.0"
    echo "mtime: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
    echo "description: |"
    echo "  $3"
    echo "$4" | fold -s -w 72 | sed 's/ *$//; s/^/  /'
    echo "depends:"
    printf '%s\n' "$2" | tr ',' '\n' | sed 's/^ *//; s/^/  - "/; s/$/"/'
    echo "scripts:"
    echo "  postinstall: $here/post.sh"
    [ -z "$5" ] || echo "  preremove: $5"
    echo "  postremove: $work/$1.postun"
    echo "rpm:"
    echo "  group: System Environment/Base"
    echo "  summary: \"$3\""
    contents "$1"
  } > "$work/$1.nfpm.yaml"
  "$NFPM" package --config "$work/$1.nfpm.yaml" --packager rpm --target "$out/" >/dev/null
  ls "$out/$1-$version"-1.*.rpm
}

arch=$(go env GOARCH)
# rpm marks a 64-bit library's capabilities with (64bit).
case $arch in amd64 | arm64) bits='(64bit)' ;; *) bits='' ;; esac
needed=$(objdump -p "$work/vfbypass-rx/usr/bin/vfbypass-rx" | sed -n 's/^ *NEEDED *//p' | sed "s/\$/()$bits/" | paste -sd, -)
[ -n "$needed" ] || { echo "mkrpm: objdump found no libraries vfbypass-rx needs" >&2; exit 1; }
# The newest glibc symbol version it uses, as rpm's own dependency generator
# would require it (GLIBC_2.34 for a build on Debian 12: RHEL 9 and later).
glibc=$(objdump -T "$work/vfbypass-rx/usr/bin/vfbypass-rx" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
[ -z "$glibc" ] || needed="$needed, libc.so.6($glibc)$bits"

nfpm vfbypass "kmod" "$summary_vfbypass" "$description_vfbypass" "$here/vfbypass.preun.sh"
nfpm vfbypass-rx "$needed, dpdk, vfbypass = $version-1" "$summary_vfbypass_rx" "$description_vfbypass_rx" \
  "$here/vfbypass-rx.preun.sh"
