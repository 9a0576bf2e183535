#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: bring a PF's VF bypass up or down with the vfbypass CLI."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vfbypass
short_description: Configure SR-IOV VFs, vfio-pci binding and ntuple rules with vfbypass
version_added: "0.1.0"
description:
  - "Runs C(vfbypass up --config - -- PF) or C(vfbypass down --missing-ok -- PF) with C(-o json)
    and reports what the tool reports; its refusals name this module's options
    (C(recreate: true), not C(--recreate))."
  - C(up) converges in place, so running the module again with the same C(config) changes
    nothing, and a changed MAC, VLAN, trust, spoof check, driver or rule is applied without
    recreating the VFs. A different VF count needs C(recreate=true).
  - In check mode the module passes C(--dry-run), changes nothing, and reports C(changed) as the
    tool predicts it for the real run.
  - "In diff mode the tool's per-field C(diff) (C(numvfs), C(vfK.mac), C(rule@LOC), ...) is shown
    as one C(field: value) line per field, before and after."
  - The host needs the vfbypass binary (the C(vfbypass) package or a copy, see the
    C(vfbypass.vfbypass.vfbypass) role); the module itself uses only Python's standard library.
author:
  - vfbypass developers
options:
  pf:
    description:
      - The physical function's network interface, for example C(eth3). 1 to 15 bytes without
        C(/), C(:) or whitespace, as the kernel allows; it is passed after C(--), so a name
        starting with C(-) is never read as a flag.
    type: str
    required: true
  state:
    description:
      - C(up) applies C(config); C(down) undoes everything vfbypass applied to C(pf) and returns
        the PF to its state before the first C(up). C(down) on a PF that is not up changes nothing.
    type: str
    choices: [up, down]
    default: up
  config:
    description:
      - The request, with the keys of vfbypass's config file (see docs/config.md), for example
        C(vfs), C(driver), C(vf) (a list of C(index), C(mac), C(vlan), C(qos), C(trust),
        C(spoofchk)) and C(rules) (a list of C(flow) and C(vf)/C(queue)).
      - It is handed to the tool on standard input as JSON; C(pf) may be left out (C(pf) is given
        on the command line), and the tool refuses a C(pf) that differs from C(pf).
      - Required when C(state=up); ignored when C(state=down).
    type: dict
  recreate:
    description:
      - Allow a change of the VF count. That removes all VFs and resets the PF (its link drops)
        and reinstalls the rules; without it such a change fails and nothing is touched.
    type: bool
    default: false
  binary:
    description:
      - The vfbypass executable, a path or a name looked up on C(PATH) (and C(/usr/local/bin),
        C(/usr/sbin)).
    type: path
    default: vfbypass
  host_root:
    description:
      - Root under which sysfs, procfs and /dev are found (C(--host-root)). A directory made by
        C(vfbypass sim init) is a simulated host, which is how the module is tested.
    type: path
  state_dir:
    description:
      - Directory of vfbypass's journals (C(--state-dir)); the tool's default is
        C(/run/vfbypass).
    type: path
notes:
  - Supports check mode and diff mode.
  - The tool's exit code decides failure, never the module; exit code 2 means the request was
    refused and nothing changed, 1 that the run failed and was rolled back, 3 that the rollback
    could not finish (run C(state=down) after fixing the cause).
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    platforms: posix
    support: full
requirements:
  - vfbypass on the managed host
seealso:
  - name: vfbypass JSON output
    description: The fields of the C(result) this module returns.
    link: https://github.com/vfbypass/vfbypass/blob/main/docs/json.md
  - name: vfbypass config file
    description: The keys of C(config).
    link: https://github.com/vfbypass/vfbypass/blob/main/docs/config.md
"""

EXAMPLES = r"""
- name: two VFs on eth3, VF 0 for DPDK with its MAC and a capture flow steered to it
  vfbypass.vfbypass.vfbypass:
    pf: eth3
    config:
      vfs: 2
      driver: vfio-pci
      vf:
        - index: 0
          mac: "02:00:00:00:00:01"
          trust: true
      rules:
        - vf: 0
          queue: 0
          flow: flow-type tcp4 dst-ip 192.168.254.30 dst-port 80

- name: grow to four VFs (removes and recreates the VFs, the PF's link drops)
  vfbypass.vfbypass.vfbypass:
    pf: eth3
    recreate: true
    config:
      vfs: 4

- name: give eth3 back to the kernel as it was
  vfbypass.vfbypass.vfbypass:
    pf: eth3
    state: down
"""

RETURN = r"""
result:
  description:
    - The tool's JSON result (docs/json.md), for example C(steps), C(vfs), C(warnings),
      C(dry_run), C(diff) and, on failure, C(error).
  returned: when the tool printed JSON
  type: dict
  sample:
    changed: true
    pf: eth3
    dry_run: false
    diff:
      - {field: vf0.mac, before: "00:00:00:00:00:00", after: "02:00:00:00:00:01"}
    steps:
      - {id: vf0-config, action: "configure VF 0 on eth3: mac 02:00:00:00:00:01", status: applied}
msg:
  description:
    - On failure the tool's C(error.message) and C(error.fix); otherwise a one-line summary.
  returned: always
  type: str
  sample: "eth3 up: 6 steps applied"
cmd:
  description: The command line that was run.
  returned: always
  type: list
  elements: str
  sample: [vfbypass, -o, json, up, --config, "-", "--", eth3]
rc:
  description: The tool's exit code.
  returned: always
  type: int
  sample: 0
stderr:
  description: The tool's standard error (progress and warnings never go to stdout with C(-o json)).
  returned: always
  type: str
  sample: ""
"""

import json
import os
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule

# Directories searched besides PATH: make install's default prefix and sbin.
BIN_DIRS = ["/usr/local/bin", "/usr/sbin", "/usr/local/sbin"]


def find_binary(module):
    """Return the vfbypass executable's path, failing with the fix when absent."""
    binary = module.params["binary"]
    if os.path.sep in binary:
        if not os.access(binary, os.X_OK):
            module.fail_json(
                msg="vfbypass executable %s is not there or not executable: install the vfbypass "
                "package (or use the vfbypass.vfbypass.vfbypass role), or set binary to its path" % binary
            )
        return binary
    path = module.get_bin_path(binary, opt_dirs=BIN_DIRS)
    if path is None:
        module.fail_json(
            msg="vfbypass executable %r not found on PATH or in %s: install the vfbypass package "
            "(or use the vfbypass.vfbypass.vfbypass role), or set binary to its path"
            % (binary, ", ".join(BIN_DIRS))
        )
    return path


# IFNAMSIZ (include/uapi/linux/if.h) less the terminating NUL.
IFNAME_MAX = 15


def pf_problem(pf):
    """Why pf cannot be a network interface name, or None.

    The kernel's rules (dev_valid_name, net/core/dev.c): 1 to 15 bytes, not
    "." or "..", no "/", ":" or whitespace. A name may start with "-", so
    the module passes it after "--", never where a flag could be read.
    """
    if not pf:
        return "it is empty"
    if len(pf.encode("utf-8")) > IFNAME_MAX:
        return "it is longer than %d bytes" % IFNAME_MAX
    if pf in (".", ".."):
        return "it is %r" % pf
    bad = [c for c in pf if c in "/:" or c.isspace()]
    if bad:
        return "it contains %r" % bad[0]
    return None


def build_command(module, binary):
    """Return (argv, stdin data) for the requested state: flags first, then
    "--" and the PF, so that no PF name is read as a flag."""
    p = module.params
    argv = [binary]
    if p["host_root"]:
        argv += ["--host-root", p["host_root"]]
    if p["state_dir"]:
        argv += ["--state-dir", p["state_dir"]]
    argv += ["-o", "json"]
    data = None
    if p["state"] == "up":
        argv += ["up", "--config", "-"]
        if p["recreate"]:
            argv.append("--recreate")
        data = json.dumps(p["config"], sort_keys=True)
    else:
        argv += ["down", "--missing-ok"]
    if module.check_mode:
        argv.append("--dry-run")
    return argv + ["--", p["pf"]], data


VFS_FLAG = re.compile(r"--vfs (\d+)")

# The tool's flags in its fixes, as this module's options and config keys.
MODULE_TERMS = [
    (re.compile(r"\bpass --recreate\b"), "set recreate: true"),
    (re.compile(r"--recreate\b"), "recreate: true"),
    (VFS_FLAG, r"vfs: \1"),
    (re.compile(r"--state-dir\b"), "state_dir"),
    (re.compile(r"--host-root\b"), "host_root"),
    (re.compile(r"--config\b"), "config"),
    (re.compile(r"'?vfbypass down (\S+?)'?(?=[\s,;)]|$)"), r"state: down for pf \1"),
]


def module_terms(text):
    """Say a fix of the tool's in the module's terms (recreate: true, not
    --recreate), so a playbook's author knows what to change."""
    for pat, repl in MODULE_TERMS:
        text = pat.sub(repl, text)
    return text


def run(module, argv, data):
    """Run argv with data on its standard input; return (rc, stdout, stderr).

    Popen.communicate, not module.run_command: run_command fails with EPIPE,
    losing the tool's exit code and JSON error, when the tool exits before
    reading its input (a refused argument, a vfbypass without --config -).
    """
    try:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        module.fail_json(msg="cannot run %s: %s" % (argv[0], e), cmd=argv)
    out, err = p.communicate(input=None if data is None else data.encode("utf-8"))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def natural_key(field):
    """Sort key that puts vf2 before vf10 and rule@9 before rule@10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", field)]


def render_diff(entries):
    """Turn the tool's [{field, before, after}] into Ansible's before/after text."""
    before, after = [], []
    for e in sorted(entries or [], key=lambda e: natural_key(str(e.get("field", "")))):
        field = str(e.get("field", ""))
        before.append(("%s: %s" % (field, e.get("before", ""))).rstrip())
        after.append(("%s: %s" % (field, e.get("after", ""))).rstrip())
    return {
        "before": "".join(line + "\n" for line in before),
        "after": "".join(line + "\n" for line in after),
    }


def error_text(result):
    """The tool's error message and fix as one line, or None."""
    err = result.get("error") if isinstance(result, dict) else None
    if not isinstance(err, dict):
        return None
    # The message may quote the PF, whose name may look like a flag: only
    # the fix is said again in the module's terms, and the VF count.
    parts = []
    if err.get("message"):
        parts.append(VFS_FLAG.sub(r"vfs: \1", str(err["message"])))
    if err.get("fix"):
        parts.append(module_terms(str(err["fix"])))
    return ": ".join(parts) if parts else None


def summary(pf, state, result, check_mode):
    """One line saying what happened, from the tool's message or steps."""
    if result.get("message"):
        return str(result["message"])
    if not result.get("changed"):
        return "%s is %s, nothing to change" % (pf, state)
    verb = {"up": ("applied", "would be applied"), "down": ("undone", "would be undone")}[state][bool(check_mode)]
    n = len([s for s in result.get("steps") or [] if s.get("status") in ("applied", "undone", "would-apply", "would-undo")])
    if n == 0:
        return "%s %s: changes %s" % (pf, state, verb)
    return "%s %s: %d step%s %s" % (pf, state, n, "" if n == 1 else "s", verb)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pf=dict(type="str", required=True),
            state=dict(type="str", choices=["up", "down"], default="up"),
            config=dict(type="dict"),
            recreate=dict(type="bool", default=False),
            binary=dict(type="path", default="vfbypass"),
            host_root=dict(type="path"),
            state_dir=dict(type="path"),
        ),
        required_if=[("state", "up", ["config"])],
        supports_check_mode=True,
    )
    why = pf_problem(module.params["pf"])
    if why:
        module.fail_json(msg="pf %r is not a network interface name: %s; give the PF's name as 'ip link' shows it, e.g. eth3"
                         % (module.params["pf"], why))
    argv, data = build_command(module, find_binary(module))
    rc, out, err = run(module, argv, data)
    ret = dict(cmd=argv, rc=rc, stderr=err, changed=False)
    try:
        result = json.loads(out)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        module.fail_json(
            msg="%s printed no JSON result (exit code %d): %s" % (argv[0], rc, (err or out).strip()), **ret
        )
    ret["result"] = result
    # Also on failure: exit 3 (rollback incomplete) leaves the host changed.
    ret["changed"] = bool(result.get("changed"))
    if rc != 0:
        msg = error_text(result) or "%s exited %d: %s" % (argv[0], rc, err.strip())
        module.fail_json(msg=msg, **ret)
    for w in result.get("warnings") or []:
        module.warn(str(w))
    if module._diff:
        ret["diff"] = render_diff(result.get("diff"))
    ret["msg"] = summary(module.params["pf"], module.params["state"], result, module.check_mode)
    module.exit_json(**ret)


if __name__ == "__main__":
    main()
