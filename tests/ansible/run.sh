#!/usr/bin/env bash
# Runs the Ansible playbook against a fresh simulated host and checks the
# recap: the play must pass, with exactly three changed tasks (up, the
# first steer add, down).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/vfbypass-ansible.XXXXXX)
trap 'rm -rf "$work"' EXIT
./bin/vfbypass sim init "$work/host" >/dev/null
out=$(ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 \
  ansible-playbook -i localhost, tests/ansible/idempotence.yml \
  -e bin="$PWD/bin/vfbypass" -e simdir="$work/host" -e statedir="$work/state" 2>&1) || { echo "$out"; exit 1; }
recap=$(echo "$out" | grep -E '^localhost')
echo "ansible: $recap"
echo "$recap" | grep -q 'changed=3 ' && echo "$recap" | grep -q 'failed=0 ' || { echo "$out"; exit 1; }
echo "ansible: 1 passed, 0 failed"
