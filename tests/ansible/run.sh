#!/usr/bin/env bash
# Tests the vfbypass Ansible collection (deploy/ansible) with Debian's
# ansible-core against simulated hosts: the module's pure functions pass
# their unit tests, the collection builds and installs, ansible-lint's
# production profile passes,
# ansible-doc renders the module and the role, the example fleet playbook
# parses, the module's play (tests/ansible/module.yml) passes its asserts,
# and the role (tests/ansible/role.yml) is idempotent, honest in check mode,
# shows a diff and restores the host byte-identical with state down.
# VFBYPASS overrides the binary under test (default bin/vfbypass-sim, the
# build with the simulator: the role installs it on each simulated host).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin=${VFBYPASS:-$repo/bin/vfbypass-sim}
work=$(mktemp -d "${TMPDIR:-/tmp}/vfbypass-ansible.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_LOCALHOST_WARNING=0 \
  ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
  ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCAL_TEMP="$work/tmp" \
  ANSIBLE_REMOTE_TEMP="$work/tmp" ANSIBLE_HOME="$work/home" ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_PIPELINING=1 \
  PYTHONDONTWRITEBYTECODE=1 ANSIBLE_CACHE_PLUGIN=jsonfile ANSIBLE_CACHE_PLUGIN_CONNECTION="$work/facts"
passed=0 failed=0
pass() { echo "ansible: ok   $1 (${SECONDS}s)"; passed=$((passed + 1)); }
fail() { echo "ansible: FAIL $1 (${SECONDS}s)"; failed=$((failed + 1)); }

CGO_ENABLED=0 go build -o "$work/hostsnap" ./tests/ansible/hostsnap

# The module's diff text, message and summary, with the Python that runs
# ansible-core (ansible-playbook's interpreter).
py=$(sed -n '1s/^#! *//p' "$(command -v ansible-playbook)")
if out=$(${py:-python3} -m unittest tests/ansible/test_module.py 2>&1); then
  pass "module: diff text, error message, summary ($(grep -o 'Ran [0-9]* tests' <<<"$out"))"
else
  echo "$out"; fail "module: diff text, error message, summary"
fi

# The collection as a user installs it: built from galaxy.yml, installed.
# (Installing is unpacking it where ansible-galaxy install would.)
coll=$work/collections/ansible_collections/vfbypass/vfbypass
if ansible-galaxy collection build deploy/ansible --output-path "$work" >"$work/galaxy.log" 2>&1 &&
  mkdir -p "$coll" && tar -xzf "$work"/vfbypass-vfbypass-*.tar.gz -C "$coll" &&
  [ -f "$coll/MANIFEST.json" ] && [ -f "$coll/plugins/modules/vfbypass.py" ]; then
  pass "collection builds and installs"
else
  cat "$work/galaxy.log"; fail "collection builds and installs"; exit 1
fi

# ansible-lint's production profile (Debian's ansible-lint, APT_PACKAGES in
# mk/ansible.mk), offline, on the collection, with the installed
# collection on ANSIBLE_COLLECTIONS_PATH so the module's name resolves.
if ! command -v ansible-lint >/dev/null; then
  echo "ansible: skip ansible-lint --profile production (ansible-lint is not installed: make deps installs Debian's package)"
elif out=$(cd deploy/ansible && ansible-lint --offline --nocolor --profile production 2>&1); then
  pass "ansible-lint --profile production"
else
  echo "$out"; fail "ansible-lint --profile production"
fi

doc=$(ansible-doc vfbypass.vfbypass.vfbypass 2>&1) || true
if grep -q '^= pf' <<<"$doc" && grep -q 'recreate' <<<"$doc" && grep -q '^EXAMPLES' <<<"$doc" &&
  grep -q '^RETURN VALUES' <<<"$doc" && grep -q 'check_mode' <<<"$doc"; then
  pass "ansible-doc renders the module"
else
  echo "$doc"; fail "ansible-doc renders the module"
fi
rdoc=$(ansible-doc -t role vfbypass.vfbypass.vfbypass 2>&1) || true
if grep -q 'vfbypass_pf' <<<"$rdoc"; then pass "ansible-doc renders the role"; else echo "$rdoc"; fail "ansible-doc renders the role"; fi

if out=$(ansible-playbook --syntax-check -i deploy/ansible/examples/inventory.ini deploy/ansible/examples/site.yml 2>&1); then
  pass "example fleet playbook and inventory parse"
else
  echo "$out"; fail "example fleet playbook and inventory parse"
fi

# The module's play: its asserts are the test.
"$bin" sim init "$work/m/host" --pf eth3 --model 82599 >/dev/null
if out=$(ansible-playbook -i localhost, tests/ansible/module.yml -e bin="$bin" -e snap="$work/hostsnap" \
  -e simdir="$work/m/host" -e statedir="$work/m/state" 2>&1) &&
  grep -q 'failed=0 ' <<<"$out"; then
  pass "module: check mode, idempotence, diff, recreate, errors, down byte-identical"
else
  echo "$out"; fail "module: check mode, idempotence, diff, recreate, errors, down byte-identical"
fi

# The role, run as an operator would: check, apply, again, diff, down.
r=$work/r
"$bin" sim init "$r/host" --pf eth3 --model 82599 >/dev/null
"$work/hostsnap" "$r/host" >"$work/orig.snap"
role() {
  ansible-playbook -i localhost, tests/ansible/role.yml -e bin="$bin" -e work="$r" \
    -e simdir="$r/host" -e statedir="$r/state" "$@" 2>&1
}
# step NAME CHANGED ARGS...: run the role; the play must pass with CHANGED
# changed tasks ("+": at least one); then the caller checks the host.
step() {
  local name=$1 want=$2 line rc=0
  shift 2
  out=$(role "$@") || rc=$?
  line=$(grep -E '^localhost +:' <<<"$out") || true
  if [ "$rc" -ne 0 ] || ! grep -q 'failed=0 ' <<<"$line" ||
    { [ "$want" = "+" ] && grep -q 'changed=0 ' <<<"$line"; } ||
    { [ "$want" != "+" ] && ! grep -q "changed=$want " <<<"$line"; }; then
    echo "$out"; fail "$name (want changed=$want: ${line:-no recap})"; return 1
  fi
}
# verdict NAME OK: pass when OK is 0, else show the play's output.
verdict() { if [ "$2" -eq 0 ]; then pass "$1"; else echo "$out"; fail "$1"; fi; }
same_host() { "$work/hostsnap" "$r/host" | cmp -s - "$1"; }

name="role: check mode on a fresh host changes nothing and says it cannot predict the apply"
if step "$name" + --check --diff; then
  ok=0; { same_host "$work/orig.snap" && [ ! -e "$r/usr/bin/vfbypass" ] && [ ! -e "$r/etc/vfbypass/eth3.yaml" ] &&
    grep -q 'vfbypass is not installed yet' <<<"$out"; } || ok=1
  verdict "$name" $ok
fi

name="role: first run installs, writes eth3.yaml and applies"
if step "$name" +; then
  ok=0; { ! same_host "$work/orig.snap" && [ -x "$r/usr/bin/vfbypass" ] && grep -q '^pf: eth3' "$r/etc/vfbypass/eth3.yaml"; } || ok=1
  verdict "$name" $ok
  "$work/hostsnap" "$r/host" >"$work/up.snap"
  ok=0; { grep -A1 "Enable the PF's vfbypass@ unit" <<<"$out" | grep -q '^skipping'; } || ok=1
  verdict "role: the unit is not enabled where systemd is not the service manager" $ok
fi

# The unit the role installed, its ExecStart run as systemd would at boot
# (on the simulator): it applies the same request, so nothing changes.
name="role: the installed unit's ExecStart finds the PF as the role left it"
unit=$r/systemd/vfbypass@.service
start=$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null | sed 's/%[iI]/eth3/g')
if [ "${start%% *}" = "$r/usr/bin/vfbypass" ] && grep -q -- "--config $r/etc/vfbypass/eth3.yaml" <<<"$start" &&
  out=$(${start%% *} --host-root "$r/host" --state-dir "$r/state" -o json ${start#* } 2>&1) &&
  grep -q '"changed": false' <<<"$out" && same_host "$work/up.snap"; then
  pass "$name"
else
  echo "$unit: ${start:-no ExecStart}"; echo "$out"; fail "$name"
fi

# The watcher's unit, copied beside it with the same rewrites.
name="role: vfbypass-watch@.service is installed, naming the copied binary and config dir"
wunit=$r/systemd/vfbypass-watch@.service
if grep -q "^ExecStart=$r/usr/bin/vfbypass watch " "$wunit" 2>/dev/null &&
  grep -q "^EnvironmentFile=-$r/etc/vfbypass/%I.watch.env$" "$wunit"; then
  pass "$name"
else
  echo "$wunit: $(grep -E '^(ExecStart|EnvironmentFile)=' "$wunit" 2>&1)"; fail "$name"
fi

name="role: second run changes nothing"
if step "$name" 0; then
  ok=0; { same_host "$work/up.snap"; } || ok=1
  verdict "$name" $ok
  # The first run gathered service_mgr; the fact cache keeps it.
  ok=0; { grep -A1 'Learn the service manager' <<<"$out" | grep -q '^skipping'; } || ok=1
  verdict "role: the second run gathers no facts (the fact cache has service_mgr)" $ok
fi

name="role: --check --diff shows the new MAC in the config file and on the VF, changes nothing"
if step "$name" + --check --diff -e capture_vf0_mac=02:00:00:00:00:09; then
  ok=0; { same_host "$work/up.snap" && grep -q '^-vf0.mac: 02:00:00:00:00:01' <<<"$out" &&
    grep -q '^+vf0.mac: 02:00:00:00:00:09' <<<"$out" && grep -q '^+ *mac: 02:00:00:00:00:09' <<<"$out" &&
    grep -q '02:00:00:00:00:01' "$r/etc/vfbypass/eth3.yaml"; } || ok=1
  verdict "$name" $ok
fi

name="role: state down restores the host byte-identical and removes eth3.yaml"
if step "$name" + -e vfbypass_state=down; then
  ok=0; { same_host "$work/orig.snap" && [ ! -e "$r/etc/vfbypass/eth3.yaml" ]; } || ok=1
  verdict "$name" $ok
fi

echo "ansible: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
