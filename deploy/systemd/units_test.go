// Package systemd holds vfbypass's systemd units; its test checks them on a
// make install tree as systemd would read them, and runs their command
// lines against the simulator in systemd's order.
package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/pkg/hostsim"
)

// install runs make install DESTDIR=... PREFIX=/usr with the binaries, man
// pages and completions built in a temporary directory, so bin/ is not
// touched, and returns DESTDIR.
func install(t *testing.T) string {
	t.Helper()
	if err := exec.Command("pkg-config", "--exists", "libdpdk").Run(); err != nil {
		t.Skipf("make install builds vfbypass-rx, which needs libdpdk (apt-get install libdpdk-dev pkg-config): %v", err)
	}
	build, dest := t.TempDir(), filepath.Join(t.TempDir(), "root")
	// -o deps: the packages are there (make test ran deps), or the test
	// fails on what is missing rather than running apt-get.
	cmd := exec.Command("make", "--no-print-directory", "-o", "deps", "-C", "../..", "install",
		"DESTDIR="+dest, "PREFIX=/usr", "UNITDIR=/lib/systemd/system",
		"BIN="+build+"/vfbypass", "RXBIN="+build+"/vfbypass-rx", "MANBUILD="+build+"/man", "COMPBUILD="+build+"/completion")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return dest
}

// TestInstallTree checks one make install tree: the units and the bash
// completion.
func TestInstallTree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make install")
	}
	dest := install(t)
	t.Run("verify", func(t *testing.T) { verify(t, dest) })
	t.Run("command lines on the simulator", func(t *testing.T) { commandLinesOnSimulator(t, dest) })
	t.Run("bash completion", func(t *testing.T) { bashCompletion(t, dest) })
}

// bashCompletion runs the installed bash completion as bash does on TAB,
// with the installed binary on PATH, for a PF name and a rule word.
func bashCompletion(t *testing.T, dest string) {
	const lib = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("no %s (apt-get install bash-completion), which cobra's script needs: %v", lib, err)
	}
	sim := filepath.Join(t.TempDir(), "host")
	if out, err := exec.Command(filepath.Join(dest, "usr/bin/vfbypass"), "sim", "init", sim, "--pf", "eth7").CombinedOutput(); err != nil {
		t.Fatalf("sim init: %v\n%s", err, out)
	}
	for _, c := range []struct{ line, want string }{
		{"vfbypass --host-root " + sim + " up ", "[eth7]"},
		{"vfbypass steer add eth7 --vf 0 flow-type u", "[udp4 udp6]"},
		{"vfbypass up eth7 --driver ", "[vfio-pci none]"},
	} {
		script := `source ` + lib + `; source "$COMPLETION"; COMP_LINE="$LINE"; COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<< "$COMP_LINE"; [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); __start_vfbypass 2>/dev/null; echo "[${COMPREPLY[*]}]"`
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dest, "usr/bin")+":"+os.Getenv("PATH"), "LINE="+c.line,
			"COMPLETION="+filepath.Join(dest, "usr/share/bash-completion/completions/vfbypass"))
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("%q<TAB>: %v, %q; want %s", c.line, err, out, c.want)
		}
	}
}

// verify runs systemd-analyze verify --root on the tree.
func verify(t *testing.T, dest string) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze: apt-get install systemd (it does not need systemd as PID 1)")
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("no man, which systemd-analyze verify runs for Documentation=man:...: apt-get install man-db")
	}
	// The units refer to systemd's own (sysinit.target, network-pre.target,
	// shutdown.target), which a staging tree does not have: add the host's.
	units := filepath.Join(dest, "lib/systemd/system")
	if out, err := exec.Command("cp", "-an", "/lib/systemd/system/.", units+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy systemd's units: %v\n%s", err, out)
	}
	cmd := exec.Command("systemd-analyze", "verify", "--root="+dest, "vfbypass@eth3.service", "vfbypass-rx@eth3.service")
	// man:vfbypass-up(1) and the others must be pages the tree installs.
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dest, "usr/share/man"))
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify --root=%s: %v\n%s", dest, err, out)
	}
}

// commandLinesOnSimulator runs vfbypass@eth3's ExecStart and
// ExecStop, as installed, against a simulated 82599 in systemd's order:
// start, start again (systemctl restart, or a second boot job: no change),
// stop, stop again (nothing left: --missing-ok). The host ends
// byte-identical to where it started.
func commandLinesOnSimulator(t *testing.T, dest string) {
	unit := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass@.service"))
	if unit["Type"] != "oneshot" || unit["RemainAfterExit"] != "yes" {
		t.Fatalf("Type=%s RemainAfterExit=%s; want oneshot, yes", unit["Type"], unit["RemainAfterExit"])
	}
	for _, want := range []string{"BindsTo=sys-subsystem-net-devices-%i.device", "Before=network-pre.target", "Wants=network-pre.target"} {
		k, v, _ := strings.Cut(want, "=")
		if !strings.Contains(" "+unit[k]+" ", " "+v+" ") {
			t.Errorf("%s=%s; want it to name %s", k, unit[k], v)
		}
	}
	sim, state := filepath.Join(t.TempDir(), "host"), t.TempDir()
	vfb := filepath.Join(dest, "usr/bin/vfbypass")
	if out, err := exec.Command(vfb, "sim", "init", sim, "--pf", "eth3", "--model", "82599").CombinedOutput(); err != nil {
		t.Fatalf("sim init: %v\n%s", err, out)
	}
	// The example config, installed where the unit reads it.
	ex, err := os.ReadFile(filepath.Join(dest, "usr/share/doc/vfbypass/examples/eth3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "etc/vfbypass/eth3.yaml"), ex, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(what string) string {
		t.Helper()
		args := commandLine(t, unit[what], "eth3", dest, "--host-root", sim, "--state-dir", state)
		out, err := execIn(args)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", what, args, err, out)
		}
		snap, err := hostsim.Snapshot(sim)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	before, err := hostsim.Snapshot(sim)
	if err != nil {
		t.Fatal(err)
	}
	started := run("ExecStart")
	if started == before {
		t.Fatal("ExecStart changed nothing on the host")
	}
	if again := run("ExecStart"); again != started {
		t.Fatal("a second ExecStart changed the host")
	}
	if stopped := run("ExecStop"); stopped != before {
		t.Fatal("after ExecStop the host differs from before ExecStart")
	}
	if stopped := run("ExecStop"); stopped != before {
		t.Fatal("a second ExecStop changed the host")
	}
}

// readUnit reads a unit file's Key=Value lines (later keys of the same
// name are appended with a space, as systemd does for list settings).
func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not Key=Value", path, line)
		}
		if m[k] != "" {
			v = m[k] + " " + v
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// commandLine turns a unit's command line into arguments as systemd would
// for instance inst (%i; the units use no quoting), with the binary and
// /etc taken from the install tree dest and extra flags after the binary.
func commandLine(t *testing.T, line, inst, dest string, extra ...string) []string {
	t.Helper()
	if line == "" || strings.ContainsAny(line, `"'\$`) {
		t.Fatalf("command line %q: empty, or quoting this test does not model", line)
	}
	words := strings.Fields(strings.ReplaceAll(line, "%i", inst))
	for i, w := range words {
		if strings.HasPrefix(w, "/etc/") {
			words[i] = filepath.Join(dest, w)
		}
	}
	return append(append([]string{filepath.Join(dest, words[0])}, extra...), words[1:]...)
}

func execIn(args []string) ([]byte, error) {
	return exec.Command(args[0], args[1:]...).CombinedOutput()
}
