#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test.sh DEBDIR VERSION: checks of the packages make deb built in DEBDIR:
#  - lintian (errors fail; accepted overrides: deploy/debian/*.lintian-overrides);
#  - the version order deploy/pkg-version.sh gives, by dpkg --compare-versions;
#  - control fields: vfbypass-rx depends on the 82599 VF's PMD, conffiles;
#  - reproducible: a second make install and mkdeb.sh give the same bytes;
#  - as root, where they are not installed yet, in a private mount namespace
#    whose /run/systemd/system says systemd runs (systemctl is a stub that
#    logs its calls): install, upgrade to a newer build (an edited conffile
#    stays; the only systemctl call is daemon-reload: no unit is stopped,
#    restarted or re-applied), remove (the receive loops and the watchers
#    are stopped, the PFs left alone), purge (no file, enablement link or
#    /etc/vfbypass left).
set -euo pipefail
dir=$1 version=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
arch=$(dpkg --print-architecture)
deb() { echo "$dir/${1}_${version}_$arch.deb"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
debs=("$(deb vfbypass)" "$(deb vfbypass-rx)")
for d in "${debs[@]}"; do [ -f "$d" ] || fail "no $d (make deb)"; done

if [ -z "${VFBYPASS_DEB_NS:-}" ]; then
  echo "test-deb: lintian ${debs[*]}"
  lintian --fail-on error --tag-display-limit 0 "${debs[@]}" 2> >(grep -v 'running with root privileges' >&2)

  # Versions as git describe writes them: each pair in the order made.
  while read -r lo hi; do
    plo=$("$top/deploy/pkg-version.sh" "$lo") phi=$("$top/deploy/pkg-version.sh" "$hi")
    dpkg --compare-versions "$plo" lt "$phi" || fail "dpkg sorts $plo (from $lo) at or above $phi (from $hi)"
  done < "$top/deploy/version-order.txt"
  echo "test-deb: dpkg sorts the versions of deploy/version-order.txt as they were made"

  rxdeps=$(dpkg-deb -f "$(deb vfbypass-rx)" Depends)
  grep -q 'librte-net-ixgbe23' <<<"$rxdeps" || fail "vfbypass-rx does not depend on librte-net-ixgbe23: $rxdeps"
  [ "$(dpkg-deb --ctrl-tarfile "$(deb vfbypass)" | tar -xO ./conffiles)" = /etc/vfbypass/eth3.yaml.example ] ||
    fail "vfbypass's conffiles are not /etc/vfbypass/eth3.yaml.example"
  ! dpkg-deb -c "$(deb vfbypass)" | grep -Ei 'powershell|\.ps1$' || fail "vfbypass ships a PowerShell completion"

  # Reproducible: the same tree built again, elsewhere, is the same bytes.
  again=$(mktemp -d "${TMPDIR:-/tmp}/vfbypass-deb.XXXXXX")
  trap 'rm -rf "$again"' EXIT
  make --no-print-directory -s -o deps -C "$top" install DESTDIR="$again/stage" PREFIX=/usr UNITDIR=/lib/systemd/system \
    BIN="$again/bin/vfbypass" RXBIN="$again/bin/vfbypass-rx" SIMBIN="$again/bin/vfbypass-sim" MANBUILD="$again/man" COMPBUILD="$again/completion" >/dev/null
  "$here/mkdeb.sh" "$again/stage" "$again/deb" "$version" >/dev/null
  for d in "${debs[@]}"; do
    cmp "$d" "$again/deb/$(basename "$d")" || fail "a second build of $(basename "$d") differs"
  done
  echo "test-deb: reproducible: a second build is the same bytes ($(sha256sum "${debs[@]}" | cut -c1-12 | paste -sd' '))"
  # The upgrade's packages: the same tree as a newer version.
  "$here/mkdeb.sh" "$again/stage" "$again/up" "$version+1" >/dev/null

  if [ "$(id -u)" != 0 ]; then
    echo "test-deb: SKIP install/upgrade/remove/purge: needs root (dpkg -i)"; exit 0
  fi
  for p in vfbypass vfbypass-rx; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
      echo "test-deb: SKIP install/upgrade/remove/purge: $p is already installed on this host, and the test would replace it"; exit 0
    fi
  done
  if ! unshare -m true 2>/dev/null; then
    echo "test-deb: SKIP install/upgrade/remove/purge: no private mount namespace (unshare -m) for the systemd stub"; exit 0
  fi
  VFBYPASS_DEB_NS=$again unshare -m --propagation private "$0" "$@"
  exit
fi

# In the namespace: /run (a tmpfs) and /etc/systemd/system are the test's
# own, systemd "runs" (/run/systemd/system), systemctl logs its calls.
ns=$VFBYPASS_DEB_NS
mkdir -p "$ns/etc-systemd" "$ns/stub"
mount -t tmpfs -o mode=0755 vfbypass-test /run && mkdir -p /run/systemd/system /run/vfbypass
mount --bind "$ns/etc-systemd" /etc/systemd/system
echo '{"journal of a configured PF": true}' > /run/vfbypass/eth3.json
# A container's policy-rc.d forbids starting and stopping services.
if [ -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 0\n' > "$ns/policy-rc.d" && chmod 0755 "$ns/policy-rc.d"
  mount --bind "$ns/policy-rc.d" /usr/sbin/policy-rc.d
fi
log=$ns/systemctl.log
printf '#!/bin/sh\necho "$*" >> %s\n' "$log" > "$ns/stub/systemctl" && chmod 0755 "$ns/stub/systemctl"
export PATH=$ns/stub:$PATH
# dpkg, waiting (up to 10 minutes, as make deps' apt-get) while another
# dpkg or apt holds its lock: it takes the lock before it changes anything.
dpkgw() {
  local out i
  for i in $(seq 120); do
    if out=$(dpkg "$@" 2>&1); then return 0; fi
    grep -q 'frontend lock\|database lock' <<<"$out" || { echo "$out" >&2; return 1; }
    [ "$i" -gt 1 ] || echo "test-deb: waiting for the dpkg lock" >&2
    sleep 5
  done
  echo "$out" >&2; return 1
}
calls() { if [ -f "$log" ]; then paste -sd';' "$log"; fi; rm -f "$log"; }
purge() { dpkgw --purge vfbypass-rx vfbypass || true; }
trap purge EXIT

dpkgw -i "${debs[@]}"
[ "$(calls)" = "--system daemon-reload;--system daemon-reload" ] || fail "install: systemctl calls are not daemon-reload alone"
out=$(/usr/bin/vfbypass version)
grep -q '^vfbypass-rx .*DPDK 22\.11' <<<"$out" || fail "vfbypass version found no vfbypass-rx with its DPDK version: $out"
for f in /usr/share/man/man1/vfbypass-up.1.gz /usr/share/man/man1/vfbypass-rx.1.gz /lib/systemd/system/vfbypass@.service \
    /lib/systemd/system/vfbypass-watch@.service /lib/systemd/system/vfbypass-rx@.service /usr/share/bash-completion/completions/vfbypass /usr/share/doc/vfbypass/examples/eth3.yaml \
    /etc/vfbypass/eth3.yaml.example /etc/vfbypass/eth3.rx.env.example; do
  [ -e "$f" ] || fail "$f not installed"
done
# What an administrator does: edit the example, write configs, enable instances.
echo '# edited' >> /etc/vfbypass/eth3.yaml.example
cp /usr/share/doc/vfbypass/examples/eth3.yaml /etc/vfbypass/eth3.yaml
cp /usr/share/doc/vfbypass/examples/eth3.rx.env /etc/vfbypass/eth3.rx.env
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -s /lib/systemd/system/vfbypass@.service /etc/systemd/system/multi-user.target.wants/vfbypass@eth3.service
ln -s /lib/systemd/system/vfbypass-rx@.service /etc/systemd/system/multi-user.target.wants/vfbypass-rx@eth3.service
ln -s /lib/systemd/system/vfbypass-watch@.service /etc/systemd/system/multi-user.target.wants/vfbypass-watch@eth3.service

dpkgw -i "$ns/up/vfbypass_$version+1_$arch.deb" "$ns/up/vfbypass-rx_$version+1_$arch.deb"
[ "$(dpkg-query -W -f='${Version}' vfbypass)" = "$version+1" ] || fail "upgrade: vfbypass is not $version+1"
c=$(calls)
[ "$c" = "--system daemon-reload;--system daemon-reload" ] || fail "upgrade: systemctl was called for more than daemon-reload: $c"
tail -1 /etc/vfbypass/eth3.yaml.example | grep -q '^# edited$' || fail "upgrade: the edited conffile /etc/vfbypass/eth3.yaml.example was replaced"
[ -f /run/vfbypass/eth3.json ] || fail "upgrade: /run/vfbypass/eth3.json (a configured PF's journal) is gone"
echo "test-deb: upgrade: edited conffile kept, journal kept, systemctl: $c"

files=$( (dpkg -L vfbypass; dpkg -L vfbypass-rx) | while read -r f; do [ -d "$f" ] || echo "$f"; done)
dpkgw --remove vfbypass-rx vfbypass
c=$(calls)
grep -q "stop vfbypass-rx@\*.service" <<<"$c" || fail "remove: the receive loops were not stopped: $c"
grep -q "stop vfbypass-watch@\*.service" <<<"$c" || fail "remove: the watchers were not stopped: $c"
! grep -Eq "(stop|restart) vfbypass@" <<<"$c" || fail "remove: a vfbypass@ unit was stopped (a PF torn down): $c"
[ -f /run/vfbypass/eth3.json ] || fail "remove: /run/vfbypass/eth3.json is gone"
[ -f /etc/vfbypass/eth3.yaml.example ] || fail "remove: the conffile went before purge"
echo "test-deb: remove: systemctl: $c"

dpkgw --purge vfbypass-rx vfbypass
trap - EXIT
left=$(for f in $files; do [ ! -e "$f" ] || echo "$f"; done)
[ -z "$left" ] || fail "left after purge: $left"
[ ! -e /etc/vfbypass ] || fail "/etc/vfbypass left after purge: $(ls -A /etc/vfbypass)"
[ -z "$(find /etc/systemd/system -name 'vfbypass-watch@*')" ] || fail "a vfbypass-watch@ enablement link left after purge"
links=$(find /etc/systemd/system -name 'vfbypass*')
[ -z "$links" ] || fail "enablement links left after purge: $links"
echo "test-deb: ok: installed, upgraded, removed, purged ($(wc -l <<<"$files") files, the configs and the enablement links gone)"
