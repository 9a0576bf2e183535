package main

import (
	"encoding/json"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// TestCLICheckModeAndDrift is what an Ansible module sees: a dry run's
// changed and diff predict the real run, and status --check exits 4 with
// the drift named field by field once something changes behind
// vfbypass's back; up repairs it and --check exits 0 again.
func TestCLICheckModeAndDrift(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	run := func(args ...string) (int, map[string]any) {
		t.Helper()
		code, out, _ := vfb(append(append([]string{}, g...), args...)...)
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v printed no JSON object: %v\n%s", args, err, out)
		}
		return code, r
	}
	up := []string{"up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "02:00:00:00:00:01"}
	before := simtest.Snapshot(t, root)
	code, dry := run(append(up, "--dry-run")...)
	if code != 0 || dry["changed"] != true || len(dry["diff"].([]any)) == 0 {
		t.Fatalf("dry run: %d %v; want changed true and a diff", code, dry)
	}
	if after := snapshotOf(t, root); after != before {
		t.Fatal("the dry run changed the host")
	}
	code, real := run(up...)
	if code != 0 || real["changed"] != true || len(real["diff"].([]any)) != len(dry["diff"].([]any)) {
		t.Fatalf("up: %d diff %v; want the dry run's %v", code, real["diff"], dry["diff"])
	}
	if code, again := run(append(up, "--dry-run")...); code != 0 || again["changed"] != false || len(again["diff"].([]any)) != 0 {
		t.Fatalf("dry run after up: %d %v; want changed false, diff []", code, again)
	}
	if code, st := run("status", "eth3", "--check"); code != 0 || st["error"] != nil {
		t.Fatalf("status --check without drift: %d %v", code, st)
	}
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "02:00:00:00:00:02", "--dry-run"); code != 0 {
		t.Fatalf("dry run of a MAC change: %d %s", code, e)
	}
	// Behind vfbypass's back: VF 0 goes back to the kernel.
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:04:10.1"); err != nil {
		t.Fatal(err)
	}
	code, st := run("status", "eth3", "--check")
	pfs := st["pfs"].([]any)
	drift := pfs[0].(map[string]any)["drift"].([]any)
	errObj, _ := st["error"].(map[string]any)
	if code != 4 || len(drift) != 1 || errObj == nil || errObj["exit_code"] != float64(4) {
		t.Fatalf("status --check after drift: exit %d, drift %v, error %v; want 4, one field", code, drift, errObj)
	}
	if d := drift[0].(map[string]any); d["field"] != "vf0.driver" || d["want"] != "vfio-pci" || d["have"] != "none" {
		t.Fatalf("drift %v; want vf0.driver want vfio-pci have none", d)
	}
	if code, r := run(up...); code != 0 || r["changed"] != true {
		t.Fatalf("up repairing the drift: %d %v", code, r)
	}
	if code, _ := run("status", "eth3", "--check"); code != 0 {
		t.Fatalf("status --check after the repair: %d", code)
	}
}
