package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// resumeConfig is the request of the kill tests: every kind of step
// (numvfs with autoprobe off, probe, VF settings, module, bind, ntuple)
// and a config rule.
const resumeConfig = `pf: eth3
vfs: 2
vf:
  - index: 0
    mac: "02:00:00:00:00:01"
    trust: true
rules:
  - vf: 0
    flow: "flow-type udp4 dst-port 4789"
`

// TestKilledUpResumesToACleanUp kills up inside each step (a simulator
// Delay holds the kernel call while the step is journaled pending) and at
// each step boundary (right after the journal shows the k-th applied
// step), then runs the same up again: the simulated host, its netlink,
// feature and rule state included, must be byte-identical to the host a
// clean up makes, and down must bring back the host as it was.
func TestKilledUpResumesToACleanUp(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	cfg := filepath.Join(t.TempDir(), "eth3.yaml")
	if err := os.WriteFile(cfg, []byte(resumeConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	root, state := simHost(t)
	original := simtest.Snapshot(t, root)
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "--config", cfg); code != 0 {
		t.Fatalf("clean up: %d %s", code, e)
	}
	clean := simtest.Snapshot(t, root)

	type kill struct {
		name   string
		fault  *hostsim.Fault
		marker string
	}
	var kills []kill
	for _, f := range []hostsim.Fault{
		{Op: "write", Match: "*/sriov_drivers_autoprobe"},
		{Op: "write", Match: "*/sriov_drivers_autoprobe", After: 1}, // putting it back, VFs made
		{Op: "write", Match: "*/sriov_numvfs"},
		{Op: "write", Match: "/sys/bus/pci/drivers_probe"},
		{Op: "netlink", Match: "eth3/vf0/mac"},
		{Op: "netlink", Match: "eth3/vf0/trust"},
		{Op: "write", Match: "*/driver_override"},
		{Op: "write", Match: "*/unbind"},
		{Op: "ethtool-set", Match: "eth3/rx-ntuple-filter"},
		{Op: "ethtool-rule", Match: "eth3/insert"},
	} {
		f := f
		f.Delay = 30 * time.Second
		kills = append(kills, kill{name: "inside " + f.Op + " " + f.Match, fault: &f, marker: `"pending"`})
	}
	for ms := 5; ms <= 50; ms += 9 {
		kills = append(kills, kill{name: fmt.Sprintf("after %d ms", ms), marker: fmt.Sprintf("@%dms", ms)})
	}
	for k := 1; k <= 6; k++ {
		kills = append(kills, kill{name: fmt.Sprintf("after step %d", k), marker: fmt.Sprintf(`"state": "applied"#%d`, k)})
	}
	for _, k := range kills {
		t.Run(k.name, func(t *testing.T) {
			root, state := simHost(t)
			if k.fault != nil {
				if err := hostsim.AddFault(root, *k.fault); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "--host-root", root, "--state-dir", state, "up", "--config", cfg)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killAtMarker(t, cmd, filepath.Join(state, "eth3.json"), k.marker)
			if err := hostsim.ClearFaults(root); err != nil {
				t.Fatal(err)
			}
			code, out, e := vfb("--host-root", root, "--state-dir", state, "up", "--config", cfg)
			if code != 0 {
				t.Fatalf("up after the kill: %d %s %s", code, out, e)
			}
			got := simtest.Snapshot(t, root)
			if got != clean {
				t.Fatalf("host after kill + up differs from a clean up:\n%s", firstDiff(clean, got))
			}
			if code, _, e := vfb("--host-root", root, "--state-dir", state, "down", "eth3"); code != 0 {
				t.Fatalf("down: %d %s", code, e)
			}
			if got := snapshotOf(t, root); got != original {
				t.Fatalf("host after down differs from the original:\n%s", firstDiff(original, got))
			}
		})
	}
}

// killAtMarker kills cmd with SIGKILL once the journal holds marker:
// `"pending"`, `"state": "applied"#K` for the K-th applied step, or
// `@Nms` for a kill N ms after the start. A run that ends before its K-th
// step has nothing left to kill.
func killAtMarker(t *testing.T, cmd *exec.Cmd, journal, marker string) {
	t.Helper()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var ms int
	if _, err := fmt.Sscanf(marker, "@%dms", &ms); err == nil {
		select {
		case <-exited:
		case <-time.After(time.Duration(ms) * time.Millisecond):
			cmd.Process.Kill()
			<-exited
		}
		return
	}
	want, n := marker, 1
	if i := strings.LastIndex(marker, "#"); i > 0 {
		want = marker[:i]
		if _, err := fmt.Sscan(marker[i+1:], &n); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(journal)
		if strings.Count(string(b), want) >= n {
			break
		}
		select {
		case <-exited:
			if strings.Contains(want, "applied") {
				return
			}
			t.Fatalf("up ended before the journal held %s: %s", marker, b)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("no %s in the journal: %s", marker, b)
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
}

// firstDiff shows the first line in which two snapshots differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

// up in queue mode after a VF-mode up was killed mid-step refuses (exit
// 2) before it finishes the interrupted run: the host and the journal are
// as the kill left them, and down still restores the host.
func TestModeChangeRefusedBeforeResume(t *testing.T) {
	bin := buildBinary(t)
	root, state := simHost(t)
	pristine := snapshotOf(t, root)
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", Delay: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2", "--vf", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killWhenJournalHas(t, cmd, filepath.Join(state, "eth3.json"), `"pending"`)
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	host0, state0 := snapshotOf(t, root), snapshot(t, state)
	code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--mode", "queue", "--queue", "2")
	if code != 2 || !strings.Contains(e, "vf mode") {
		t.Fatalf("up --mode queue after a killed VF-mode up: exit %d, want 2 naming the mode:\n%s", code, e)
	}
	if got := snapshotOf(t, root); got != host0 {
		t.Errorf("the refusal changed the host: %s", firstDiff(host0, got))
	}
	if got := snapshot(t, state); got != state0 {
		t.Errorf("the refusal changed the journal: %s", firstDiff(state0, got))
	}
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "down", "eth3"); code != 0 {
		t.Fatalf("down: exit %d: %s", code, e)
	}
	if got := snapshotOf(t, root); got != pristine {
		t.Errorf("down did not restore the host: %s", firstDiff(pristine, got))
	}
}
