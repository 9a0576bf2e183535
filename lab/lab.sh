#!/usr/bin/env bash
# The vfbypass lab: a QEMU guest with an emulated SR-IOV NIC (igb, Intel 82576)
# behind a virtual IOMMU, running Debian's backports kernel and a busybox
# initramfs holding our vfbypass binary. The scenario in lab/scenario.sh runs
# inside and prints LABSTEP lines; this script turns them into lab-result.json.
# Usage: lab/lab.sh [install|build|boot|all]   (default: all)
# LAB_ONLY=watch runs only the watch steps (lab/watch.sh), for their
# development: a full run is several minutes under TCG.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CACHE=${LAB_CACHE:-$HOME/.cache/vfbypass/lab}
# The steps lab/scenario.sh reports, in order; each must pass.
WATCH_STEPS="watch-vf-flap watch-queue-repair"
LAB_STEPS="doctor rollback-on-failure up up-idempotent status steer-no-ntuple rx split down-refuses-busy-vf down vf-vlan-spoofchk queue-rss-spread queue-up queue-rx queue-down $WATCH_STEPS"
LAB_ONLY=${LAB_ONLY:-}
case "$LAB_ONLY" in
  "") ;;
  watch) LAB_STEPS=$WATCH_STEPS ;;
  *) echo "lab: LAB_ONLY=$LAB_ONLY: the only subset is watch" >&2; exit 2 ;;
esac
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
  # ldd exits 1 on a static binary (vfbypass), which has no libraries.
  { ldd "$1" 2>/dev/null || true; } | awk '/=>/ {print $3} /^\t\/lib64/ {print $1}' | while read -r l; do
    [ -n "$l" ] || continue
    case $l in /lib64/*) mkdir -p root/lib64; cp -L "$l" root/lib64/ ;;
               *) mkdir -p root/lib/x86_64-linux-gnu; cp -L "$l" root/lib/x86_64-linux-gnu/ ;; esac
  done
}

build() {
  KV=$(cat "$CACHE/kernel-version")
  cd "$top"
  say "building vfbypass, vfbypass-rx (with DPDK) and labsend for the guest"
  CGO_ENABLED=0 go build -o "$CACHE/vfbypass" ./cmd/vfbypass
  go build -o "$CACHE/vfbypass-rx" ./cmd/vfbypass-rx
  # Static: the guest runs it too (-listen, the PF's UDP socket).
  CGO_ENABLED=0 go build -o "$CACHE/labsend" ./tools/labsend
  cd "$CACHE"
  rm -rf root && mkdir -p root/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,lib/modules,etc}
  cp /bin/busybox root/bin/busybox
  copybin /usr/sbin/ip /usr/sbin/ip
  copybin tools/sbin/ethtool /usr/sbin/ethtool
  copybin "$CACHE/vfbypass" /usr/bin/vfbypass
  copybin "$CACHE/vfbypass-rx" /usr/bin/vfbypass-rx
  copybin "$CACHE/labsend" /usr/bin/labsend
  # DPDK's EAL loads every *.so in its plugin directory: the guest's holds
  # just the PMDs a VF of the emulated igb needs (net_e1000's igbvf driver
  # and the ring mempool), each with the libraries it links.
  pmds=$(pkg-config --variable=pmdsdir libdpdk 2>/dev/null || true)
  [ -n "$pmds" ] || pmds=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
  for p in librte_net_e1000 librte_mempool_ring librte_net_af_xdp; do
    so=$(ls "$pmds/$p.so".* | head -1)
    copybin "$so" "$pmds/$p.so"
  done
  # net_af_xdp (rx --queue): libxdp loads its XDP programs from object
  # files that ldd does not show.
  mkdir -p root/usr/lib/x86_64-linux-gnu/bpf
  cp /usr/lib/x86_64-linux-gnu/bpf/xsk_def_xdp_prog*.o /usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o root/usr/lib/x86_64-linux-gnu/bpf/
  cp -L "$(gcc -print-file-name=libgcc_s.so.1)" root/lib/x86_64-linux-gnu/ 2>/dev/null || true
  : > root/modlist
  for m in igb igbvf vfio_iommu_type1 vfio-pci; do
    modprobe -d "kern-$KV" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    b=$(basename "$ko" .xz); xz -dc "$ko" > "root/lib/modules/$b"; echo "$b" >> root/modlist
  done
  cp "$here/init" root/init && cp "$here/scenario.sh" root/scenario.sh && cp "$here/watch.sh" root/watch.sh && chmod +x root/init root/scenario.sh
  (cd root && find . | cpio -o -H newc --quiet | gzip -1) > initrd.gz
  say "initramfs $(du -h initrd.gz | cut -f1)"
}

# guest ACCEL KERNEL-VERSION SMP: boots the guest once, with its NIC on a
# QEMU dgram backend (UDP on loopback) that tools/labsend feeds from outside.
# LAB_PPS (default 500 frames/s): while the TCG guest stalls, its rings fill
# and QEMU stops reading its socket, whose default 208 KiB buffer holds
# about 270 frames; at 2000/s a stall of ~0.25 s on a loaded host lost 26
# of 1000 frames to the VF and 25 to the PF (the guest's NICs never saw
# them: ip -s link 975, the VF's imissed 0).
# Returns 1 when KVM cannot run the guest (it did not reach /init in time),
# 2 when the guest stalled (no new LAB line for LAB_STALL seconds: under TCG
# a vCPU can stop getting its timer interrupts, and the kernel only reports
# RCU stalls from then on).
guest() {
  local cpu=max waited=0 quiet=0 lines=0 n port=$(( 40000 + RANDOM % 20000 ))
  [ "$1" = kvm ] && cpu=host
  say "booting the guest with -accel $1 -cpu $cpu -smp $3 (kernel $2)"
  : > serial.log
  # The sender's phases follow the scenario: rx, queue-rss-spread, queue-rx,
  # then the watch steps (alone with LAB_ONLY=watch).
  local phases=(-wait-for 'LAB: rx ready' -then "LAB: queue ready=$LAB_Q_DGRAMS" -then "LAB: queue hidden=$LAB_Q_DGRAMS"
    -then-vf 'LAB: watch rx ready' -then-vf 'LAB: watch flapped' -then "LAB: watch repaired=$LAB_Q_DGRAMS")
  [ "$LAB_ONLY" = watch ] && phases=(-wait-for 'LAB: watch rx ready' -then-vf 'LAB: watch flapped' -then "LAB: watch repaired=$LAB_Q_DGRAMS")
  "$CACHE/labsend" -to "127.0.0.1:$port" -bind "127.0.0.1:$((port + 1))" -dst-mac "$LAB_MAC" \
    -count "$LAB_FRAMES" -pps "${LAB_PPS:-500}" -wait-file serial.log "${phases[@]}" \
    -pf-mac "$LAB_PF_MAC" -pf-count "$LAB_PF_DGRAMS" -pf-addr 10.99.0.2:5001 \
    -timeout "${BOOT_TIMEOUT:-900}s" > labsend.log 2>&1 &
  local sender=$!
  timeout "${BOOT_TIMEOUT:-900}" qemu-system-x86_64 \
    -machine q35,kernel-irqchip=split -accel "$1" -cpu "$cpu" -smp "$3" -m 1536 \
    -device intel-iommu,intremap=on,caching-mode=on \
    -device pcie-root-port,id=rp1,chassis=1,slot=1 \
    -netdev "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=$port,remote.type=inet,remote.host=127.0.0.1,remote.port=$((port + 1))" \
    -device igb,netdev=n0,bus=rp1,romfile=,mac="$LAB_PF_MAC" \
    -kernel "kern-$2/boot/vmlinuz-$2" -initrd initrd.gz \
    -append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet no_timer_check lab.frames=$LAB_FRAMES lab.mac=$LAB_MAC lab.pfdgrams=$LAB_PF_DGRAMS lab.qdgrams=$LAB_Q_DGRAMS${LAB_ONLY:+ lab.only=$LAB_ONLY}" \
    -nographic -no-reboot </dev/null >> serial.log 2>&1 &
  local qemu=$! rc=0
  while kill -0 "$qemu" 2>/dev/null; do
    # Under KVM, a guest that has not reached /init within a minute (nested
    # KVM without the CPU features QEMU needs) is stopped, for TCG to run it.
    if [ "$1" = kvm ] && ! grep -aq 'LAB: init started' serial.log &&
       { [ "$waited" -ge 60 ] || grep -aq 'KVM internal error\|failed to set MSR' serial.log; }; then
      rc=1; break
    fi
    n=$(grep -ac '^LAB' serial.log || true)
    if [ "$n" != "$lines" ]; then lines=$n quiet=0; else quiet=$((quiet + 1)); fi
    if [ "$quiet" -ge "${LAB_STALL:-150}" ]; then
      rc=2; break
    fi
    sleep 1; waited=$((waited + 1))
  done
  if [ "$rc" != 0 ]; then kill "$qemu" 2>/dev/null || true; fi
  wait "$qemu" 2>/dev/null || true
  kill "$sender" 2>/dev/null || true; wait "$sender" 2>/dev/null || true
  # QEMU that exits under KVM before the guest reached /init (e.g. "failed
  # to set MSR" on nested KVM) is KVM's failure, not the guest's.
  if [ "$1" = kvm ] && ! grep -aq 'LAB: init started' serial.log; then
    rc=1
  fi
  return "$rc"
}

boot() {
  KV=$(cat "$CACHE/kernel-version")
  cd "$CACHE"
  LAB_FRAMES=${LAB_FRAMES:-1000}
  # Datagrams to an address on the PF while rx runs on VF 0 (the split).
  LAB_PF_DGRAMS=${LAB_PF_DGRAMS:-1000}
  LAB_PF_MAC=${LAB_PF_MAC:-52:54:00:12:34:56}
  # Datagrams from varied sources to the PF without VFs (RSS over its queues).
  LAB_Q_DGRAMS=${LAB_Q_DGRAMS:-1000}
  LAB_MAC=${LAB_MAC:-02:00:00:00:00:01}
  accel=tcg
  if [ -w /dev/kvm ] && echo quit | timeout 20 qemu-system-x86_64 -accel kvm -M none -nodefaults -display none -monitor stdio >/dev/null 2>&1; then
    accel=kvm
  fi
  t0=$(date +%s)
  smp=${LAB_SMP:-2}
  rc=0; guest "$accel" "$KV" "$smp" || rc=$?
  if [ "$rc" = 1 ]; then
    say "KVM could not run the guest ($(grep -a -m1 -i 'error' serial.log || echo 'no /init within 60 s')); falling back to TCG"
    accel=tcg
    rc=0; guest "$accel" "$KV" "$smp" || rc=$?
  fi
  if [ "$rc" = 2 ]; then
    cp serial.log serial-stalled.log
    say "the guest stalled: no progress for ${LAB_STALL:-150} s ($(grep -a -m1 'rcu.*stall' serial.log || tail -1 serial.log)); log kept in $CACHE/serial-stalled.log; booting it once more with -smp 1"
    smp=1
    rc=0; guest "$accel" "$KV" "$smp" || rc=$?
    [ "$rc" = 2 ] && say "the guest stalled again; the steps it did not report count as failed"
  fi
  say "guest ran $(( $(date +%s) - t0 ))s (serial log: $CACHE/serial.log)"
  [ -s labsend.log ] && say "sender: $(cat labsend.log)"
  grep -aE '^(LAB|  )' serial.log | sed 's/\r$//' || true
  # LABSTEP {"name": ..., "pass": ...} lines become lab-result.json.
  {
    sent=$(sed -n 's/^labsend: sent \([0-9]*\) frames.*/\1/p' labsend.log 2>/dev/null)
    pfsent=$(sed -n 's/^labsend: sent \([0-9]*\) datagrams to the PF.*/\1/p' labsend.log 2>/dev/null)
    printf '{"accel": "%s", "smp": %s, "kernel": "%s", "frames_sent": %s, "pf_datagrams_sent": %s, "steps": [\n' "$accel" "$smp" "$KV" "${sent:-0}" "${pfsent:-0}"
    # A step the guest never reported (it crashed, hung or ran out of time)
    # is a failed step.
    for name in $LAB_STEPS; do
      grep -aq "^LABSTEP {\"name\": \"$name\"" serial.log ||
        echo "LABSTEP {\"name\": \"$name\", \"pass\": false, \"detail\": \"the guest never reported this step\"}"
    done > missing.log
    cat <(grep -a '^LABSTEP ' serial.log | sed 's/\r$//') missing.log | sed 's/^LABSTEP //' | paste -sd, -
    printf ']}\n'
  } > "$RESULT"
  total=$(grep -ac '^LABSTEP ' serial.log missing.log | awk -F: '{n+=$2} END{print n}')
  failed=$(cat serial.log missing.log | grep -a '^LABSTEP ' | grep -c '"pass": false' || true)
  # A skipped step ("pass": null) could not run on this guest and says why.
  skipped=$(cat serial.log missing.log | grep -a '^LABSTEP ' | grep -c '"skipped": true' || true)
  say "result: $RESULT"
  echo "lab: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
  [ "$total" -gt 0 ] && [ "$failed" -eq 0 ]
}

stage=${1:-all}
# A run that fails before the guest reports says where, and leaves no
# lab-result.json from an earlier run behind.
trap 'rc=$?; [ $rc -eq 0 ] || say "FAILED in stage $stage (exit $rc); see the lines above"' EXIT
case "$stage" in
  install) install ;;
  build) build ;;
  boot) boot ;;
  all) rm -f "$RESULT"; stage=install; install; stage=build; build; stage=boot; boot ;;
  *) echo "usage: lab/lab.sh [install|build|boot|all]" >&2; exit 2 ;;
esac
