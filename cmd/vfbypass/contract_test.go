package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// The exit-code contract, checked after a run that met a fault (a kernel
// error, a full state directory, a signal):
//
//   - exit 1 (failed, rolled back) and 2 (bad input): the host and the
//     state directory are as they were before the run;
//   - exit 0: the host is as a clean run leaves it;
//   - exit 3 (rollback incomplete): the error names what is left, and the
//     host is not as it was (something is left);
//
// and whatever the exit, 'vfbypass down' (at most twice) brings the host
// back to what it was before the first up, and leaves no journal.

// contractScenario is one command of the contract matrices and what sets
// it up. "@" at the start of an argument is the scenario's directory
// (where files are written).
type contractScenario struct {
	name   string
	files  map[string]string
	before [][]string
	args   []string
}

const (
	contractA = "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    mac: 02:00:00:00:00:01\nrules:\n  - vf: 0\n    flow: flow-type tcp4 dst-port 80\n  - vf: 1\n    flow: flow-type tcp4 dst-port 81\n"
	contractB = "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    mac: 02:00:00:00:00:01\nrules:\n  - vf: 0\n    flow: flow-type tcp4 dst-port 80\n  - vf: 1\n    flow: flow-type tcp4 dst-port 82\n"
)

func contractScenarios() []contractScenario {
	up := []string{"up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "02:00:00:00:00:01", "--trust"}
	upq := []string{"up", "eth3", "--mode", "queue", "--queue", "2"}
	rule := []string{"steer", "add", "eth3", "--vf", "1", "flow-type", "tcp4", "dst-port", "80", "loc", "7"}
	down := []string{"down", "eth3"}
	return []contractScenario{
		{name: "up-vf", args: up},
		{name: "up-queue", args: upq},
		{name: "up-in-place", before: [][]string{up},
			args: []string{"up", "eth3", "--vfs", "2", "--vf", "0,1", "--mac", "02:00:00:00:00:0a", "--mac", "02:00:00:00:00:0b", "--vlan", "5", "--trust"}},
		{name: "up-config-change", files: map[string]string{"a.yaml": contractA, "b.yaml": contractB},
			before: [][]string{{"up", "--config", "@/a.yaml"}}, args: []string{"up", "--config", "@/b.yaml"}},
		{name: "up-recreate", before: [][]string{up, rule},
			args: []string{"up", "eth3", "--vfs", "3", "--vf", "0", "--mac", "02:00:00:00:00:01", "--trust", "--recreate"}},
		{name: "steer-add", before: [][]string{up}, args: rule},
		{name: "steer-del", before: [][]string{up, rule}, args: []string{"steer", "del", "eth3", "7"}},
		{name: "steer-clear", before: [][]string{up, rule}, args: []string{"steer", "clear", "eth3"}},
		{name: "down-vf", before: [][]string{up, rule}, args: down},
		{name: "down-queue", before: [][]string{upq}, args: down},
	}
}

// contractHost is a scenario set up once: its directory (h: the host, s:
// the state directory, and its files), the host before the first up, and
// the host and state directory before the command.
type contractHost struct {
	contractScenario
	dir                     string
	pristine, host0, state0 string
	// clean is the host after a run without faults; calls, the simulated
	// kernel calls that run made.
	clean string
	calls int
}

// at replaces the "@" of args with dir.
func at(dir string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "@") {
			a = dir + a[1:]
		}
		out[i] = a
	}
	return out
}

// prepareContract runs a scenario's set-up in a new directory.
func prepareContract(t *testing.T, s contractScenario) *contractHost {
	t.Helper()
	c := &contractHost{contractScenario: s, dir: t.TempDir()}
	root := filepath.Join(c.dir, "h")
	if code, _, e := vfb("sim", "init", root); code != 0 {
		t.Fatalf("sim init: %s", e)
	}
	for name, text := range s.files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.pristine = snapshot(t, root)
	for _, b := range s.before {
		if code, _, e := c.vfb(c.dir, b...); code != 0 {
			t.Fatalf("%s: %v: exit %d: %s", s.name, b, code, e)
		}
	}
	c.host0, c.state0 = snapshot(t, root), snapshot(t, filepath.Join(c.dir, "s"))
	return c
}

// vfb runs args on the host in dir.
func (c *contractHost) vfb(dir string, args ...string) (int, string, string) {
	return vfb(append([]string{"--host-root", filepath.Join(dir, "h"), "--state-dir", filepath.Join(dir, "s")}, at(dir, args)...)...)
}

// copyTo copies the prepared scenario to a new directory.
func (c *contractHost) copyTo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := copyTree(c.dir, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// check holds a run that ended with code and output out (the command's
// JSON, or its stderr) in dir against the contract: "" when it holds, else
// what broke.
func (c *contractHost) check(t *testing.T, dir string, code int, out string) string {
	t.Helper()
	root, state := filepath.Join(dir, "h"), filepath.Join(dir, "s")
	if strings.Contains(out, "panic") {
		return "panicked: " + firstLines(out, 6)
	}
	host, st := snapshot(t, root), snapshot(t, state)
	switch code {
	case 0:
		if host != c.clean {
			return "exit 0, but the host is not as a clean run leaves it: " + firstDiff(c.clean, host)
		}
	case 1, 2:
		if host != c.host0 {
			return fmt.Sprintf("exit %d, but the host changed: %s", code, firstDiff(c.host0, host))
		}
		if st != c.state0 {
			return fmt.Sprintf("exit %d, but the state directory changed: %s", code, firstDiff(c.state0, st))
		}
	case 3:
		if !strings.Contains(out, "still applied") && !strings.Contains(out, "left") {
			return "exit 3 without a list of what is left"
		}
		if host == c.host0 {
			return "exit 3, but the host is as it was: nothing is left"
		}
		if u := c.leftUnnamed(t, dir, out); len(u) > 0 {
			return fmt.Sprintf("exit 3, but its list leaves out what the journal still holds: %s", strings.Join(u, ", "))
		}
	default:
		return fmt.Sprintf("exit %d is not in the contract", code)
	}
	return c.downRestores(t, dir)
}

// downRestores runs down (twice at most) and checks that the host is back
// to what it was before the first up, without a journal.
func (c *contractHost) downRestores(t *testing.T, dir string) string {
	t.Helper()
	for i := 0; ; i++ {
		code, _, e := c.vfb(dir, "down", "eth3", "--missing-ok")
		if code == 0 {
			break
		}
		if i == 1 {
			return fmt.Sprintf("down twice still fails: exit %d: %s", code, firstLines(e, 3))
		}
	}
	if got := snapshot(t, filepath.Join(dir, "h")); got != c.pristine {
		return "down did not restore the host: " + firstDiff(c.pristine, got)
	}
	if _, err := os.Stat(filepath.Join(dir, "s", "eth3.json")); !errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("down left the journal (%v)", err)
	}
	return ""
}

// runJSON runs the scenario's command with -o json in dir: its exit code
// and what it said (the JSON's error, or stderr when there is no JSON).
func (c *contractHost) runJSON(dir string) (int, string) {
	code, out, e := c.vfb(dir, append([]string{"-o", "json"}, c.args...)...)
	var r struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(out), &r) == nil && r.Error != nil {
		return code, r.Error.Message + "\n" + e
	}
	return code, out + e
}

// countCallsIn arms a fault that never fires and returns how many
// simulated kernel calls a clean run of the scenario makes, and the host
// it leaves.
func (c *contractHost) countCallsIn(t *testing.T) {
	t.Helper()
	dir := c.copyTo(t)
	root := filepath.Join(dir, "h")
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "*", Match: "*", After: 1 << 30, Errno: 5}); err != nil {
		t.Fatal(err)
	}
	if code, out := c.runJSON(dir); code != 0 {
		t.Fatalf("%s without faults: exit %d: %s", c.name, code, out)
	}
	b, err := os.ReadFile(filepath.Join(root, hostsim.MarkerDir, "faults.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs []hostsim.Fault
	if err := json.Unmarshal(b, &fs); err != nil || len(fs) != 1 {
		t.Fatalf("faults.json: %v %s", err, b)
	}
	c.calls, c.clean = fs[0].Hits, snapshot(t, root)
}

// leftUnnamed returns what the journal in dir still holds of the run's
// changes (a step not undone, a rule record, that differs from the
// journal before the run in c.dir) and the exit-3 message out does not
// name: the step's id, or the rule's location. down's list is every
// record left, since down undoes them all.
func (c *contractHost) leftUnnamed(t *testing.T, dir, out string) []string {
	t.Helper()
	type rec struct {
		Steps []struct {
			ID    string          `json:"id"`
			State string          `json:"state"`
			Undo  json.RawMessage `json:"undo"`
		} `json:"steps"`
		Rules []struct {
			Location uint32 `json:"location"`
			Spec     string `json:"spec"`
			State    string `json:"state"`
		} `json:"rules"`
	}
	load := func(d string) rec {
		var r rec
		b, err := os.ReadFile(filepath.Join(d, "s", "eth3.json"))
		if errors.Is(err, os.ErrNotExist) {
			return r
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("journal after the run: %v", err)
		}
		return r
	}
	before, after := load(c.dir), load(dir)
	isDown := c.args[0] == "down"
	was := map[string]bool{}
	for _, s := range before.Steps {
		was[s.ID+s.State+string(s.Undo)] = true
	}
	for _, r := range before.Rules {
		was[fmt.Sprint(r.Location, r.Spec, r.State)] = true
	}
	var unnamed []string
	for _, s := range after.Steps {
		if s.State == "undone" || (!isDown && was[s.ID+s.State+string(s.Undo)]) {
			continue
		}
		if !strings.Contains(out, s.ID) {
			unnamed = append(unnamed, "step "+s.ID)
		}
	}
	for _, r := range after.Rules {
		if !isDown && was[fmt.Sprint(r.Location, r.Spec, r.State)] {
			continue
		}
		if !strings.Contains(out, fmt.Sprint(r.Location)) {
			unnamed = append(unnamed, fmt.Sprintf("rule %d", r.Location))
		}
	}
	return unnamed
}
