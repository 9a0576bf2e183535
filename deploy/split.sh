#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# split.sh STAGE WORK: split a make install tree (PREFIX=/usr,
# UNITDIR=/lib/systemd/system) into the trees of the two packages,
# WORK/vfbypass and WORK/vfbypass-rx, which the Debian (debian/mkdeb.sh) and
# RPM (rpm/mkrpm.sh) builds both start from; STAGE is left as it is.
#   vfbypass     the static control plane (and its simulator build,
#                /usr/lib/vfbypass/vfbypass-sim), vfbypass@.service,
#                vfbypass-watch@.service, completions,
#                the man pages, the docs and examples, /etc/vfbypass
#   vfbypass-rx  the DPDK loop, vfbypass-rx@.service, vfbypass-rx.1
# Binaries are stripped, man pages gzipped (-n: no name or time), modes
# 0755/0644. The example configs become config files (/etc/vfbypass/*.example) that
# the package managers keep when an administrator edited them.
set -euo pipefail
src=$1 work=$2
stage=$work/stage
rm -rf "$stage" "$work/vfbypass" "$work/vfbypass-rx"
mkdir -p "$work"
cp -a "$src" "$stage"
examples=$stage/usr/share/doc/vfbypass/examples
cp "$examples/eth3.yaml" "$stage/etc/vfbypass/eth3.yaml.example"
cp "$examples/eth3.rx.env" "$stage/etc/vfbypass/eth3.rx.env.example"

# take PKG PATH...: move files (or directories) from the stage into PKG's tree.
take() {
  local pkg=$1; shift
  for p in "$@"; do
    mkdir -p "$work/$pkg/$(dirname "$p")"
    mv "$stage/$p" "$work/$pkg/$p"
  done
}
take vfbypass-rx usr/bin/vfbypass-rx lib/systemd/system/vfbypass-rx@.service usr/share/man/man1/vfbypass-rx.1 \
  etc/vfbypass/eth3.rx.env.example
take vfbypass usr/bin/vfbypass usr/lib/vfbypass lib/systemd/system/vfbypass@.service lib/systemd/system/vfbypass-watch@.service usr/share/man usr/share/bash-completion \
  usr/share/zsh usr/share/fish usr/share/doc/vfbypass etc/vfbypass
left=$(cd "$stage" && find . -type f)
[ -z "$left" ] || { echo "split: files in no package: $left" >&2; exit 1; }
# A PowerShell completion (or its command's man page) has no place on Linux.
if find "$work/vfbypass" "$work/vfbypass-rx" -iname '*powershell*' -o -name '*.ps1' | grep .; then
  echo "split: a PowerShell completion in a package" >&2; exit 1
fi
rm -rf "$stage"
for pkg in vfbypass vfbypass-rx; do
  root=$work/$pkg
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$pkg"
  gzip -9n "$root"/usr/share/man/man1/*.1
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f -exec chmod 0644 {} +
  chmod 0755 "$root/usr/bin/$pkg"
done
sim=$work/vfbypass/usr/lib/vfbypass/vfbypass-sim
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$sim"
chmod 0755 "$sim"
