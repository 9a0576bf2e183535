#!/usr/bin/env bash
# A quick look at vfbypass on a simulated 82599 host: doctor, up (dry run,
# then for real, then again: nothing changes), status, steer, down, status.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VFBYPASS:-./bin/vfbypass}
work=$(mktemp -d "${TMPDIR:-/tmp}/vfbypass-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
host=$work/host state=$work/state
v() { printf '\n\033[1m$ vfbypass %s\033[0m\n' "$*"; "$bin" --host-root "$host" --state-dir "$state" "$@"; }

"$bin" sim init "$host" --pf eth3 --model 82599 --total-vfs 63
# The host as the tests compare it (vfbypass sim snapshot): every path with
# its content, without the lock files, which stay once made as /run/lock
# files do, and without the simulator's event feed, a log.
tree() { "$bin" sim snapshot "$host"; }
before=$(tree)
v doctor eth3 || true
v up eth3 --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust --dry-run
v up eth3 --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust
v up eth3 --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust -o json | grep '"changed"'
v status eth3
v steer add eth3 --vf 0 flow-type tcp4 dst-ip 192.168.254.30 dst-port 80
v steer add eth3 flow-type tcp4 dst-ip 192.168.254.31 dst-port 80 action 4294967296
v steer add eth3 --vf 1 flow-type tcp4 dst-ip 192.168.254.0 m 0.0.0.255 dst-port 443 ||
  echo "(exit $?: ixgbe takes one field mask per port; the message names the fields that differ)"
v steer list eth3
v up eth3 --vfs 4 || echo "(exit $?: a different request on a PF that is up is refused)"
v down eth3
v status eth3
after=$(tree)
if [ "$before" != "$after" ]; then
  echo "the simulated host differs from where it started:" >&2
  diff <(echo "$before") <(echo "$after") >&2
  exit 1
fi
echo -e "\nthe simulated host is back to exactly where it started"
