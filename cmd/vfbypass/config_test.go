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
)

const testConfig = "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    mac: 02:00:00:00:00:01\n    trust: on\n"

// vfbIn runs the CLI in-process with data on standard input.
func vfbIn(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.WriteString(data); w.Close() }()
	var out, errb bytes.Buffer
	code := runWith(r, args, &out, &errb)
	return code, out.String(), errb.String()
}

// up --config - reads standard input; the host ends as the flags would
// leave it.
func TestUpConfigFromStdin(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	code, out, stderr := vfbIn(t, testConfig, append(g, "up", "--config", "-")...)
	var r struct {
		Changed bool             `json:"changed"`
		VFs     []map[string]any `json:"vfs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Changed || len(r.VFs) != 2 || r.VFs[0]["trust"] != true || r.VFs[0]["mac"] != "02:00:00:00:00:01" {
		t.Fatalf("up --config -: exit %d %s %s", code, out, stderr)
	}
	// The same request as flags finds nothing to do.
	code, out, _ = vfb(append(g, "up", "eth3", "--vfs", "2", "--mac", "02:00:00:00:00:01", "--trust=on")...)
	if code != 0 || !strings.Contains(out, `"changed": false`) {
		t.Fatalf("the same request as flags: exit %d %s", code, out)
	}
}

// A config is a regular file or standard input, one document, at most
// 1 MiB, alone: everything else is exit 2 at once, naming what is wrong.
func TestUpConfigRefusals(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "eth3.yaml")
	fifo := filepath.Join(dir, "fifo")
	if err := os.WriteFile(conf, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	g := []string{"--host-root", root, "--state-dir", state}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"up", "--config", fifo}, "is a FIFO"},
		{"", []string{"up", "--config", "/dev/zero"}, "is a character device"},
		{"", []string{"up", "--config", dir}, "is a directory"},
		{strings.Repeat("# padding\n", 120000), []string{"up", "--config", "-"}, "larger than 1048576 bytes"},
		{testConfig + "---\npf: eth4\n", []string{"up", "--config", "-"}, "line 7: a second YAML document"},
		{"pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    vlam: 3\n", []string{"up", "--config", "-"}, `line 5: vf[0].vlam: unknown key "vlam"`},
		{"pf: eth3\nvfs: x2\n", []string{"up", "--config", "-"}, `line 2: vfs: "x2" is not a whole number`},
		{"vfs: 2\n", []string{"up", "--config", "-"}, "names no PF"},
		{"", []string{"up", "--config", conf, "--vfs", "3"}, "--vfs conflicts with --config"},
		{"", []string{"up", "--config", conf, "--mac", "02:00:00:00:00:09"}, "--mac conflicts with --config"},
		{"", []string{"up", "--config", conf, "--trust=off"}, "--trust conflicts with --config"},
		{"", []string{"up", "eth4", "--config", conf}, "config " + conf + " is for eth3"},
		{"", []string{"up", "eth3", "--vfs", "2", "--timeout", "-5s"}, "--timeout -5s"},
		{"", []string{"up", "eth3", "--vfs", "2", "--timeout", "0"}, "--timeout 0s"},
		{"", []string{"down", "eth3", "--timeout", "0"}, "--timeout 0s"},
		{"", []string{"up", "eth3", "--vfs", "2", "--driver", "none", "--noiommu"}, "--noiommu with --driver none"},
		{"pf: eth3\nvfs: 2\ndriver: none\nnoiommu: true\n", []string{"up", "--config", "-"}, "line 4: noiommu: noiommu with driver none"},
		{"", []string{"up", "eth3", "--vfs", "2", "--trust", "off"}, "--trust off"},
		{"", []string{"up", "eth3", "--vfs", "2", "--spoofchk", "on"}, "--spoofchk on"},
		{"", []string{"up", "eth3", "--vfs", "2", "--noiommu", "false"}, "write --noiommu=false"},
		{"", []string{"up", "eth3", "--vfs", "2", "--trust=maybe"}, `--trust "maybe" is not on or off`},
	} {
		before := statusJSON(t, root)
		start := time.Now()
		code, _, stderr := vfbIn(t, c.stdin, append(g, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "fix: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q and a fix", c.args, code, stderr, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: took %v", c.args, d)
		}
		msg := strings.ReplaceAll(stderr, conf, "FILE")
		for _, goWord := range []string{"setup.", "strconv", "yaml: ", "unmarshal"} {
			if strings.Contains(msg, goWord) {
				t.Errorf("%v: %q speaks Go (%q)", c.args, stderr, goWord)
			}
		}
		if statusJSON(t, root) != before {
			t.Errorf("%v changed the host", c.args)
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("refused runs made the state directory %s", state)
	}
}

func statusJSON(t *testing.T, root string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"--host-root", root, "-o", "json", "status"}, &out, &errb); code != 0 {
		t.Fatalf("status: %d %s", code, errb.String())
	}
	return out.String()
}

// Ansible passes the config as /dev/stdin, a pipe: the binary reads it,
// and a FIFO named on the line is refused without waiting for a writer.
func TestUpConfigDevStdinPipe(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	root, state := simHost(t)
	cmd := exec.Command(bin, "--host-root", root, "--state-dir", state, "-o", "json", "up", "--config", "/dev/stdin")
	cmd.Stdin = strings.NewReader(testConfig)
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"changed": true`) {
		t.Fatalf("up --config /dev/stdin: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "config", "validate", "/dev/stdin")
	cmd.Stdin = strings.NewReader(testConfig)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "is valid: eth3, 2 VFs") {
		t.Fatalf("config validate /dev/stdin: %v\n%s", err, out)
	}
}

func TestConfigValidate(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "eth3.yaml")
	if err := os.WriteFile(conf, []byte(testConfig+"rules:\n  - flow: flow-type tcp4 dst-port 80\n    vf: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No --host-root: validate needs no host.
	code, out, stderr := vfb("config", "validate", conf)
	if code != 0 || !strings.Contains(out, "is valid: eth3, 2 VFs, 1 chosen VF to vfio-pci, 1 rule") {
		t.Fatalf("validate: exit %d %q %q", code, out, stderr)
	}
	for _, c := range []struct{ text, want string }{
		{"pf: eth3\nvfs: 2\nrules:\n  - flow: flow-type tcp4 dst-port 80\n    vf: 2\n", "rule 1 targets VF 2"},
		{"pf: eth3\nvfs: 2\nrules:\n  - flow: flow-type tcp4 dst-prot 80\n", "dst-prot"},
		{"pf: eth3%\nvfs: 2\n", `interface name "eth3%" is not valid`},
		{"pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    mac: 01:00:00:00:00:01\n", "not a unicast address"},
		{"pf: eth3\nvfs: 2\nbogus: 1\n", `line 3: bogus: unknown key "bogus"`},
	} {
		code, out, _ := vfbIn(t, c.text, "config", "validate", "-", "-o", "json")
		var r jsonError
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 2 || r.Error == nil || !strings.Contains(r.Error.Message, c.want) || r.Error.Fix == "" {
			t.Errorf("validate %q: exit %d %s; want exit 2 with %q", c.text, code, out, c.want)
		}
	}
}

// One interface-name check for every command: a name no interface can
// have, or an empty one, is exit 2 before anything is touched.
func TestPFNamesCheckedAlike(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	steerState := filepath.Join(t.TempDir(), "steer-state")
	for _, name := range []string{"eth3%", "", "eth3:1", "a-very-long-interface-name"} {
		for _, args := range [][]string{
			{"status", name}, {"doctor", name}, {"down", name}, {"up", name, "--vfs", "2"},
			{"steer", "list", name}, {"steer", "add", name, "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
			{"steer", "del", name, "1"}, {"steer", "clear", name},
		} {
			g := []string{"--host-root", root, "--state-dir", state}
			if args[0] == "steer" {
				g[3] = steerState
			}
			code, _, stderr := vfb(append(g, args...)...)
			if code != 2 || !strings.Contains(stderr, "not valid") {
				t.Errorf("%q: exit %d, %q; want 2 saying the name is not valid", args, code, stderr)
			}
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("refused names made the state directory %s", state)
	}
}
