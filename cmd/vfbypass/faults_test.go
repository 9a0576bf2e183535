package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// The built binary under strace with one failing syscall, aimed at one path
// (strace -P), on a simulated host: the exit code follows the contract, the
// message names the path and the errno, exit 1 leaves the host and the state
// directory as they were, and after exit 3 a plain down finishes the undo.
func TestSyscallFaults(t *testing.T) {
	t.Parallel()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	bin := buildBinary(t)
	if out, err := exec.Command(strace, "-qq", "-e", "trace=none", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (%v): %s", err, out)
	}
	const mac = "02:00:00:00:00:01"
	up := []string{"up", "eth3", "--vfs", "2", "--vf", "0", "--mac", mac, "--trust"}
	cases := []faultCase{
		// The first journal save's directory fsync fails after its
		// rename: the journal must not stay behind.
		{"up: journal dir fsync", nil, up, "s", "fsync", "EIO", 1, "input/output error", ""},
		// Creating VF 1's files fails inside sriov_numvfs: no half VF.
		{"up: VF creation", nil, up, "h/sys/devices/pci0000:00/0000:00:03.0/0000:04:10.3/vendor", "openat", "ENOSPC", 1, "no space left on device", ""},
		// The rule table cannot be written: the insert fails, nothing left.
		{"steer add: rule table", up, []string{"steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
			"h/" + hostsim.MarkerDir + "/fdir-eth3.tbl.tmp", "openat", "EIO", 1, "input/output error", ""},
		// The journal cannot confirm the inserted rule (its second save
		// fails): the rule is deleted again and exit 1 leaves all as it was.
		{"steer add: confirm", up, []string{"steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
			"s/eth3.json", "renameat", "EIO", 1, "confirm the rules in the journal", "2"},
		// The vfio node cannot be removed while VF 0 leaves vfio-pci: exit
		// 3, and down again finishes.
		{"down: vfio node", up, []string{"down", "eth3"}, "h/dev/vfio/2", "unlinkat", "EIO", 3, "/dev/vfio/2: input/output error", ""},
		// The simulator cannot remove the record of a finished call: the
		// call is undone and reported failed (it was reported done, and
		// the record put it back at the next call), so down again finishes.
		{"down: simulator record", up, []string{"down", "eth3"}, "h/" + hostsim.MarkerDir + "/tx.json", "unlinkat", "EIO", 3, "tx.json: input/output error", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// strace counts "when=N" per thread, and Go may make the N
			// matching calls on different OS threads: a run where the
			// fault found no Nth call is tried again (up to 5 times).
			for attempt := 1; ; attempt++ {
				if c.run(t, bin, strace, attempt < 5 && c.when != "") {
					return
				}
				t.Logf("attempt %d: the calls fell on different threads; again", attempt)
			}
		})
	}
}

// faultCase is one TestSyscallFaults case.
type faultCase struct {
	name     string
	before   []string // commands run first, without faults
	args     []string
	path     string // relative to the host root ("h/...") or the state dir ("s")
	syscall  string
	errno    string
	wantCode int
	wantMsg  string
	when     string // which matching call fails (default 1)
}

// run runs the case on a fresh simulated host. It returns false, without
// failing, when the fault was not injected and retry is allowed.
func (c faultCase) run(t *testing.T, bin, strace string, retry bool) bool {
	t.Helper()
	dir := t.TempDir()
	root, state := filepath.Join(dir, "h"), filepath.Join(dir, "s")
	cli := func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"--host-root", root, "--state-dir", state}, args...)...)
	}
	if out, err := cli("sim", "init", root).CombinedOutput(); err != nil {
		t.Fatalf("sim init: %v %s", err, out)
	}
	pristine := snapshot(t, root)
	if c.before != nil {
		if out, err := cli(c.before...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c.before, err, out)
		}
	}
	host0, state0 := snapshot(t, root), snapshot(t, state)
	when := c.when
	if when == "" {
		when = "1"
	}
	args := append([]string{"-f", "-qq", "-o", filepath.Join(dir, "trace"), "-P", filepath.Join(dir, c.path),
		"-e", "trace=" + c.syscall, "-e", "inject=" + c.syscall + ":error=" + c.errno + ":when=" + when, "--",
		bin, "--host-root", root, "--state-dir", state}, c.args...)
	cmd := exec.Command(strace, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	trace, _ := os.ReadFile(filepath.Join(dir, "trace"))
	if !strings.Contains(string(trace), "INJECTED") {
		if retry {
			return false
		}
		t.Fatalf("the fault was not injected (no %s on %s):\n%s\n%s", c.syscall, c.path, trace, out)
	}
	// strace counts "when" per thread: a Go process that fsyncs again on
	// another OS thread (the rollback's own journal save or removal) meets
	// the fault twice, and then exit 3, naming both, is right.
	twice := c.syscall == "fsync" && code == 3 && strings.Count(string(out), "input/output error") >= 2
	if strings.Contains(string(out), "panic:") || (code != c.wantCode && !twice) || !strings.Contains(string(out), c.wantMsg) {
		t.Fatalf("exit %d, want %d and %q:\n%s", code, c.wantCode, c.wantMsg, out)
	}
	if code == 1 && (snapshot(t, root) != host0 || snapshot(t, state) != state0) {
		t.Fatalf("exit 1 changed the host or the journal:\n%s", out)
	}
	if out, err := cli("down", "eth3", "--missing-ok").CombinedOutput(); err != nil {
		t.Fatalf("down after the fault: %v\n%s", err, out)
	}
	if snapshot(t, root) != pristine {
		t.Fatal("down after the fault did not restore the original host")
	}
	if _, err := os.Stat(filepath.Join(state, "eth3.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("down after the fault left the journal: %v", err)
	}
	return true
}

// snapshot is a host root or a state directory, without lock files.
var snapshot = simtest.Listing
