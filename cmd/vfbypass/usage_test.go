package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonError is the error part of the JSON every command prints.
type jsonError struct {
	Schema  *int  `json:"schema"`
	Changed bool  `json:"changed"`
	VFs     []any `json:"vfs"`
	Error   *struct {
		Message  string `json:"message"`
		Fix      string `json:"fix"`
		ExitCode int    `json:"exit_code"`
	} `json:"error"`
}

// With -o json anywhere on the line, every usage error cobra or pflag finds
// is the JSON error object on stdout, exit 2, in the user's words.
func TestUsageErrorsAreJSONWherever(t *testing.T) {
	root, state := simHost(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "eth3", "--bogus", "-o", "json"}, "unknown flag: --bogus"},
		{[]string{"-ojson", "stauts"}, `unknown command "stauts"`},
		{[]string{"steer", "bogus", "--output=json"}, `unknown command "bogus" for "vfbypass steer"`},
		{[]string{"up", "eth3", "--vfs", "x", "--output", "json"}, `--vfs "x" is not a whole number`},
		{[]string{"up", "eth3", "--vfs", "2", "--timeout", "soon", "-vo", "json"}, `--timeout "soon" is not a duration`},
		{[]string{"status", "a", "b", "-o=json"}, "at most 1 argument"},
		{[]string{"steer", "del", "eth3", "-1", "-o", "json"}, "location -1 is invalid"},
		{[]string{"down", "-o", "json"}, "needs the PF interface name"},
		{[]string{"completion", "bogus", "-o", "json"}, `unknown command "bogus" for "vfbypass completion"`},
		{[]string{"help", "steer", "bogus", "-o", "json"}, `no help for "steer bogus"`},
	} {
		code, out, stderr := vfb(append([]string{"--host-root", root, "--state-dir", state}, c.args...)...)
		var r jsonError
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Errorf("%v: stdout is not one JSON object: %v\n%s", c.args, err, out)
			continue
		}
		if code != 2 || r.Error == nil || r.Error.ExitCode != 2 || r.Schema == nil || *r.Schema != 1 || r.VFs == nil || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q, JSON %s", c.args, code, stderr, out)
			continue
		}
		if !strings.Contains(r.Error.Message, c.want) || r.Error.Fix == "" || strings.Contains(r.Error.Message, "strconv") {
			t.Errorf("%v: message %q (fix %q), want %q and a fix", c.args, r.Error.Message, r.Error.Fix, c.want)
		}
	}
}

func TestOutputFromArgs(t *testing.T) {
	for _, c := range []struct {
		args  []string
		want  string
		found bool
	}{
		{[]string{"status"}, "", false},
		{[]string{"-o", "json", "status"}, "json", true},
		{[]string{"status", "-ojson"}, "json", true},
		{[]string{"status", "-o=json"}, "json", true},
		{[]string{"status", "--output", "json"}, "json", true},
		{[]string{"status", "--output=json", "-o", "text"}, "text", true},
		{[]string{"status", "-vo", "json"}, "json", true},
		{[]string{"status", "-o"}, "", false},
		{[]string{"rx", "--", "-o", "json"}, "", false},
		{[]string{"status", "--out", "json"}, "", false},
	} {
		if got, found := outputFromArgs(c.args); got != c.want || found != c.found {
			t.Errorf("outputFromArgs(%q) = %q, %v; want %q, %v", c.args, got, found, c.want, c.found)
		}
	}
}

// -v shows each kernel call on stderr; -q prints only errors.
func TestVerboseAndQuiet(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	code, _, stderr := vfb(append(g, "-v", "up", "eth3", "--vfs", "2", "--mac", "02:00:00:00:00:01", "--trust")...)
	if code != 0 {
		t.Fatalf("-v up: exit %d %s", code, stderr)
	}
	for _, want := range []string{
		`write "2" to /sys/bus/pci/devices/0000:04:00.1/sriov_numvfs: ok`,
		"netlink eth3: vf 0 mac 02:00:00:00:00:01 (IFLA_VF_MAC): ok",
		"netlink eth3: vf 0 trust on (IFLA_VF_TRUST): ok",
		`write "vfio-pci" to /sys/bus/pci/devices/0000:04:10.1/driver_override: ok`,
		"ethtool eth3: rx-ntuple-filter on (ETHTOOL_SFEATURES): ok",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-v up: stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, out, stderr := vfb(append(g, "-q", "steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80")...)
	if code != 0 || out != "" || stderr != "" {
		t.Errorf("-q steer add: exit %d, stdout %q, stderr %q; want 0 and nothing", code, out, stderr)
	}
	code, out, stderr = vfb(append(g, "-q", "down", "eth3")...)
	if code != 0 || out != "" || stderr != "" {
		t.Errorf("-q down: exit %d, stdout %q, stderr %q; want 0 and nothing", code, out, stderr)
	}
	code, out, stderr = vfb(append(g, "-q", "down", "eth3")...)
	if code != 2 || out != "" || !strings.Contains(stderr, "vfbypass: ") {
		t.Errorf("-q down without a journal: exit %d, stdout %q, stderr %q; want 2 and the error", code, out, stderr)
	}
	if code, _, stderr := vfb(append(g, "-q", "-v", "status")...); code != 2 || !strings.Contains(stderr, "contradict") {
		t.Errorf("-q -v: exit %d %q", code, stderr)
	}
}

// An up whose rollback could not finish (exit 3) does not say the PF is up
// above its rolled-back steps.
func TestRollbackIncompleteSaysNotUp(t *testing.T) {
	root, state := simHost(t)
	for _, f := range [][]string{
		{"sim", "fault", root, "--op", "netlink", "--match", "eth3/vf0/mac"},
		{"sim", "fault", root, "--op", "write", "--match", "*/sriov_numvfs", "--after", "1", "--times", "5"},
	} {
		if code, _, e := vfb(f...); code != 0 {
			t.Fatalf("%v: %s", f, e)
		}
	}
	code, out, stderr := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2", "--mac", "02:00:00:00:00:01")
	if code != 3 || strings.Contains(out, "is up") || !strings.Contains(out, "rolled-back") || !strings.Contains(stderr, "rollback incomplete") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// --trust and --spoofchk take on|off as ip link writes them (or
// true|false); alone they mean on.
func TestTrustSpoofchkOnOff(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	for _, c := range []struct {
		flags           []string
		trust, spoofchk bool
	}{
		{[]string{"--trust=off", "--spoofchk=off"}, false, false},
		{[]string{"--trust", "--spoofchk=on"}, true, true},
		{[]string{"--trust=false", "--spoofchk=true"}, false, true},
	} {
		code, out, stderr := vfb(append(append(g, "up", "eth3", "--vfs", "2"), c.flags...)...)
		var r struct {
			VFs []struct {
				Trust    bool `json:"trust"`
				Spoofchk bool `json:"spoofchk"`
			} `json:"vfs"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || len(r.VFs) != 2 {
			t.Fatalf("%v: exit %d %v %s %s", c.flags, code, err, out, stderr)
		}
		if r.VFs[0].Trust != c.trust || r.VFs[0].Spoofchk != c.spoofchk {
			t.Errorf("%v: VF 0 trust %v spoofchk %v, want %v %v", c.flags, r.VFs[0].Trust, r.VFs[0].Spoofchk, c.trust, c.spoofchk)
		}
	}
}

// vfs means the PF's VFs after the command in every command's JSON, steer's
// included.
func TestSteerReportsVFs(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	if code, _, e := vfb(append(g, "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	for _, args := range [][]string{
		{"steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
		{"steer", "list", "eth3"},
		{"steer", "clear", "eth3"},
	} {
		code, out, _ := vfb(append(g, args...)...)
		var r struct {
			VFs []struct {
				Address string `json:"address"`
				Driver  string `json:"driver"`
			} `json:"vfs"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || len(r.VFs) != 2 || r.VFs[0].Driver != "vfio-pci" || r.VFs[1].Address == "" {
			t.Errorf("%v: exit %d, vfs %+v (%v)", args, code, r.VFs, err)
		}
	}
}

// A word that is no command, a shell script given arguments and cobra's
// own __complete without arguments are bad usage (exit 2), said in
// vfbypass's words with a fix; vfbypass alone prints its help (exit 0).
func TestUsageUnknownCommands(t *testing.T) {
	for _, c := range []struct {
		args        []string
		code        int
		out, stderr string
	}{
		{nil, 0, "Available Commands:", ""},
		{[]string{"stauts"}, 2, "", "vfbypass: unknown command \"stauts\" for \"vfbypass\"\n  fix: did you mean status? see 'vfbypass --help' for the commands and their flags\n"},
		{[]string{"bogus"}, 2, "", "vfbypass: unknown command \"bogus\" for \"vfbypass\"\n  fix: see 'vfbypass --help' for the commands and their flags\n"},
		{[]string{"completion", "bash", "x"}, 2, "", "vfbypass: unknown command \"x\" for \"vfbypass completion bash\"\n  fix: see 'vfbypass --help' for the commands and their flags\n"},
		{[]string{"__complete"}, 2, "", "vfbypass: requires at least 1 arg(s), only received 0\n  fix: see 'vfbypass --help' for the commands and their flags\n"},
	} {
		code, out, stderr := vfb(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || stderr != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr %q", c.args, code, out, stderr, c.code, c.out, c.stderr)
		}
	}
}
