"""Unit tests of the vfbypass module's pure parts: the diff text Ansible
shows and the message taken from the tool's error. Run by run.sh with the
Python that runs ansible-core."""

import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "..", "..", "deploy", "ansible", "plugins", "modules", "vfbypass.py")
spec = importlib.util.spec_from_file_location("vfbypass_module", PATH)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)


class Run(unittest.TestCase):
    def test_output_kept_when_the_tool_ignores_its_input(self):
        # A tool that exits without reading stdin: exit code and output survive.
        rc, out, err = mod.run(None, ["/bin/sh", "-c", "echo '{\"a\": 1}'; echo oops >&2; exit 2"], "x" * 1000000)
        self.assertEqual((rc, out, err), (2, '{"a": 1}\n', "oops\n"))

    def test_stdin_reaches_the_tool(self):
        self.assertEqual(mod.run(None, ["/bin/cat"], '{"vfs": 2}'), (0, '{"vfs": 2}', ""))


class RenderDiff(unittest.TestCase):
    def test_one_line_per_field_sorted_naturally(self):
        d = mod.render_diff([
            {"field": "vf10.mac", "before": "a", "after": "b"},
            {"field": "vf2.mac", "before": "c", "after": "d"},
            {"field": "numvfs", "before": "2", "after": "12"},
            {"field": "rule@2045", "before": "", "after": "flow-type tcp4 dst-port 80 vf 0 queue 0"},
        ])
        self.assertEqual(d["before"], "numvfs: 2\nrule@2045:\nvf2.mac: c\nvf10.mac: a\n")
        self.assertEqual(d["after"], "numvfs: 12\nrule@2045: flow-type tcp4 dst-port 80 vf 0 queue 0\n"
                         "vf2.mac: d\nvf10.mac: b\n")

    def test_nothing_differs(self):
        self.assertEqual(mod.render_diff([]), {"before": "", "after": ""})
        self.assertEqual(mod.render_diff(None), {"before": "", "after": ""})


class ErrorText(unittest.TestCase):
    def test_message_and_fix(self):
        r = {"error": {"message": "--vf 7: out of range", "fix": "choose 0 or 1", "exit_code": 2}}
        self.assertEqual(mod.error_text(r), "--vf 7: out of range: choose 0 or 1")

    def test_message_without_fix(self):
        self.assertEqual(mod.error_text({"error": {"message": "lock held"}}), "lock held")

    def test_no_error(self):
        self.assertIsNone(mod.error_text({"changed": False}))


class ModuleTerms(unittest.TestCase):
    def test_the_tools_flags_become_module_options(self):
        r = {"error": {"message": "eth3 has 2 VFs set up by vfbypass; --vfs 4 cannot be done in place",
                       "fix": "pass --recreate to accept that, or keep --vfs 2"}}
        self.assertEqual(mod.error_text(r), "eth3 has 2 VFs set up by vfbypass; vfs: 4 cannot be done in place: "
                         "set recreate: true to accept that, or keep vfs: 2")
        self.assertNotIn("--", mod.module_terms("pass a writable --state-dir (default /run/vfbypass)"))
        # A PF named like a flag stays as it is in the message.
        r = {"error": {"message": "PF --recreate: no such network interface", "fix": "check the name"}}
        self.assertEqual(mod.error_text(r), "PF --recreate: no such network interface: check the name")
        self.assertEqual(mod.module_terms("run 'vfbypass down eth3' after fixing the cause"),
                         "run state: down for pf eth3 after fixing the cause")


class FakeModule(object):
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(host_root=None, state_dir=None, recreate=False, config={"vfs": 2}, state="up")
        self.params.update(params)


class BuildCommand(unittest.TestCase):
    def test_pf_goes_after_double_dash(self):
        argv, data = mod.build_command(FakeModule(pf="--recreate", recreate=True), "vfbypass")
        self.assertEqual(argv, ["vfbypass", "-o", "json", "up", "--config", "-", "--recreate", "--", "--recreate"])
        self.assertEqual(data, '{"vfs": 2}')
        argv, data = mod.build_command(FakeModule(True, pf="eth3", state="down", state_dir="/s"), "vfbypass")
        self.assertEqual(argv, ["vfbypass", "--state-dir", "/s", "-o", "json", "down", "--missing-ok", "--dry-run", "--", "eth3"])
        self.assertIsNone(data)

    def test_pf_must_be_an_interface_name(self):
        for pf in ["eth3", "-x", "cap-p0", "a" * 15]:
            self.assertIsNone(mod.pf_problem(pf), pf)
        for pf in ["", ".", "..", "a/b", "eth3:1", "eth 3", "a" * 16]:
            self.assertIsNotNone(mod.pf_problem(pf), pf)


class Summary(unittest.TestCase):
    def test_counts_steps_grammatically(self):
        r = {"changed": True, "steps": [{"status": "applied"}, {"status": "already"}]}
        self.assertEqual(mod.summary("eth3", "up", r, False), "eth3 up: 1 step applied")
        r["steps"].append({"status": "applied"})
        self.assertEqual(mod.summary("eth3", "up", r, False), "eth3 up: 2 steps applied")
        d = {"changed": True, "steps": [{"status": "would-undo"}]}
        self.assertEqual(mod.summary("eth3", "down", d, True), "eth3 down: 1 step would be undone")

    def test_unchanged(self):
        self.assertEqual(mod.summary("eth3", "down", {"changed": False}, True), "eth3 is down, nothing to change")


if __name__ == "__main__":
    unittest.main()
