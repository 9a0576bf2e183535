#!/bin/bash
# test.sh DEBDIR: lintian on the packages make deb built (errors fail; the
# accepted overrides are in deploy/debian/*.lintian-overrides), then, as root
# on a host where they are not installed yet: install both with dpkg, run
# the installed binaries, purge both and check that none of their files is
# left.
set -euo pipefail
dir=$1
debs=("$dir"/vfbypass_*.deb "$dir"/vfbypass-rx_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || { echo "test-deb: no $d (make deb)" >&2; exit 1; }; done

echo "test-deb: lintian ${debs[*]}"
lintian --fail-on error --tag-display-limit 0 "${debs[@]}" 2> >(grep -v 'running with root privileges' >&2)

if [ "$(id -u)" != 0 ]; then
  echo "test-deb: SKIP install/purge: needs root (dpkg -i)"; exit 0
fi
for p in vfbypass vfbypass-rx; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    echo "test-deb: SKIP install/purge: $p is already installed on this host, and the test would replace it"; exit 0
  fi
done

purge() { dpkg --purge vfbypass-rx vfbypass >/dev/null 2>&1 || true; }
trap purge EXIT
dpkg -i "${debs[@]}" >/dev/null
out=$(/usr/bin/vfbypass version)
echo "$out" | sed 's/^/test-deb: installed: /'
echo "$out" | grep -q '^vfbypass ' || { echo "test-deb: vfbypass version printed no vfbypass line" >&2; exit 1; }
echo "$out" | grep -q '^vfbypass-rx .*DPDK 22\.11' || { echo "test-deb: vfbypass version found no vfbypass-rx with its DPDK version" >&2; exit 1; }
/usr/bin/vfbypass version -o json | grep -q '"program": "vfbypass-rx"'
for f in /usr/share/man/man1/vfbypass-up.1.gz /usr/share/man/man1/vfbypass-rx.1.gz /lib/systemd/system/vfbypass@.service \
    /lib/systemd/system/vfbypass-rx@.service /usr/share/bash-completion/completions/vfbypass /usr/share/doc/vfbypass/examples/eth3.yaml; do
  [ -e "$f" ] || { echo "test-deb: $f not installed" >&2; exit 1; }
done

files=$( (dpkg -L vfbypass; dpkg -L vfbypass-rx) | while read -r f; do [ -d "$f" ] || echo "$f"; done)
dpkg --purge vfbypass-rx vfbypass >/dev/null
trap - EXIT
left=$(for f in $files; do [ ! -e "$f" ] || echo "$f"; done)
[ -z "$left" ] || { echo "test-deb: left after purge: $left" >&2; exit 1; }
[ ! -e /etc/vfbypass ] || { echo "test-deb: /etc/vfbypass left after purge" >&2; exit 1; }
echo "test-deb: ok: lintian clean, installed, vfbypass version from /usr/bin, purged ($(echo "$files" | wc -l) files gone)"
