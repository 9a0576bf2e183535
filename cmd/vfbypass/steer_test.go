package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

type steerJSON struct {
	Changed  bool           `json:"changed"`
	PF       string         `json:"pf"`
	VFs      []any          `json:"vfs"`
	Warnings []string       `json:"warnings"`
	Error    map[string]any `json:"error"`
	DryRun   bool           `json:"dry_run"`
	Table    uint32         `json:"table_size"`
	Rules    []struct {
		Location uint32   `json:"location"`
		Words    []string `json:"words"`
		Target   struct {
			VF    int    `json:"vf"`
			Queue uint32 `json:"queue"`
			Drop  bool   `json:"drop"`
		} `json:"target"`
		VFAddress string `json:"vf_address"`
		Spec      string `json:"spec"`
		Journaled bool   `json:"journaled"`
		Status    string `json:"status"`
	} `json:"rules"`
}

// steerLab is a simulated 82599 after 'vfbypass up eth3 --vfs 2'.
func steerLab(t *testing.T, extra ...string) (g []string, root, state string) {
	t.Helper()
	root, state = simHost(t, extra...)
	g = []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(append([]string{}, g...), "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	return g, root, state
}

func steerRun(t *testing.T, g []string, args ...string) (int, steerJSON, string) {
	t.Helper()
	code, out, errOut := vfb(append(append(append([]string{}, g...), "-o", "json", "steer"), args...)...)
	var r steerJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("steer %v printed no JSON: %v\n%s\n%s", args, err, out, errOut)
	}
	return code, r, errOut
}

func TestSteerCLIFlagOrdersAndRawForms(t *testing.T) {
	t.Parallel()
	g, _, _ := steerLab(t)
	for _, args := range [][]string{
		{"add", "eth3", "--vf", "1", "--queue", "2", "flow-type", "tcp4", "dst-ip", "10.0.0.1", "dst-port", "80"},
		{"add", "--vf", "1", "--queue=2", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.0.2", "dst-port", "80"},
		{"add", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.0.3", "dst-port", "80", "vf", "1", "queue", "2"},
		{"add", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.0.4", "dst-port", "80", "action", "8589934594"},
		{"add", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.0.6", "dst-port", "80", "--vf", "1", "--queue", "2", "-o", "json"},
	} {
		code, r, e := steerRun(t, g, args...)
		if code != 0 || !r.Changed || len(r.Rules) != 1 {
			t.Fatalf("%v: exit %d %+v %s", args, code, r, e)
		}
		x := r.Rules[0]
		if x.Target.VF != 1 || x.Target.Queue != 2 || x.VFAddress != "0000:04:10.3" || x.Spec == "" || !x.Journaled || x.Status != "added" {
			t.Fatalf("%v: rule %+v", args, x)
		}
	}
	// action 4294967296 = 1<<32 is VF 0, queue 0, shown with its address.
	code, out, _ := vfb(append(append([]string{}, g...), "steer", "add", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.0.5", "dst-port", "80", "action", "4294967296")...)
	if code != 0 || !strings.Contains(out, "VF 0 (0000:04:10.1) queue 0") {
		t.Fatalf("action 4294967296: %d\n%s", code, out)
	}
	code, r, _ := steerRun(t, g, "list", "eth3")
	if code != 0 || len(r.Rules) != 6 || r.Table != 2046 {
		t.Fatalf("list: %d %+v", code, r)
	}
	// Masks and -1 are rule words, not flags.
	code, r, _ = steerRun(t, g, "add", "eth3", "flow-type", "tcp4", "dst-ip", "10.0.1.0", "m", "0.0.0.255", "dst-port", "80", "action", "-1")
	if code != 2 || r.Error == nil || !strings.Contains(r.Error["message"].(string), "dst-ip mask") {
		t.Fatalf("a masked dst-ip under a port with exact dst-ip: %d %+v", code, r.Error)
	}
	// Flags after the rule end it; rule words after those flags are refused.
	code, r, _ = steerRun(t, g, "add", "eth3", "flow-type", "tcp4", "dst-port", "81", "--vf", "0", "dst-ip", "10.0.0.7")
	if code != 2 || !strings.Contains(r.Error["message"].(string), `rule word "dst-ip" after the flags`) {
		t.Fatalf("rule words around flags: %d %+v", code, r.Error)
	}
	// A word that is no flag of the command stays a rule word, which
	// ethtool's grammar refuses.
	code, r, _ = steerRun(t, g, "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "81", "--bogus")
	if code != 2 || !strings.Contains(r.Error["message"].(string), "--bogus") {
		t.Fatalf("unknown flag after the rule: %d %+v", code, r.Error)
	}
}

func TestSteerCLIIdempotenceDelClearDown(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	gl := []string{"--host-root", root, "--state-dir", state}
	before := snapshotOf(t, root)
	if code, _, e := vfb(append(append([]string{}, gl...), "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatal(e)
	}
	add := []string{"add", "eth3", "--vf", "0", "flow-type", "udp4", "dst-port", "4789"}
	for i, want := range []bool{true, false} {
		code, r, e := steerRun(t, gl, add...)
		if code != 0 || r.Changed != want {
			t.Fatalf("add #%d: exit %d changed %v %s", i+1, code, r.Changed, e)
		}
	}
	code, r, _ := steerRun(t, gl, "add", "eth3", "--vf", "0", "flow-type", "udp4", "dst-port", "53", "loc", "10")
	if code != 0 || r.Rules[0].Location != 10 {
		t.Fatalf("loc 10: %d %+v", code, r)
	}
	if code, r, _ := steerRun(t, gl, "add", "eth3", "--vf", "0", "flow-type", "udp4", "dst-port", "54", "loc", "2046"); code != 2 || r.Changed {
		t.Fatalf("loc beyond the table: %d", code)
	}
	if code, r, _ := steerRun(t, gl, "del", "eth3", "10"); code != 0 || !r.Changed {
		t.Fatalf("del: %d %+v", code, r)
	}
	if code, _, _ := steerRun(t, gl, "del", "eth3", "10"); code != 2 {
		t.Fatalf("del of an empty location: exit %d", code)
	}
	if code, _, _ := steerRun(t, gl, "del", "eth3", "ten"); code != 2 {
		t.Fatalf("del of a word: exit %d", code)
	}
	if code, _, e := vfb(append(append([]string{}, gl...), "down", "eth3")...); code != 0 {
		t.Fatalf("down: %s", e)
	}
	if after := snapshotOf(t, root); after != before {
		t.Fatal("up + steer + down did not restore the host")
	}
	if _, err := os.Stat(filepath.Join(state, "eth3.json")); err == nil {
		t.Fatal("journal left behind")
	}
}

func TestSteerCLIFromFileDryRunAndFault(t *testing.T) {
	t.Parallel()
	g, root, state := steerLab(t)
	file := filepath.Join(t.TempDir(), "rules.txt")
	if err := os.WriteFile(file, []byte("# web\nflow-type tcp4 dst-port 80\n\nflow-type tcp4 dst-port 443 vf 1 queue 3 # tls\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotOf(t, root)
	jBefore, _ := os.ReadFile(filepath.Join(state, "eth3.json"))
	code, r, _ := steerRun(t, g, "add", "eth3", "--dry-run", "--vf", "0", "--from-file", file)
	if code != 0 || r.Changed || !r.DryRun || len(r.Rules) != 2 || r.Rules[0].Status != "would-add" {
		t.Fatalf("dry run: %d %+v", code, r)
	}
	after := snapshotOf(t, root)
	jAfter, _ := os.ReadFile(filepath.Join(state, "eth3.json"))
	if after != before || string(jAfter) != string(jBefore) {
		t.Fatal("dry run changed the host or the journal")
	}
	// An injected insert failure: exit 1, nothing left, no record.
	if code, _, e := vfb("sim", "fault", root, "--op", "ethtool-rule", "--match", "eth3/insert", "--errno", "EIO", "--after", "1"); code != 0 {
		t.Fatal(e)
	}
	code, r, _ = steerRun(t, g, "add", "eth3", "--vf", "0", "--from-file", file)
	if code != 1 || r.Changed || r.Error == nil || !strings.Contains(r.Error["message"].(string), "rolled back") {
		t.Fatalf("insert fault: %d %+v", code, r)
	}
	if after := snapshotOf(t, root); after != before {
		t.Fatal("a failed batch left rules behind")
	}
	if jAfter, _ := os.ReadFile(filepath.Join(state, "eth3.json")); string(jAfter) != string(jBefore) {
		t.Fatal("a failed batch left journal records")
	}
	code, r, _ = steerRun(t, g, "add", "eth3", "--vf", "0", "--from-file", file)
	if code != 0 || len(r.Rules) != 2 || r.Rules[1].Target.VF != 1 || r.Rules[1].Target.Queue != 3 {
		t.Fatalf("from file: %d %+v", code, r)
	}
	if code, r, _ := steerRun(t, g, "clear", "eth3"); code != 0 || len(r.Rules) != 2 {
		t.Fatalf("clear: %d %+v", code, r)
	}
}

func TestSteerCLIRefusals(t *testing.T) {
	t.Parallel()
	g, _, _ := steerLab(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "eth3", "--vf", "2", "flow-type", "tcp4", "dst-port", "80"}, "VF 2"},
		{[]string{"add", "eth3", "--vf", "0", "--queue", "4", "flow-type", "tcp4", "dst-port", "80"}, "queue 4"},
		{[]string{"add", "eth3", "--queue", "4", "flow-type", "tcp4", "dst-port", "80"}, "targets PF queue 4, but eth3 has 4 RX queues"},
		{[]string{"add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80", "action", "0"}, "--vf"},
		{[]string{"add", "eth3", "--vf", "0", "flow-type", "ip6", "dst-ip", "2001:db8::1"}, "ip6"},
		{[]string{"add", "eth9", "--vf", "0", "flow-type", "tcp4", "dst-port", "80"}, "no such network interface"},
		{[]string{"add", "eth3", "--vf", "0"}, "needs a rule"},
		{[]string{"list"}, ""},
	} {
		code, out, stderr := vfb(append(append([]string{}, g...), append([]string{"steer"}, c.args...)...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr+out, "fix") && c.want != "" {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
		}
	}
	// No ntuple at all (82576, igb).
	g2, _, _ := steerLab(t, "--model", "82576")
	code, r, _ := steerRun(t, g2, "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80")
	if code != 2 || !strings.Contains(r.Error["message"].(string), "eth3 cannot steer flows: the device has no ntuple (flow director) filters") {
		t.Fatalf("82576: %d %+v", code, r.Error)
	}
}

// A steer add killed after its write-ahead record and before the insert
// leaves a journal from which down restores the host.
func TestSteerKilledMidAddDownRestores(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	root, state := simHost(t)
	before := snapshotOf(t, root)
	g := []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(append([]string{}, g...), "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatal(e)
	}
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Delay: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(g, "steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killWhenJournalHas(t, cmd, filepath.Join(state, "eth3.json"), `"source": "steer"`)
	if err := hostsim.ClearFaults(root); err != nil {
		t.Fatal(err)
	}
	if code, _, e := vfb(append(append([]string{}, g...), "down", "eth3")...); code != 0 {
		t.Fatalf("down after a killed steer add: %s", e)
	}
	if after := snapshotOf(t, root); after != before {
		t.Fatal("host after kill + down differs from the original")
	}
}

// snapshotOf is the simulated host at root, byte for byte.
var snapshotOf = simtest.Snapshot

// A `steer add` killed in each window of its write-ahead protocol leaves a
// journal `down` finishes (exit 0, the host as before `up`): before the
// insert, and between the insert and the confirmation, for a masked rule
// (the kernel keeps dst-ip 10.0.0.7 m 0.0.0.255 as 10.0.0.0) and for a
// rule replacing one of vfbypass's with `loc`.
func TestSteerKilledInEachWindowDownFinishes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	masked := []string{"flow-type", "tcp4", "dst-ip", "10.0.0.7", "m", "0.0.0.255", "dst-port", "80"}
	cases := []struct {
		name  string
		first []string // a rule added before, at loc 5
		rule  []string
		fault hostsim.Fault
		// inserted: kill once the rule table shows the insert.
		inserted bool
	}{
		{"masked, before the insert", nil, masked,
			hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Delay: 30 * time.Second}, false},
		{"masked, before the confirmation", nil, masked,
			hostsim.Fault{Op: "ethtool-rule", Match: "eth3/get", Delay: 30 * time.Second}, true},
		{"loc replacement, before the insert", []string{"flow-type", "tcp4", "dst-port", "81", "loc", "5"},
			[]string{"flow-type", "tcp4", "dst-port", "82", "loc", "5"},
			hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Delay: 30 * time.Second}, false},
		{"loc replacement, before the confirmation", []string{"flow-type", "tcp4", "dst-port", "81", "loc", "5"},
			[]string{"flow-type", "tcp4", "dst-port", "82", "loc", "5"},
			// open reads the installed rule once; the next get confirms.
			hostsim.Fault{Op: "ethtool-rule", Match: "eth3/get", After: 1, Delay: 30 * time.Second}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, state := simHost(t)
			before := snapshotOf(t, root)
			g := []string{"--host-root", root, "--state-dir", state}
			if code, _, e := vfb(append(append([]string{}, g...), "up", "eth3", "--vfs", "2")...); code != 0 {
				t.Fatal(e)
			}
			if c.first != nil {
				if code, _, e := steerRun(t, g, append([]string{"add", "eth3", "--vf", "1"}, c.first...)...); code != 0 {
					t.Fatal(e)
				}
			}
			table := filepath.Join(root, hostsim.MarkerDir, "fdir-eth3.tbl")
			old, err := os.ReadFile(table) // none yet without rules
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if err := hostsim.AddFault(root, c.fault); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, append(append([]string{}, g...), append([]string{"steer", "add", "eth3", "--vf", "0"}, c.rule...)...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killWhen(t, cmd, func() bool {
				if !hasPendingRule(filepath.Join(state, "eth3.json")) {
					return false
				}
				b, _ := os.ReadFile(table)
				return !c.inserted || (len(b) > 0 && string(b) != string(old))
			})
			if err := hostsim.ClearFaults(root); err != nil {
				t.Fatal(err)
			}
			if code, _, e := vfb(append(append([]string{}, g...), "down", "eth3")...); code != 0 {
				t.Fatalf("down after a killed steer add: exit %d: %s", code, e)
			}
			if after := snapshotOf(t, root); after != before {
				t.Fatal("host after kill + down differs from the original")
			}
		})
	}
}

// killWhen kills cmd with SIGKILL once ready reports true (within 20 s).
func killWhen(t *testing.T, cmd *exec.Cmd, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the window to kill in never came")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

// hasPendingRule reports whether the journal at path holds a rule record
// written ahead of its insert (a record's words are written from its
// masked spec, so the words given to steer add are not what to look for).
// A journal not there yet, or caught mid-rename, holds none.
func hasPendingRule(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var j struct {
		Rules []struct {
			State journal.State `json:"state"`
		} `json:"rules"`
	}
	if json.Unmarshal(b, &j) != nil {
		return false
	}
	for _, r := range j.Rules {
		if r.State == journal.Pending {
			return true
		}
	}
	return false
}
