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
