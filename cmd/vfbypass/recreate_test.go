package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// up --recreate killed between the teardown and the reinstall (here while
// it writes the new VF count) keeps the rules added with steer in the
// journal: the next up installs them again, and down then restores the
// host.
func TestRecreateKilledKeepsSteerRules(t *testing.T) {
	bin := buildBinary(t)
	root, state := simHost(t)
	pristine := snapshotOf(t, root)
	g := []string{"--host-root", root, "--state-dir", state}
	up := append(append([]string{}, g...), "up", "eth3", "--vfs", "2", "--vf", "0")
	for _, args := range [][]string{up, append(append([]string{}, g...), "steer", "add", "eth3", "--vf", "1", "flow-type", "tcp4", "dst-port", "80", "loc", "7")} {
		if code, _, e := vfb(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, e)
		}
	}
	// The teardown writes 0 to sriov_numvfs; the second write (3) hangs.
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", After: 1, Delay: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	recreate := []string{"up", "eth3", "--vfs", "3", "--vf", "0", "--recreate"}
	cmd := exec.Command(bin, append(append([]string{}, g...), recreate...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killWhenJournalHas(t, cmd, filepath.Join(state, "eth3.json"), `"want": 3`)
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	if code, _, e := vfb(append(append([]string{}, g...), recreate...)...); code != 0 {
		t.Fatalf("up after the kill: exit %d: %s", code, e)
	}
	code, out, e := vfb(append(append([]string{}, g...), "-o", "json", "steer", "list", "eth3")...)
	if code != 0 {
		t.Fatalf("steer list: exit %d: %s", code, e)
	}
	var l struct {
		Rules []struct {
			Location uint32 `json:"location"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Rules) != 1 || l.Rules[0].Location != 7 {
		t.Fatalf("after the killed --recreate and up, the rules are %s (%v), want the steer rule at 7", strings.TrimSpace(out), err)
	}
	if code, _, e := vfb(append(append([]string{}, g...), "down", "eth3")...); code != 0 {
		t.Fatalf("down: exit %d: %s", code, e)
	}
	if got := snapshotOf(t, root); got != pristine {
		t.Fatalf("down did not restore the host: %s", firstDiff(pristine, got))
	}
}
