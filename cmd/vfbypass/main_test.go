package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// vfb runs the CLI in-process and returns exit code, stdout and stderr.
var vfb = simtest.CLI(run).Run

func simHost(t *testing.T, extra ...string) (root, state string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "host")
	state = filepath.Join(t.TempDir(), "state")
	if code, _, e := vfb(append([]string{"sim", "init", root}, extra...)...); code != 0 {
		t.Fatalf("sim init: %d %s", code, e)
	}
	return root, state
}

func TestCLIJSONContractAndIdempotence(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	up := append(append([]string{}, g...), "up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "02:00:00:00:00:01", "--trust")
	for i, wantChanged := range []bool{true, false} {
		code, out, _ := vfb(up...)
		var r struct {
			Changed  bool             `json:"changed"`
			PF       string           `json:"pf"`
			VFs      []map[string]any `json:"vfs"`
			Warnings []string         `json:"warnings"`
			Error    map[string]any   `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("up #%d printed no JSON object: %v\n%s", i+1, err, out)
		}
		if code != 0 || r.Changed != wantChanged || r.PF != "eth3" || len(r.VFs) != 2 || r.Error != nil {
			t.Fatalf("up #%d: code %d %+v", i+1, code, r)
		}
		if r.VFs[0]["driver"] != "vfio-pci" || r.VFs[0]["mac"] != "02:00:00:00:00:01" {
			t.Fatalf("up #%d VF 0: %v", i+1, r.VFs[0])
		}
	}
	code, out, _ := vfb(append(append([]string{}, g...), "up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "zz")...)
	var bad struct {
		Changed bool `json:"changed"`
		Error   struct {
			Message  string `json:"message"`
			Fix      string `json:"fix"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(out), &bad); code != 2 || bad.Error.ExitCode != 2 || bad.Error.Fix == "" || bad.Changed {
		t.Fatalf("bad input: code %d %s", code, out)
	}
	if code, _, _ := vfb(append(append([]string{}, g...), "down", "eth3")...); code != 0 {
		t.Fatalf("down: %d", code)
	}
	if code, out, _ := vfb(append(append([]string{}, g...), "down", "eth3", "--missing-ok")...); code != 0 || !strings.Contains(out, `"changed": false`) {
		t.Fatalf("second down --missing-ok: %d %s", code, out)
	}
}

func TestCLIUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	for _, args := range [][]string{
		{"bogus"},
		{"up"},
		{"up", "eth3"},
		{"up", "eth3", "--vfs", "x"},
		{"up", "eth3", "--vfs", "2", "--mac", "02:00:00:00:00:01", "--mac", "02:00:00:00:00:02"},
		{"-o", "yaml", "status"},
		{"down", "eth3", "extra"},
		{"up", "eth3", "--vfs", "2", "--config", "/nonexistent.yaml"},
	} {
		code, _, stderr := vfb(append(append([]string{}, g...), args...)...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}

// A process killed in the middle of up leaves a journal from which down
// restores the original host.
func TestKilledMidUpDownRestores(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, where := range []hostsim.Fault{
		{Op: "write", Match: "*/sriov_numvfs"},
		{Op: "netlink", Match: "eth3/vf0/mac"},
		{Op: "write", Match: "*/driver_override"},
	} {
		t.Run(where.Match, func(t *testing.T) {
			killHeldUpThenDown(t, bin, where, "up", "eth3", "--vfs", "2", "--mac", "02:00:00:00:00:01")
		})
	}
}

func TestSimFaultCommand(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	if code, _, e := vfb("sim", "fault", root, "--op", "write", "--match", "*/sriov_numvfs", "--errno", "EIO"); code != 0 {
		t.Fatal(e)
	}
	code, _, stderr := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2")
	if code != 1 || !strings.Contains(stderr, unix.EIO.Error()) || !strings.Contains(stderr, "rolled back") {
		t.Fatalf("up with an injected EIO: %d %s", code, stderr)
	}
	if code, _, _ := vfb("sim", "fault", root, "--errno", "ENOTANERRNO"); code != 2 {
		t.Fatalf("unknown errno: exit %d", code)
	}
}

// killHeldUpThenDown holds the simulated kernel call where matches (a
// 30 s Delay), runs the binary with args against a fresh simulated host,
// kills it once the step is journaled pending (it hangs in the call), and
// checks that down restores the host byte for byte.
func killHeldUpThenDown(t *testing.T, bin string, where hostsim.Fault, args ...string) {
	t.Helper()
	root, state := simHost(t)
	before := snapshotOf(t, root)
	where.Delay = 30 * time.Second
	if err := hostsim.AddFault(root, where); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--host-root", root, "--state-dir", state}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killWhenJournalHas(t, cmd, filepath.Join(state, "eth3.json"), `"pending"`)
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "down", "eth3"); code != 0 {
		t.Fatalf("down after kill: %d %s", code, e)
	}
	if after := snapshotOf(t, root); after != before {
		t.Fatal("host after kill + down differs from the original")
	}
}

// killWhenJournalHas kills the started cmd with SIGKILL once the journal
// file holds marker (and a moment later, so the kill can land anywhere
// after it), and waits for it.
func killWhenJournalHas(t *testing.T, cmd *exec.Cmd, journal, marker string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(journal)
		if bytes.Contains(b, []byte(marker)) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no %s in the journal; journal: %s", marker, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// sim dcb switches DCB on an ixgbe PF and refuses, as bad input that
// touches nothing, a word other than on or off and an igb PF (no DCB).
func TestSimDCBCommand(t *testing.T) {
	t.Parallel()
	root, _ := simHost(t)
	if code, _, e := vfb("--host-root", root, "sim", "dcb", "eth3", "on"); code != 0 {
		t.Fatalf("sim dcb on: %d %s", code, e)
	}
	if code, _, e := vfb("--host-root", root, "sim", "dcb", "eth3", "yes"); code != 2 || !strings.Contains(e, "not on or off") {
		t.Errorf("sim dcb yes: %d %s", code, e)
	}
	igb, _ := simHost(t, "--model", "82576")
	before := snapshotOf(t, igb)
	if code, _, e := vfb("--host-root", igb, "sim", "dcb", "eth3", "on"); code != 2 || !strings.Contains(e, "no DCB") || !strings.Contains(e, "82599") {
		t.Errorf("sim dcb on igb: %d %s", code, e)
	}
	if after := snapshotOf(t, igb); after != before {
		t.Error("sim dcb on igb changed the host")
	}
}
