package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// The EIO matrix: every command of contractScenarios runs with EIO at
// each simulated kernel call in turn (sysfs attribute writes, rtnetlink,
// ethtool reads and writes, rule table calls, module loads: the
// simulator's fault "* after N"), and each run must keep the exit-code
// contract (contractHost.check). make test runs every twelfth call number
// of each scenario (from an offset that differs between scenarios) and
// the last; make faults (VFBYPASS_FAULTS=full) runs them all.
func TestEIOMatrix(t *testing.T) {
	full := os.Getenv("VFBYPASS_FAULTS") == "full"
	if testing.Short() && !full {
		t.Skip("runs each command once per simulated kernel call")
	}
	start, runs, breaks := time.Now(), 0, 0
	for i, s := range contractScenarios() {
		c := prepareContract(t, s)
		c.countCallsIn(t)
		for n := 0; n < c.calls; n++ {
			if !full && n%12 != i%12 && n != c.calls-1 {
				continue
			}
			runs++
			if msg := c.eioAt(t, n); msg != "" {
				breaks++
				t.Errorf("%s, EIO at call %d of %d: %s", s.name, n+1, c.calls, msg)
			}
		}
	}
	t.Logf("EIO matrix: %d runs over %d scenarios, %d contract breaks, %s", runs, len(contractScenarios()), breaks, time.Since(start).Round(time.Second))
}

// eioAt runs the scenario with EIO at simulated kernel call n (from 0).
func (c *contractHost) eioAt(t *testing.T, n int) string {
	dir := c.copyTo(t)
	root := filepath.Join(dir, "h")
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "*", Match: "*", After: n, Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	code, out := c.runJSON(dir)
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	if msg := c.check(t, dir, code, out); msg != "" {
		return fmt.Sprintf("%s (exit %d: %s)", msg, code, firstLines(out, 3))
	}
	return ""
}

// One EIO reading rx-ntuple-filter is an error (exit 1, nothing changed),
// not a PF without ntuple filters (which up would set up without them).
func TestNtupleReadErrorIsAnError(t *testing.T) {
	root, state := simHost(t)
	before := snapshotOf(t, root)
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "ethtool", Match: "eth3/rx-ntuple-filter", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2", "--vf", "0")
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(e, "input/output error") {
		t.Fatalf("up with EIO reading ntuple: exit %d, want 1 naming the error:\n%s", code, e)
	}
	if got := snapshotOf(t, root); got != before {
		t.Fatalf("up changed the host: %s", firstDiff(before, got))
	}
}
