#!/bin/sh
# The lab scenario, run inside the guest: everything goes through vfbypass;
# sysfs is only read, to check what vfbypass did. Each step prints one
# LABSTEP line of JSON: {"name", "pass", "detail"}.
V=/usr/bin/vfbypass
step() { # name pass detail
  d=$(printf '%s' "$3" | tr '"\\\n' "'/ " | cut -c1-600)
  echo "LABSTEP {\"name\": \"$1\", \"pass\": $2, \"detail\": \"$d\"}"
}
# skip: a step that cannot be run on this guest, with the reason (it
# neither passes nor fails).
skip() { # name detail
  d=$(printf '%s' "$2" | tr '"\\\n' "'/ " | cut -c1-600)
  echo "LABSTEP {\"name\": \"$1\", \"pass\": null, \"skipped\": true, \"detail\": \"$d\"}"
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
# Helpers of the steps that count the PF's traffic (here and in watch.sh).
# listen OUT N [SECONDS]: a kernel UDP socket on 10.99.0.2:5001 expects N
# datagrams (labsend -listen in the background, its output in OUT, its pid
# in CNTPID); returns once it is counting.
listen() {
  timeout "${3:-120}" /usr/bin/labsend -listen 10.99.0.2:5001 -expect "$2" > "$1" 2>&1 &
  CNTPID=$!
  i=0
  while [ $i -lt 100 ] && ! grep -q 'counting datagrams' "$1"; do sleep 0.2; i=$((i + 1)); done
}
# got OUT: the datagrams labsend says it received.
got() { sed -n 's/^labsend: received \([0-9]*\) datagrams.*/\1/p' "$1"; }
# qpk Q: the packets RX queue Q of the PF received (ethtool -S).
qpk() { /usr/sbin/ethtool -S "$PF" | awk -v q="rx_queue_$1_packets:" '$1 == q {print $2}'; }
# channels: the PF's combined channels (ethtool -l).
channels() { /usr/sbin/ethtool -l "$PF" | awk '/Current hardware settings/{c=1} c && /^Combined:/{print $2; exit}'; }
# on1of: the entries on queue 1 of the ethtool -x output on stdin; on1: of
# the PF's table now.
on1of() { awk '/^ *[0-9]+: / {for (i = 2; i <= NF; i++) if ($i == 1) n++} END {print n + 0}'; }
on1() { /usr/sbin/ethtool -x "$PF" | on1of; }

# lab.only=watch (LAB_ONLY=watch lab/lab.sh): the watch steps alone.
if grep -q 'lab\.only=watch' /proc/cmdline; then . /watch.sh; exit 0; fi

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
# The split: while rx runs on VF 0, labsend also sends datagrams to the
# PF's own MAC and 10.99.0.2, which a kernel UDP socket on the PF counts.
PFDG=$(sed -n 's/.*lab\.pfdgrams=\([0-9]*\).*/\1/p' /proc/cmdline)
/usr/sbin/ip addr add 10.99.0.2/24 dev "$PF"
UDPERR0=$(awk '/^Udp: [0-9]/{print $6}' /proc/net/snmp)
/usr/bin/labsend -listen 10.99.0.2:5001 > /tmp/count.out 2>&1 &
CNTPID=$!
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
kill -TERM $CNTPID; wait $CNTPID
sed 's/^/  /' /tmp/count.out
PFGOT=$(sed -n 's/^labsend: received \([0-9]*\) datagrams.*/\1/p' /tmp/count.out)
echo "  $PF RX (bytes packets errors dropped ...): $(/usr/sbin/ip -s link show "$PF" | sed -n '4p'); UDP RcvbufErrors +$(( $(awk '/^Udp: [0-9]/{print $6}' /proc/net/snmp) - UDPERR0 ))"
if [ -n "$PFDG" ] && [ "$PFDG" -gt 0 ] && [ "$PFGOT" = "$PFDG" ] && [ "$GOT" = "$FRAMES" ]; then
  step split true "while rx ran on VF 0 it counted exactly $GOT of $FRAMES frames to the VF's MAC, and a kernel UDP socket on the PF exactly $PFGOT of $PFDG datagrams to 10.99.0.2"
else
  step split false "VF counted ${GOT:-none} of $FRAMES; PF socket counted ${PFGOT:-none} of $PFDG"
fi
/usr/sbin/ip addr del 10.99.0.2/24 dev "$PF"

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

# Queue mode on the igb PF (no VFs now): the kernel spreads UDP flows from
# varied sources over its RSS queues (igb hashes UDP on addresses), so both
# of its queues receive. Under -smp 1 (the stall fallback) igb has one
# queue and the step cannot show it: it says so instead of passing.
QDG=$(sed -n 's/.*lab\.qdgrams=\([0-9]*\).*/\1/p' /proc/cmdline)
CH=$(channels)
/usr/sbin/ip addr add 10.99.0.2/24 dev "$PF"
A0=$(qpk 0); A1=$(qpk 1)
listen /tmp/q.out "$QDG"
echo "LAB: queue ready"
wait $CNTPID
B0=$(qpk 0); B1=$(qpk 1)
sed 's/^/  /' /tmp/q.out
QGOT=$(got /tmp/q.out)
D0=$(( ${B0:-0} - ${A0:-0} )); D1=$(( ${B1:-0} - ${A1:-0} ))
echo "  $PF: $CH combined channel(s); ethtool -S rx_queue_0_packets +$D0, rx_queue_1_packets +$D1"
if [ "${CH:-0}" -lt 2 ]; then
  skip queue-rss-spread "igb has ${CH:-no} combined channel(s) here (the guest runs with $(grep -c ^processor /proc/cpuinfo) vCPU, the -smp 1 stall fallback?): one queue cannot show RSS spreading; the kernel socket got ${QGOT:-none} of $QDG"
elif [ "$QGOT" = "$QDG" ] && [ "$D0" -gt 0 ] && [ "$D1" -gt 0 ]; then
  step queue-rss-spread true "a kernel UDP socket on $PF got all $QGOT datagrams from varied sources; both RSS queues received (ethtool -S: queue 0 +$D0, queue 1 +$D1)"
else
  step queue-rss-spread false "socket got ${QGOT:-none} of $QDG; ethtool -S queue 0 +$D0, queue 1 +$D1 ($CH channels)"
fi

# Queue mode proper: up --mode queue --queue 1 takes queue 1 out of the RSS
# indirection table; the kernel still gets every datagram, none on queue 1;
# rx --queue 1 (net_af_xdp) runs on the hidden queue and counts 0; down
# restores the table byte for byte (ethtool -x before and after).
T0=$(/usr/sbin/ethtool -x "$PF" 2>&1)
echo "$T0" | sed 's/^/  /'
run up "$PF" --mode queue --queue 1 -o json
URC=$RC
T1=$(/usr/sbin/ethtool -x "$PF" 2>&1)
echo "$T1" | sed 's/^/  /'
ON1=$(echo "$T1" | on1of)
ROWS=$(echo "$T1" | grep -cE '^ *[0-9]+: ')
if [ "${CH:-0}" -lt 2 ]; then
  skip queue-up "igb has ${CH:-no} combined channel(s) here: no queue 1 to hide (up rc=$URC)"
elif [ $URC = 0 ] && [ "$ROWS" -gt 0 ] && [ "$ON1" = 0 ]; then
  step queue-up true "up --mode queue --queue 1: no entry of the $((ROWS * 8))-entry indirection table points at queue 1 (ethtool -x)"
else
  step queue-up false "up rc=$URC; $ON1 table entries still point at queue 1: $(head -1 /tmp/err)"
fi
if [ "${CH:-0}" -ge 2 ]; then
  echo "LAB\$ vfbypass rx --pf $PF --queue 1 --duration 120s -o json"
  $V rx --pf "$PF" --queue 1 --duration 120s -o json > /tmp/rxq.json 2> /tmp/rxq.err &
  RXPID=$!
  i=0
  while [ $i -lt 600 ] && kill -0 $RXPID 2>/dev/null && ! grep -q 'receiving on' /tmp/rxq.err; do sleep 0.2; i=$((i + 1)); done
  # Attaching a native XDP program resets igb: wait for the link.
  i=0
  while [ $i -lt 100 ] && [ "$(cat /sys/class/net/$PF/operstate)" != up ]; do sleep 0.2; i=$((i + 1)); done
  sleep 2
  A0=$(qpk 0); A1=$(qpk 1)
  listen /tmp/q2.out "$QDG"
  echo "LAB: queue hidden"
  wait $CNTPID
  B0=$(qpk 0); B1=$(qpk 1)
  sleep 1
  kill -INT $RXPID; wait $RXPID; RXRC=$?
  sed 's/^/  /' /tmp/q2.out /tmp/rxq.json; grep -v '^EAL\|^TELEMETRY\|^lib' /tmp/rxq.err | tail -5 | sed 's/^/  /'
  QGOT=$(got /tmp/q2.out)
  RXGOT=$(sed -n 's/^  "packets": \([0-9]*\).*/\1/p' /tmp/rxq.json)
  MODE=$(sed -n 's/.*; \(AF_XDP [^;]*\); stop with SIGINT/\1/p' /tmp/rxq.err)
  D0=$(( ${B0:-0} - ${A0:-0} )); D1=$(( ${B1:-0} - ${A1:-0} ))
  if [ "$RXRC" = 0 ] && [ "$QGOT" = "$QDG" ] && [ "$D1" = 0 ] && [ "$D0" -gt 0 ] && [ "$RXGOT" = 0 ] && [ -n "$MODE" ]; then
    step queue-rx true "kernel socket got all $QGOT datagrams, queue 0 +$D0, hidden queue 1 +0; rx --queue 1 on net_af_xdp ($MODE) counted 0"
  else
    step queue-rx false "rx rc=$RXRC counted ${RXGOT:-none} ($MODE); socket ${QGOT:-none} of $QDG; queue 0 +$D0, queue 1 +$D1: $(grep -v '^EAL\|^lib' /tmp/rxq.err | grep -i 'error\|vfbypass:' | head -1)"
  fi
else
  skip queue-rx "igb has ${CH:-no} combined channel(s) here: no hidden queue to receive from"
fi
run down "$PF" -o json
DRC=$RC
T2=$(/usr/sbin/ethtool -x "$PF" 2>&1)
if [ $DRC = 0 ] && [ "$T2" = "$T0" ]; then
  step queue-down true "down restored the indirection table byte for byte (ethtool -x identical)"
else
  step queue-down false "down rc=$DRC; ethtool -x differs: $(echo "$T2" | sed -n '2,3p')"
fi
/usr/sbin/ip addr del 10.99.0.2/24 dev "$PF"

run status "$PF"

# vfbypass watch against a link flap and an ethtool -L (lab/watch.sh).
. /watch.sh
