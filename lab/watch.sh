# The watch steps, sourced by lab/scenario.sh after the queue steps (or
# alone with lab.only=watch): vfbypass watch on the real igb PF, against a
# PF link flap in VF mode and an `ethtool -L` in queue mode. Each step does
# its own up and down. Uses scenario.sh's helpers, $PF, $DEV and $V.
[ -d /sys/module/vfio_pci ] || insmod /lib/modules/vfio-pci.ko || echo "LAB: insmod vfio-pci FAILED"
/usr/sbin/ip link set lo up
WFRAMES=$(sed -n 's/.*lab\.frames=\([0-9]*\).*/\1/p' /proc/cmdline)
WPFDG=$(sed -n 's/.*lab\.pfdgrams=\([0-9]*\).*/\1/p' /proc/cmdline)
WQDG=$(sed -n 's/.*lab\.qdgrams=\([0-9]*\).*/\1/p' /proc/cmdline)
WMET=http://127.0.0.1:9102/metrics

# watch_start: vfbypass watch on $PF, its records in /tmp/watch.jsonl;
# returns once its first reconcile is done (its metrics count it; the
# state file may be an earlier watcher's).
watch_start() {
  echo "LAB\$ vfbypass watch $PF -o jsonl --metrics-addr 127.0.0.1:9102 &"
  $V watch "$PF" -o jsonl --metrics-addr 127.0.0.1:9102 > /tmp/watch.jsonl 2> /tmp/watch.err &
  WPID=$!
  waitfor 300 reconciled
}
reconciled() { [ "$(metric vfbypass_watch_reconciles_total)" -ge 1 ] 2>/dev/null; }
# watch_stop: SIGTERM; the watcher's exit code in WRC, its log printed.
watch_stop() {
  kill -TERM $WPID 2>/dev/null; wait $WPID; WRC=$?
  sed 's/^/  watch: /' /tmp/watch.jsonl /tmp/watch.err | tail -15
}
# metric NAME: the watcher's value of the metric whose line starts with NAME.
metric() { wget -qO- "$WMET" 2>/dev/null | awk -v m="$1" 'index($0, m) == 1 {print $2; exit}'; }
waitfor() { # tries(0.2 s each) command...: until the command succeeds
  n=$1; shift; i=0
  while [ $i -lt "$n" ] && ! "$@"; do sleep 0.2; i=$((i + 1)); done
  "$@"
}
linkup() { [ "$(cat /sys/class/net/$PF/operstate)" = up ]; }

# watch-vf-flap: VF mode, rx on VF 0, the watcher running. labsend sends
# the VF its frames and the PF its datagrams once before and once after
# someone takes the PF's link down and up. The watcher must get the link
# events, reconcile and find nothing drifted (igb keeps VF MAC, trust and
# its filters across a flap); the VF must count both batches, the PF's
# socket both. igb's own reset stops the VF's receive (igb_down calls
# igb_reset, which pings the VFs and writes VFRE 0 until the VF driver
# asks for a reset): rx must see the reset (the PMD's reset event, or the
# link down and up) and restart its port, whose start resets the VF, and
# say so on stderr before the second batch is sent.
run up "$PF" --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust -o json
URC=$RC
watch_start
/usr/sbin/ip addr add 10.99.0.2/24 dev "$PF"
echo "LAB\$ vfbypass rx --pf $PF --vf 0 --duration 600s -o json &"
$V rx --pf "$PF" --vf 0 --duration 600s -o json > /tmp/wrx.json 2> /tmp/wrx.err &
RXPID=$!
i=0
while [ $i -lt 300 ] && kill -0 $RXPID 2>/dev/null && ! grep -q 'receiving on' /tmp/wrx.err; do sleep 0.2; i=$((i + 1)); done
listen /tmp/wcount-before.out "$WPFDG" 300
echo "LAB: watch rx ready"
wait $CNTPID
sleep 2
L0=$(metric 'vfbypass_watch_events_total{kind="link"'); R0=$(metric vfbypass_watch_reconciles_total)
echo "LAB\$ ip link set $PF down; ip link set $PF up"
/usr/sbin/ip link set "$PF" down; /usr/sbin/ip link set "$PF" up
waitfor 150 linkup
# The watcher's reconcile after the flap's events (debounced).
moved() { [ "$(metric 'vfbypass_watch_events_total{kind="link"')" != "$L0" ] && [ "$(metric vfbypass_watch_reconciles_total)" != "$R0" ]; }
waitfor 100 moved
sleep 1
L1=$(metric 'vfbypass_watch_events_total{kind="link"'); R1=$(metric vfbypass_watch_reconciles_total)
DRIFT=$(metric vfbypass_watch_drift_fields)
run status "$PF" --check
SRC=$RC
# The last restart line, once it is not one to be tried again.
restarted() { grep 'rx: restarted port' /tmp/wrx.err | tail -1 | grep -qv 'trying again'; }
waitfor 300 restarted
RSTLINE=$(grep 'rx: restarted port' /tmp/wrx.err | tail -1)
listen /tmp/wcount-after.out "$WPFDG" 300
echo "LAB: watch flapped"
wait $CNTPID
sleep 2
kill -INT $RXPID; wait $RXPID; RXRC=$?
sed 's/^/  /' /tmp/wcount-before.out /tmp/wcount-after.out /tmp/wrx.json; grep -v '^EAL\|^TELEMETRY' /tmp/wrx.err | tail -5 | sed 's/^/  /'
GOT=$(sed -n 's/^  "packets": \([0-9]*\).*/\1/p' /tmp/wrx.json)
RST=$(sed -n 's/^  "restarts": \([0-9]*\).*/\1/p' /tmp/wrx.json)
PF1=$(got /tmp/wcount-before.out); PF2=$(got /tmp/wcount-after.out)
watch_stop
/usr/sbin/ip addr del 10.99.0.2/24 dev "$PF"
run down "$PF" -o json
DRC=$RC
W="the watcher got ${L1:-?} link events (${L0:-0} before the flap), reconciled ${R1:-?} times (${R0:-?} before), ${DRIFT:-?} fields drifted after it, status --check rc=$SRC; the PF's socket got ${PF1:-none} and ${PF2:-none} of $WPFDG datagrams before and after"
OK=no
[ $URC = 0 ] && [ "$PF1" = "$WPFDG" ] && [ "$PF2" = "$WPFDG" ] && [ "${L1:-0}" -gt "${L0:-0}" ] && [ "$DRIFT" = 0 ] && [ $SRC = 0 ] && [ $DRC = 0 ] && [ "$RXRC" = 0 ] && OK=yes
if [ $OK = yes ] && [ "$GOT" = $((2 * WFRAMES)) ] && [ "${RST:-0}" -ge 1 ]; then
  step watch-vf-flap true "rx on VF 0 counted all $GOT frames, $WFRAMES before and $WFRAMES after the flap, with $RST port restart(s): '${RSTLINE#rx: restarted port }'; $W"
else
  step watch-vf-flap false "up rc=$URC; rx rc=$RXRC counted ${GOT:-none} of $((2 * WFRAMES)) ($WFRAMES before the flap, $WFRAMES after), port restarts ${RST:-none} ('${RSTLINE:-no restart line}'); $W; down rc=$DRC"
fi

# watch-queue-repair: queue mode on the PF without VFs, the watcher
# running and no receiver on queue 1; someone else's ethtool -L combined 1
# then 2 makes igb refill its table with the default (igb_setup_mrqc), which
# puts queue 1 back into RSS; the watcher writes the hidden table again.
# The latency is the watcher's, from the first event to the table written;
# then varied-source datagrams: queue 1 +0, the kernel socket gets all.
CH=$(channels)
hidden() { [ "$(on1)" = 0 ]; }
if [ "${CH:-0}" -lt 2 ]; then
  skip watch-queue-repair "igb has ${CH:-no} combined channel(s) here: no queue 1 to hide"
  echo "LAB: watch repaired"
else
  run up "$PF" --mode queue --queue 1 -o json
  URC=$RC
  watch_start
  echo "LAB\$ ethtool -L $PF combined 1; ethtool -L $PF combined 2"
  /usr/sbin/ethtool -L "$PF" combined 1; L1RC=$?
  /usr/sbin/ethtool -L "$PF" combined 2; L2RC=$?
  T=$(on1)
  waitfor 150 hidden
  waitfor 150 linkup
  sleep 1
  REC=$(grep '"field":"rss.indir"' /tmp/watch.jsonl | grep '"result":"repaired"' | tail -1)
  LAT=$(echo "$REC" | sed -n 's/.*"latency_ms":\([0-9.]*\).*/\1/p')
  TRIG=$(echo "$REC" | sed -n 's/.*"trigger":"\([^"]*\)".*/\1/p')
  ON=$(on1)
  /usr/sbin/ip addr add 10.99.0.2/24 dev "$PF"
  A0=$(qpk 0); A1=$(qpk 1)
  listen /tmp/wq.out "$WQDG"
  echo "LAB: watch repaired"
  wait $CNTPID
  B0=$(qpk 0); B1=$(qpk 1)
  sed 's/^/  /' /tmp/wq.out
  QGOT=$(got /tmp/wq.out)
  D0=$(( ${B0:-0} - ${A0:-0} )); D1=$(( ${B1:-0} - ${A1:-0} ))
  /usr/sbin/ip addr del 10.99.0.2/24 dev "$PF"
  run down "$PF" -o json
  DRC=$RC
  watch_stop
  D="ethtool -L combined 1 rc=$L1RC, combined 2 rc=$L2RC (ethtool -x right after: $T entries on queue 1); the watcher wrote the hidden table again ${LAT:-?} ms after the first event ('$TRIG', latency_ms of its rss.indir repair); then $ON entries on queue 1; socket ${QGOT:-none} of $WQDG, queue 0 +$D0, queue 1 +$D1; down rc=$DRC, watcher rc=$WRC"
  if [ $URC = 0 ] && [ $L1RC = 0 ] && [ $L2RC = 0 ] && [ -n "$LAT" ] && [ "${TRIG#event }" != "$TRIG" ] && [ "$ON" = 0 ] && [ "$QGOT" = "$WQDG" ] && [ "$D1" = 0 ] && [ $DRC = 0 ] && [ "$WRC" = 0 ]; then
    step watch-queue-repair true "$D"
  else
    step watch-queue-repair false "up rc=$URC; $D"
  fi
fi
