#!/bin/bash
# mkdeb.sh STAGE OUTDIR VERSION: build the vfbypass and vfbypass-rx Debian
# packages from a make install tree (PREFIX=/usr, UNITDIR=/lib/systemd/system)
# with dpkg-deb, into OUTDIR. docs/packaging.md explains the split.
set -euo pipefail
stage=$1 out=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-vfbypass maintainers <vfbypass@users.noreply.github.com>}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# take PKG PATH...: move files (or directories) from the stage into PKG's tree.
take() {
  local pkg=$1; shift
  for p in "$@"; do
    mkdir -p "$work/$pkg/$(dirname "$p")"
    mv "$stage/$p" "$work/$pkg/$p"
  done
}

take vfbypass-rx usr/bin/vfbypass-rx lib/systemd/system/vfbypass-rx@.service usr/share/man/man1/vfbypass-rx.1
take vfbypass usr/bin/vfbypass lib/systemd/system/vfbypass@.service usr/share/man usr/share/bash-completion \
  usr/share/zsh usr/share/fish usr/share/doc/vfbypass etc/vfbypass

for pkg in vfbypass vfbypass-rx; do
  root=$work/$pkg
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$pkg"
  gzip -9n "$root"/usr/share/man/man1/*.1
  doc=$root/usr/share/doc/$pkg
  mkdir -p "$doc" "$root/usr/share/lintian/overrides"
  cp "$here/copyright" "$doc/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
    "$pkg" "$version" "${COMMIT:-a source tree}" "$maintainer" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")" |
    gzip -9n > "$doc/changelog.gz"
  cp "$here/$pkg.lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f -exec chmod 0644 {} +
  chmod 0755 "$root/usr/bin/$pkg"
done

# vfbypass-rx's library dependencies, as dpkg-shlibdeps finds them (it wants a debian/control).
mkdir -p "$work/src/debian"
printf 'Source: vfbypass\n\nPackage: vfbypass-rx\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e "$work/vfbypass-rx/usr/bin/vfbypass-rx" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies of vfbypass-rx" >&2; exit 1; }

control() { # control PKG DEPENDS RECOMMENDS SHORT LONG
  local root=$work/$1
  mkdir -p "$root/DEBIAN"
  {
    echo "Package: $1"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    echo "Depends: $2"
    [ -z "$3" ] || echo "Recommends: $3"
    echo "Section: net"
    echo "Priority: optional"
    echo "Homepage: https://github.com/vfbypass/vfbypass"
    echo "Description: $4"
    echo "$5" | fold -s -w 72 | sed 's/ *$//; s/^/ /'
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zgzip --build "$root" "$out/${1}_${version}_$arch.deb" >/dev/null
  echo "$out/${1}_${version}_$arch.deb"
}

control vfbypass "kmod" "vfbypass-rx" \
  "steer chosen flows from a Linux PF to an SR-IOV VF" \
  "vfbypass keeps a NIC with the kernel and bypasses it for chosen flows only: it enables SR-IOV VFs on the PF, gives a VF to vfio-pci and steers flows to it with ntuple rules. Every change is journaled, so vfbypass down undoes exactly what vfbypass up did. This package is the static control plane (up, down, steer, status, doctor) with the systemd unit vfbypass@PF.service, which applies /etc/vfbypass/PF.yaml at boot; it needs no DPDK."
control vfbypass-rx "$shlibs, librte-bus-pci23, librte-bus-vdev23, librte-mempool-ring23, vfbypass (= $version)" \
  "librte-net-ixgbe23, librte-net-e1000-23, librte-net-null23, librte-net-af-packet23, librte-net-af-xdp23" \
  "DPDK receive loop for vfbypass" \
  "vfbypass-rx receives on a VF that vfbypass gave to vfio-pci (or any DPDK device) with a DPDK poll loop and reports its rate per queue; vfbypass rx runs it. The systemd unit vfbypass-rx@PF.service runs it as a service after vfbypass@PF.service."
