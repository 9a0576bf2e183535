#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mkdeb.sh STAGE OUTDIR VERSION: build the vfbypass and vfbypass-rx Debian
# packages from a make install tree (PREFIX=/usr, UNITDIR=/lib/systemd/system)
# with dpkg-deb, into OUTDIR; STAGE is left as it is. docs/packaging.md
# explains the split and the maintainer scripts. With SOURCE_DATE_EPOCH set
# (mk/pkg.mk sets the last commit's time), two builds of one tree are the
# same bytes.
set -euo pipefail
src=$1 out=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
# shellcheck source=../pkginfo.sh
. "$here/../pkginfo.sh"
: "${SOURCE_DATE_EPOCH:?mkdeb: set SOURCE_DATE_EPOCH (the time the packages claim; make deb sets the time of the last commit)}"
export SOURCE_DATE_EPOCH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
"$here/../split.sh" "$src" "$work"

for pkg in vfbypass vfbypass-rx; do
  root=$work/$pkg
  doc=$root/usr/share/doc/$pkg
  mkdir -p "$doc" "$root/usr/share/lintian/overrides"
  cp "$here/copyright" "$doc/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
    "$pkg" "$version" "${COMMIT:-a source tree}" "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")" |
    gzip -9n > "$doc/changelog.gz"
  cp "$here/$pkg.lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
  chmod 0644 "$doc/copyright" "$doc/changelog.gz" "$root/usr/share/lintian/overrides/$pkg"
  # Every file the packages hold carries one time: SOURCE_DATE_EPOCH.
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
done

# vfbypass-rx's library dependencies, as dpkg-shlibdeps finds them (it wants a debian/control).
mkdir -p "$work/src/debian"
printf 'Source: vfbypass\n\nPackage: vfbypass-rx\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e "$work/vfbypass-rx/usr/bin/vfbypass-rx" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies of vfbypass-rx" >&2; exit 1; }

control() { # control PKG DEPENDS RECOMMENDS SUGGESTS SHORT LONG
  local root=$work/$1
  mkdir -p "$root/DEBIAN"
  # Installed-Size: the files' apparent sizes in KiB, the same on every file system.
  local size
  size=$(find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", (s + 1023) / 1024 }')
  {
    echo "Package: $1"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $2"
    [ -z "$3" ] || echo "Recommends: $3"
    [ -z "$4" ] || echo "Suggests: $4"
    echo "Section: net"
    echo "Priority: optional"
    echo "Homepage: $homepage"
    echo "Description: $5"
    echo "$6" | fold -s -w 72 | sed 's/ *$//; s/^/ /'
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  (cd "$root" && find etc -type f | sort | sed 's|^|/|') > "$root/DEBIAN/conffiles"
  for s in postinst prerm postrm; do
    [ ! -f "$here/$1.$s" ] || install -m 0755 "$here/$1.$s" "$root/DEBIAN/$s"
  done
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles"
  find "$root/DEBIAN" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/${1}_${version}_$arch.deb" >/dev/null
  echo "$out/${1}_${version}_$arch.deb"
}

control vfbypass "kmod, init-system-helpers (>= 1.54~)" "vfbypass-rx" "" "$summary_vfbypass" "$description_vfbypass"
# librte-net-ixgbe23 is the PMD of the 82599 VF (net_ixgbe_vf), the device
# the loop is for; af_xdp is queue mode's, e1000 the igb VF's; null and
# af_packet are the vdevs of tests and benchmarks. init-system-helpers (in
# both): deb-systemd-invoke in prerm.
control vfbypass-rx "$shlibs, librte-bus-pci23, librte-bus-vdev23, librte-mempool-ring23, librte-net-ixgbe23, init-system-helpers (>= 1.54~), vfbypass (= $version)" \
  "librte-net-af-xdp23, librte-net-e1000-23" "librte-net-null23, librte-net-af-packet23" \
  "$summary_vfbypass_rx" "$description_vfbypass_rx"
