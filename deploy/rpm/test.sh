#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test.sh RPMDIR VERSION: checks of the RPMs make rpm built, with rpm -qp:
# vfbypass-rx requires DPDK's libraries, glibc's symbol version, the dpdk
# package (the PMDs) and vfbypass of the same build; the scripts reload
# systemd, stop the receive loops and the watchers on erase only, remove
# every template unit's enablement links on erase and restart nothing; the
# example config is a config(noreplace) file; the license is Apache-2.0 and
# its text is in /usr/share/licenses; no PowerShell completion. Then the
# version order of deploy/version-order.txt by rpm's own vercmp.
set -euo pipefail
dir=$1 version=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "test-rpm: FAIL: $*" >&2; exit 1; }
rpmq() { rpm -qp --nosignature "$@" 2>/dev/null; }
cli=$(ls "$dir/vfbypass-$version"-1.*.rpm) rx=$(ls "$dir/vfbypass-rx-$version"-1.*.rpm) ||
  fail "no vfbypass and vfbypass-rx $version RPMs in $dir (make rpm)"

req=$(rpmq --requires "$rx")
for want in 'librte_eal.so.23()(64bit)' 'librte_ethdev.so.23()(64bit)' dpdk "vfbypass = $version-1" 'libc.so.6(GLIBC_2.34)(64bit)'; do
  grep -qxF "$want" <<<"$req" || fail "vfbypass-rx does not require $want; it requires: $(paste -sd, <<<"$req")"
done
scripts=$(rpmq --scripts "$rx")
grep -q "stop 'vfbypass-rx@\*.service'" <<<"$scripts" || fail "vfbypass-rx's scripts do not stop the receive loops: $scripts"
scripts=$(rpmq --scripts "$cli")
grep -q "stop 'vfbypass-watch@\*.service'" <<<"$scripts" || fail "vfbypass's scripts do not stop the watchers: $scripts"
grep -qF "UNITS='vfbypass-watch vfbypass'" <<<"$scripts" || fail "vfbypass's %postun does not remove the links of vfbypass@ and vfbypass-watch@: $scripts"
for p in "$cli" "$rx"; do
  s=$(rpmq --scripts "$p")
  grep -q 'systemctl --system daemon-reload' <<<"$s" || fail "$(basename "$p"): no daemon-reload in its scripts"
  ! grep -Eq 'systemctl[^|]*(restart|try-restart|reload-or-restart|start )' <<<"$s" || fail "$(basename "$p"): its scripts restart units: $s"
  [ "$(rpmq --qf '%{LICENSE}' "$p")" = Apache-2.0 ] || fail "$(basename "$p"): license $(rpmq --qf '%{LICENSE}' "$p")"
  ! rpmq -l "$p" | grep -Ei 'powershell|\.ps1$' || fail "$(basename "$p") ships a PowerShell completion"
done
grep -qx /etc/vfbypass/eth3.yaml.example <<<"$(rpmq --configfiles "$cli")" || fail "vfbypass: /etc/vfbypass/eth3.yaml.example is not a config file"
# The list is read once: grep -q stops at its first match, and under
# pipefail the SIGPIPE of a writer still writing would fail the check.
files=$(rpmq -l "$cli")
for f in /usr/lib/systemd/system/vfbypass@.service /usr/lib/systemd/system/vfbypass-watch@.service \
  /usr/lib/vfbypass/vfbypass-sim /usr/share/licenses/vfbypass/LICENSE; do
  grep -qx "$f" <<<"$files" || fail "vfbypass: no $f"
done
echo "test-rpm: $(basename "$rx") requires $(grep -c . <<<"$req") capabilities, DPDK's sonames and dpdk among them; scripts reload and stop loops and watchers on erase only"

while read -r lo hi; do
  plo=$("$top/deploy/pkg-version.sh" "$lo") phi=$("$top/deploy/pkg-version.sh" "$hi")
  [ "$(rpm --eval "%{lua: print(rpm.vercmp('$plo', '$phi'))}")" = -1 ] || fail "rpm sorts $plo (from $lo) at or above $phi (from $hi)"
done < "$top/deploy/version-order.txt"
echo "test-rpm: ok: rpm sorts the versions of deploy/version-order.txt as they were made"
