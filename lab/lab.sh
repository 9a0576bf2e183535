#!/usr/bin/env bash
# The vfbypass lab: a QEMU guest with an emulated SR-IOV NIC (igb, Intel 82576)
# behind a virtual IOMMU, running Debian's backports kernel and a busybox
# initramfs holding our vfbypass binary. The scenario in lab/scenario.sh runs
# inside and prints LABSTEP lines; this script turns them into lab-result.json.
# Usage: lab/lab.sh [install|build|boot|all]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CACHE=${LAB_CACHE:-$HOME/.cache/vfbypass/lab}
RESULT=${LAB_RESULT:-$top/lab-result.json}
APT="apt-get -o DPkg::Lock::Timeout=600 -qq"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"

say() { echo "lab: $*"; }

install() {
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
    say "adding bookworm-backports from $uri"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
      > /etc/apt/sources.list.d/vfbypass-bpo.sources
    $APT update
  fi
  if ! qemu-system-x86_64 -device help 2>/dev/null | grep -qw igb; then
    say "installing QEMU from bookworm-backports (for -device igb)"
    $APT install -y --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
  fi
  $APT install -y --no-install-recommends kmod xz-utils cpio iproute2 busybox-static >/dev/null
  # The newest backports kernel, resolved now rather than pinned.
  KV=$(apt-cache depends -t bookworm-backports linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')
  [ -n "$KV" ] || { say "cannot resolve the backports kernel version (apt-cache depends linux-image-amd64)"; exit 1; }
  echo "$KV" > "$CACHE/kernel-version"
  cd "$CACHE"
  if [ ! -d "kern-$KV" ]; then
    say "downloading kernel $KV"
    ls linux-image-"$KV"_*.deb >/dev/null 2>&1 || apt-get download -t bookworm-backports "linux-image-$KV"
    rm -rf "kern-$KV.tmp" && mkdir "kern-$KV.tmp" && dpkg-deb -x linux-image-"$KV"_*.deb "kern-$KV.tmp"
    depmod -b "kern-$KV.tmp" "$KV" && mv "kern-$KV.tmp" "kern-$KV"
  fi
  if [ ! -d tools ]; then
    ls ethtool_*.deb >/dev/null 2>&1 || apt-get download ethtool
    rm -rf tools.tmp && mkdir tools.tmp && dpkg-deb -x ethtool_*.deb tools.tmp && mv tools.tmp tools
  fi
}

copybin() { # $1 = binary on this host, $2 = its path in the guest
  mkdir -p "root$(dirname "$2")"; cp -L "$1" "root$2"
  ldd "$1" 2>/dev/null | awk '/=>/ {print $3} /^\t\/lib64/ {print $1}' | while read -r l; do
    [ -n "$l" ] || continue
    case $l in /lib64/*) mkdir -p root/lib64; cp -L "$l" root/lib64/ ;;
               *) mkdir -p root/lib/x86_64-linux-gnu; cp -L "$l" root/lib/x86_64-linux-gnu/ ;; esac
  done
}

build() {
  KV=$(cat "$CACHE/kernel-version")
  cd "$top"
  say "building vfbypass for the guest"
  CGO_ENABLED=0 go build -tags nodpdk -o "$CACHE/vfbypass" ./cmd/vfbypass
  cd "$CACHE"
  rm -rf root && mkdir -p root/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,lib/modules,etc}
  cp /bin/busybox root/bin/busybox
  copybin /usr/sbin/ip /usr/sbin/ip
  copybin tools/sbin/ethtool /usr/sbin/ethtool
  cp "$CACHE/vfbypass" root/usr/bin/vfbypass
  : > root/modlist
  for m in igb igbvf vfio_iommu_type1 vfio-pci; do
    modprobe -d "kern-$KV" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    b=$(basename "$ko" .xz); xz -dc "$ko" > "root/lib/modules/$b"; echo "$b" >> root/modlist
  done
  cp "$here/init" root/init && cp "$here/scenario.sh" root/scenario.sh && chmod +x root/init root/scenario.sh
  (cd root && find . | cpio -o -H newc --quiet | gzip -1) > initrd.gz
}

guest() { # accel kernel-version
  local cpu=max
  [ "$1" = kvm ] && cpu=host
  say "booting the guest with -accel $1 -cpu $cpu (kernel $2)"
  timeout "${BOOT_TIMEOUT:-600}" qemu-system-x86_64 \
    -machine q35,kernel-irqchip=split -accel "$1" -cpu "$cpu" -smp 2 -m 1024 \
    -device intel-iommu,intremap=on,caching-mode=on \
    -device pcie-root-port,id=rp1,chassis=1,slot=1 \
    -netdev user,id=n0,restrict=on,ipv6=off -device igb,netdev=n0,bus=rp1,romfile= \
    -kernel "kern-$2/boot/vmlinuz-$2" -initrd initrd.gz \
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet" \
    -nographic -no-reboot </dev/null > serial.log 2>&1 || true
}

boot() {
  KV=$(cat "$CACHE/kernel-version")
  cd "$CACHE"
  accel=tcg
  if [ -w /dev/kvm ] && echo quit | timeout 20 qemu-system-x86_64 -accel kvm -M none -nodefaults -display none -monitor stdio >/dev/null 2>&1; then
    accel=kvm
  fi
  t0=$(date +%s)
  guest "$accel" "$KV"
  if [ "$accel" = kvm ] && ! grep -q 'LAB: init started' serial.log; then
    say "KVM could not run the guest ($(head -1 serial.log)); falling back to TCG"
    accel=tcg
    guest "$accel" "$KV"
  fi
  say "guest ran $(( $(date +%s) - t0 ))s (serial log: $CACHE/serial.log)"
  grep -E '^(LAB|  )' serial.log | sed 's/\r$//' || true
  # LABSTEP {"name": ..., "pass": ...} lines become lab-result.json.
  {
    printf '{"accel": "%s", "kernel": "%s", "steps": [\n' "$accel" "$KV"
    grep '^LABSTEP ' serial.log | sed 's/\r$//; s/^LABSTEP //' | paste -sd, -
    printf ']}\n'
  } > "$RESULT"
  total=$(grep -c '^LABSTEP ' serial.log || true)
  missing=$(grep '^LABSTEP ' serial.log | grep -c '"implemented": false' || true)
  failed=$(( $(grep '^LABSTEP ' serial.log | grep -c '"pass": false' || true) - missing ))
  say "result: $RESULT ($missing steps need commands this build lacks)"
  echo "lab: $((total - failed - missing)) passed, $failed failed"
  [ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
}

case "${1:-all}" in
  install) install ;;
  build) build ;;
  boot) boot ;;
  all) install; build; boot ;;
esac
