#!/bin/sh
# The lab scenario, run inside the guest: everything goes through vfbypass;
# sysfs is only read, to check what vfbypass did. Each step prints one
# LABSTEP line of JSON: {"name", "pass", "detail"}.
V=/usr/bin/vfbypass
step() { # name pass detail
  d=$(printf '%s' "$3" | tr '"\\\n' "'/ " | cut -c1-300)
  echo "LABSTEP {\"name\": \"$1\", \"pass\": $2, \"detail\": \"$d\"}"
}
run() { echo "LAB\$ vfbypass $*"; OUT=$($V "$@" 2>/tmp/err); RC=$?; echo "$OUT" | sed 's/^/  /'; sed 's/^/  /' /tmp/err; echo "  rc=$RC"; }
has() { printf '%s' "$OUT" | grep -q "$1"; }

PF=""
for n in /sys/class/net/*; do
  d=$(readlink $n/device/driver 2>/dev/null) || continue
  [ "${d##*/}" = igb ] && PF=${n##*/}
done
ip link set "$PF" up 2>/dev/null || true
DEV=/sys/class/net/$PF/device
AP0=$(cat $DEV/sriov_drivers_autoprobe)
echo "LAB: PF=$PF autoprobe=$AP0 totalvfs=$(cat $DEV/sriov_totalvfs)"

run doctor "$PF" -o json
if [ $RC = 0 ] && has '"ok": true'; then step doctor true "required checks pass on $PF"; else step doctor false "rc=$RC"; fi

# Failure path on the real kernel: vfio-pci is not loaded and cannot be (no
# modules.dep in the guest), so the module step fails after VFs were enabled
# and configured: everything must be rolled back.
run up "$PF" --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust -o json
N=$(cat $DEV/sriov_numvfs); AP=$(cat $DEV/sriov_drivers_autoprobe)
if [ $RC = 1 ] && [ "$N" = 0 ] && [ "$AP" = "$AP0" ] && [ ! -e /run/vfbypass/$PF.json ] && has 'rolled back'; then
  step rollback-on-failure true "module step failed, numvfs back to 0, autoprobe $AP, no journal"
else
  step rollback-on-failure false "rc=$RC numvfs=$N autoprobe=$AP"
fi

insmod /lib/modules/vfio-pci.ko || echo "LAB: insmod vfio-pci FAILED"
run up "$PF" --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust -o json
VF0=$(readlink $DEV/virtfn0); VF0=${VF0##*/}
DRV=$(readlink /sys/bus/pci/devices/$VF0/driver 2>/dev/null); DRV=${DRV##*/}
if [ $RC = 0 ] && has '"changed": true' && [ "$DRV" = vfio-pci ] && [ "$(cat $DEV/sriov_numvfs)" = 2 ]; then
  step up true "VF 0 $VF0 on vfio-pci"
else
  step up false "rc=$RC VF0=$VF0 driver=$DRV"
fi
run up "$PF" --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust -o json
if [ $RC = 0 ] && has '"changed": false'; then step up-idempotent true "second up changed nothing"; else step up-idempotent false "rc=$RC"; fi

run status "$PF" -o json
G=$(readlink /sys/bus/pci/devices/$VF0/iommu_group); G=${G##*/}
if [ $RC = 0 ] && has "\"vfio_device\": \"/dev/vfio/$G\"" && [ -e /dev/vfio/$G ] && has '"mac": "02:00:00:00:00:01"' && has '"drift": \[\]'; then
  step status true "VF 0 in IOMMU group $G, /dev/vfio/$G, MAC set, no drift"
else
  step status false "rc=$RC group=$G"
fi

J0=$(cat /run/vfbypass/$PF.json 2>/dev/null)
run steer add "$PF" --vf 0 flow-type udp4 dst-port 4789
if [ $RC = 2 ] && grep -qi ntuple /tmp/err && [ "$(cat /run/vfbypass/$PF.json 2>/dev/null)" = "$J0" ]; then
  step steer-no-ntuple true "exit 2 naming ntuple; journal unchanged"
else
  step steer-no-ntuple false "rc=$RC: $(head -1 /tmp/err)"
fi

# rx: the host's tools/labsend sends N frames to VF 0's MAC through QEMU's
# dgram backend once the guest prints "LAB: rx ready"; the DPDK loop on the
# VF (vfio-pci, net_e1000_igb_vf) must count exactly N.
FRAMES=$(sed -n 's/.*lab\.frames=\([0-9]*\).*/\1/p' /proc/cmdline)
MATCH="udp dst-port 4789"
echo "LAB\$ vfbypass rx --pf $PF --vf 0 --duration 20s --match '$MATCH' -o json   (expecting $FRAMES frames)"
$V rx --pf "$PF" --vf 0 --duration 20s --match "$MATCH" -o json > /tmp/rx.json 2> /tmp/rx.err &
RXPID=$!
# rx says "receiving on ..." on stderr once the port is started.
i=0
while [ $i -lt 300 ] && kill -0 $RXPID 2>/dev/null && ! grep -q 'receiving on' /tmp/rx.err; do sleep 0.2; i=$((i + 1)); done
echo "LAB: rx ready"
wait $RXPID; RC=$?
OUT=$(cat /tmp/rx.json)
sed 's/^/  /' /tmp/rx.json; grep -v '^EAL\|^TELEMETRY' /tmp/rx.err | tail -5 | sed 's/^/  /'; echo "  rc=$RC"
# Top-level members of the JSON summary are indented by two spaces.
GOT=$(sed -n 's/^  "packets": \([0-9]*\).*/\1/p' /tmp/rx.json)
MATCHED=$(sed -n 's/^      "match_packets": \([0-9]*\).*/\1/p' /tmp/rx.json | awk '{n+=$1} END{print n+0}')
if [ $RC = 0 ] && [ -n "$FRAMES" ] && [ "$GOT" = "$FRAMES" ] && [ "$MATCHED" = "$FRAMES" ]; then
  step rx true "received exactly $GOT of $FRAMES frames sent from outside the guest on VF 0 through vfio-pci, all matching $MATCH"
else
  step rx false "rc=$RC received ${GOT:-none} (matching: $MATCHED) of $FRAMES: $(grep -v '^EAL' /tmp/rx.err | head -2)"
fi

# A VF held busy: while a DPDK process has VF 0's /dev/vfio group open,
# down must refuse and change nothing; SIGINT then stops rx cleanly.
$V rx --pf "$PF" --vf 0 --duration 60s -o json > /tmp/rx2.json 2> /tmp/rx2.err &
RXPID=$!
i=0
while [ $i -lt 300 ] && kill -0 $RXPID 2>/dev/null && ! grep -q 'receiving on' /tmp/rx2.err; do sleep 0.2; i=$((i + 1)); done
run down "$PF"
N=$(cat $DEV/sriov_numvfs)
kill -INT $RXPID; wait $RXPID; RXRC=$?
if [ $RC = 1 ] && grep -q 'in use' /tmp/err && [ "$N" = 2 ] && [ -e /run/vfbypass/$PF.json ] && [ $RXRC = 0 ] && grep -q '"stopped_by": "signal"' /tmp/rx2.json; then
  step down-refuses-busy-vf true "down exit 1 while rx held the VF's vfio group, numvfs still 2; rx stopped by SIGINT with exit 0"
else
  step down-refuses-busy-vf false "down rc=$RC numvfs=$N rx rc=$RXRC: $(head -1 /tmp/err)"
fi

run down "$PF" -o json
N=$(cat $DEV/sriov_numvfs); AP=$(cat $DEV/sriov_drivers_autoprobe)
PFD=$(readlink $DEV/driver); PFD=${PFD##*/}
if [ $RC = 0 ] && [ "$N" = 0 ] && [ "$AP" = "$AP0" ] && [ "$PFD" = igb ] && [ ! -e /run/vfbypass/$PF.json ] && [ -z "$(ls /dev/vfio | grep -v '^vfio$')" ]; then
  step down true "numvfs 0, autoprobe $AP, PF on igb, journal gone"
else
  step down false "rc=$RC numvfs=$N autoprobe=$AP pfdriver=$PFD"
fi
# VLAN and spoofchk over rtnetlink on the real igb PF, VFs left to igbvf.
run up "$PF" --vfs 2 --vf 1 --vlan 100 --spoofchk=false --driver none -o json
URC=$RC
LINK=$(/usr/sbin/ip link show "$PF" | grep 'vf 1 ')
echo "  ip link: $LINK"
VF1=$(readlink $DEV/virtfn1); VF1=${VF1##*/}
D1=$(readlink /sys/bus/pci/devices/$VF1/driver 2>/dev/null); D1=${D1##*/}
run down "$PF" -o json
N=$(cat $DEV/sriov_numvfs)
if [ $URC = 0 ] && echo "$LINK" | grep -q 'vlan 100' && echo "$LINK" | grep -q 'spoof checking off' && [ "$D1" = igbvf ] && [ $RC = 0 ] && [ "$N" = 0 ]; then
  step vf-vlan-spoofchk true "VF 1 vlan 100, spoof checking off (ip link), on igbvf; down back to 0 VFs"
else
  step vf-vlan-spoofchk false "up rc=$URC driver=$D1 link=$LINK; down rc=$RC numvfs=$N"
fi

run status "$PF"
