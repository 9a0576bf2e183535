// Package systemd holds vfbypass's systemd units; its test checks them on a
// make install tree as systemd would read them, and runs their command
// lines against the simulator in systemd's order.
package systemd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/simtest"
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
	t.Run("security", func(t *testing.T) { security(t, dest) })
	t.Run("settings", func(t *testing.T) { settings(t, dest) })
	t.Run("command lines on the simulator", func(t *testing.T) { commandLinesOnSimulator(t, dest) })
	t.Run("instance names", func(t *testing.T) { instanceNames(t, dest) })
	t.Run("two rx loops side by side", func(t *testing.T) { rxSideBySide(t, dest) })
	t.Run("watcher under a notify socket", func(t *testing.T) { watcherOnSimulator(t, dest) })
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

// unitFiles lists the units of deploy/systemd (the test runs there), and
// unitName names the one instance the tests use of a template, for PF eth3.
func unitFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.service")
	if err != nil || len(files) == 0 {
		t.Fatalf("no units in deploy/systemd: %v", err)
	}
	return files
}

func unitName(file string) string { return strings.Replace(file, "@.", "@eth3.", 1) }

// withSystemdUnits adds the host's systemd units to the tree once: the
// units refer to systemd's own (sysinit.target, network-pre.target,
// shutdown.target), which a staging tree does not have.
func withSystemdUnits(t *testing.T, dest string) {
	t.Helper()
	units := filepath.Join(dest, "lib/systemd/system")
	if out, err := exec.Command("cp", "-an", "/lib/systemd/system/.", units+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy systemd's units: %v\n%s", err, out)
	}
}

// verify runs systemd-analyze verify --root on the tree, for every unit.
func verify(t *testing.T, dest string) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze: apt-get install systemd (it does not need systemd as PID 1)")
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("no man, which systemd-analyze verify runs for Documentation=man:...: apt-get install man-db")
	}
	withSystemdUnits(t, dest)
	args := []string{"verify", "--root=" + dest}
	for _, f := range unitFiles(t) {
		args = append(args, unitName(f))
	}
	cmd := exec.Command("systemd-analyze", args...)
	// man:vfbypass-up(1) and the others must be pages the tree installs.
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dest, "usr/share/man"))
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze %v: %v\n%s", args, err, out)
	}
}

// maxExposure is the highest systemd-analyze security exposure each unit
// may have: what its hardening reaches today, so that a relaxation fails
// here until it is argued in the unit and the number raised. A unit not
// named gets defaultMaxExposure, the most any unit of vfbypass may have.
var maxExposure = map[string]float64{
	"vfbypass@.service":       3.5, // sysfs writes, modprobe, /proc/PID/fd of others, netlink
	"vfbypass-rx@.service":    2.5, // vfio devices, hugepages, metrics and AF_XDP sockets
	"vfbypass-watch@.service": 2.5, // sysfs writes, netlink, metrics on loopback
}

const defaultMaxExposure = 5.0

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) `)

// security holds every unit's overall exposure, as systemd-analyze
// security --offline rates the installed unit, to its maximum.
func security(t *testing.T, dest string) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze: apt-get install systemd (it does not need systemd as PID 1)")
	}
	withSystemdUnits(t, dest)
	for _, f := range unitFiles(t) {
		limit, ok := maxExposure[f]
		if !ok {
			limit = defaultMaxExposure
		}
		out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+dest, "--no-pager", unitName(f)).CombinedOutput()
		m := exposureLine.FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", unitName(f), err, out)
		}
		got, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exposure %.1f (at most %.1f)", f, got, limit)
		if got > limit {
			t.Errorf("%s: systemd-analyze security rates its exposure %.1f, above %.1f:\n%s", f, got, limit, out)
		}
	}
}

// settings checks the units' start, stop and restart settings that no
// command line shows: a bounded start, no restart after bad input (exit
// 2), and restarts limited in rate.
func settings(t *testing.T, dest string) {
	for file, want := range map[string][]string{
		"vfbypass@.service": {"TimeoutStartSec=3min", "TimeoutStopSec=3min", "StartLimitIntervalSec=5min", "StartLimitBurst=5"},
		"vfbypass-rx@.service": {"Restart=on-failure", "RestartPreventExitStatus=2", "StartLimitIntervalSec=5min",
			"StartLimitBurst=5", "KillSignal=SIGINT"},
	} {
		u := readUnit(t, filepath.Join(dest, "lib/systemd/system", file))
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if u.get(k) != v {
				t.Errorf("%s: %s=%s; want %s", file, k, u.get(k), v)
			}
		}
	}
}

// simHost makes a simulated 82599 with PF pf, a state directory, and the
// example config installed as /etc/vfbypass/PF.yaml in dest.
func simHost(t *testing.T, dest, pf string) (sim, state string) {
	t.Helper()
	sim, state = filepath.Join(t.TempDir(), "host"), t.TempDir()
	vfb := filepath.Join(dest, "usr/bin/vfbypass")
	if out, err := exec.Command(vfb, "sim", "init", sim, "--pf", pf, "--model", "82599").CombinedOutput(); err != nil {
		t.Fatalf("sim init: %v\n%s", err, out)
	}
	ex, err := os.ReadFile(filepath.Join(dest, "usr/share/doc/vfbypass/examples/eth3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "etc/vfbypass", pf+".yaml"), ex, 0o644); err != nil {
		t.Fatal(err)
	}
	return sim, state
}

// commandLinesOnSimulator runs vfbypass@eth3's ExecStart, ExecReload and
// ExecStop, as installed, against a simulated 82599 in systemd's order:
// start, start again (a second boot job: no change), reload after a MAC
// changed in the config (in place: only that VF's settings change), stop,
// stop again (nothing left: --missing-ok). The host ends byte-identical to
// where it started.
func commandLinesOnSimulator(t *testing.T, dest string) {
	u := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass@.service"))
	if u.get("Type") != "oneshot" || u.get("RemainAfterExit") != "yes" {
		t.Fatalf("Type=%s RemainAfterExit=%s; want oneshot, yes", u.get("Type"), u.get("RemainAfterExit"))
	}
	for _, want := range []string{"BindsTo=sys-subsystem-net-devices-%i.device", "Before=network-pre.target", "Wants=network-pre.target"} {
		k, v, _ := strings.Cut(want, "=")
		if !strings.Contains(" "+u.get(k)+" ", " "+v+" ") {
			t.Errorf("%s=%s; want it to name %s", k, u.get(k), v)
		}
	}
	sim, state := simHost(t, dest, "eth3")
	run := func(what string, extra ...string) (string, []byte) {
		t.Helper()
		args := u.commandLine(t, what, "eth3", dest, append([]string{"--host-root", sim, "--state-dir", state}, extra...)...)
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", what, args, err, out)
		}
		snap := simtest.Snapshot(t, sim)
		return snap, out
	}
	before := simtest.Snapshot(t, sim)
	started, _ := run("ExecStart")
	if started == before {
		t.Fatal("ExecStart changed nothing on the host")
	}
	if again, _ := run("ExecStart"); again != started {
		t.Fatal("a second ExecStart changed the host")
	}
	reloadChangesMACInPlace(t, dest, func() []byte { _, out := run("ExecReload", "-o", "json"); return out })
	if stopped, _ := run("ExecStop"); stopped != before {
		t.Fatal("after ExecStop the host differs from before ExecStart")
	}
	if stopped, _ := run("ExecStop"); stopped != before {
		t.Fatal("a second ExecStop changed the host")
	}
}

// reloadChangesMACInPlace edits VF 0's MAC in /etc/vfbypass/eth3.yaml and
// runs reload: its diff is that MAC alone, and the only step it applies is
// VF 0's settings (no numvfs step: the PF is not reset, the VFs stay).
func reloadChangesMACInPlace(t *testing.T, dest string, reload func() []byte) {
	cfg := filepath.Join(dest, "etc/vfbypass/eth3.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const oldMAC, newMAC = "02:00:00:00:00:01", "02:00:00:00:00:0a"
	if !bytes.Contains(b, []byte(oldMAC)) {
		t.Fatalf("%s has no MAC %s to change", cfg, oldMAC)
	}
	if err := os.WriteFile(cfg, bytes.ReplaceAll(b, []byte(oldMAC), []byte(newMAC)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := reload()
	var res struct {
		Diff []struct {
			Field, Before, After string
		}
		Steps []struct{ ID, Status string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ExecReload -o json: %v\n%s", err, out)
	}
	if len(res.Diff) != 1 || res.Diff[0].Field != "vf0.mac" || res.Diff[0].Before != oldMAC || res.Diff[0].After != newMAC {
		t.Errorf("reload's diff %+v; want vf0.mac %s -> %s alone", res.Diff, oldMAC, newMAC)
	}
	var applied []string
	for _, s := range res.Steps {
		if s.Status != "already" {
			applied = append(applied, s.ID+":"+s.Status)
		}
	}
	if !slices.Equal(applied, []string{"vf0-config:applied"}) {
		t.Errorf("reload's steps other than already: %v; want [vf0-config:applied]\n%s", applied, out)
	}
}

// instanceNames runs vfbypass@'s ExecStart for instance names that are not
// plain: the escaped name of a PF with a "-" in it reaches the command as
// the PF's name (%I), and names that look like flags stay positionals
// after "--": they are taken as a PF that does not exist, never as help.
func instanceNames(t *testing.T, dest string) {
	u := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass@.service"))
	sim, state := simHost(t, dest, "cap-p0")
	inst := systemdEscape(t, "cap-p0")
	args := u.commandLine(t, "ExecStart", inst, dest, "--host-root", sim, "--state-dir", state)
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("vfbypass@%s ExecStart %v: %v\n%s", inst, args, err, out)
	}
	args = u.commandLine(t, "ExecStop", inst, dest, "--host-root", sim, "--state-dir", state)
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("vfbypass@%s ExecStop %v: %v\n%s", inst, args, err, out)
	}
	for _, inst := range []string{"--help", systemdEscape(t, "--help"), systemdEscape(t, "-h")} {
		for _, what := range []string{"ExecStart", "ExecReload", "ExecStop"} {
			args := u.commandLine(t, what, inst, dest, "--host-root", sim, "--state-dir", state)
			out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
			// down --missing-ok succeeds for a PF it has no journal of.
			ok := err == nil && what == "ExecStop"
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 2 {
				ok = true
			}
			if !ok || bytes.Contains(out, []byte("Usage:")) {
				t.Errorf("vfbypass@%s %s %q: %v; want it taken as a PF that does not exist (exit 2; 0 for down --missing-ok)\n%s", inst, what, args, err, out)
			}
		}
	}
}

// systemdEscape escapes s as systemd-escape does for an instance name.
func systemdEscape(t *testing.T, s string) string {
	t.Helper()
	out, err := exec.Command("systemd-escape", "--", s).Output()
	if err != nil {
		t.Fatalf("systemd-escape %q: %v", s, err)
	}
	return strings.TrimSpace(string(out))
}

// rxSideBySide runs two vfbypass-rx@ instances' ExecStart at once, each
// with its env file receiving on a simulator vdev (net_null) on its own
// lcore: each has its own EAL file prefix, so both run and stop cleanly.
func rxSideBySide(t *testing.T, dest string) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs: one lcore for each loop")
	}
	u := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass-rx@.service"))
	type loop struct {
		inst, lcores string
		cmd          *exec.Cmd
		out          bytes.Buffer
	}
	base := fmt.Sprintf("vfbt%d", os.Getpid())
	loops := []*loop{{inst: base + "a", lcores: "0"}, {inst: base + "b", lcores: "1"}}
	for _, l := range loops {
		env := "# the test's loop on a vdev\nRX_DEVICE=--vdev=net_null0\nRX_LCORES=" + l.lcores + "\nRX_ARGS=--no-huge --duration 3s\n"
		if err := os.WriteFile(filepath.Join(dest, "etc/vfbypass", l.inst+".rx.env"), []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
		// EAL keeps its runtime directory in /var/run/dpdk as root.
		t.Cleanup(func() { _ = os.RemoveAll("/var/run/dpdk/vfbypass-rx-" + l.inst) })
		args := u.commandLine(t, "ExecStart", l.inst, dest)
		l.cmd = exec.Command(args[0], args[1:]...)
		l.cmd.Stdout, l.cmd.Stderr = &l.out, &l.out
		if err := l.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range loops {
		err := l.cmd.Wait()
		out := l.out.String()
		if err != nil {
			t.Errorf("vfbypass-rx@%s %v: %v\n%s", l.inst, l.cmd.Args, err, out)
			continue
		}
		var res struct {
			EALArgs []string `json:"eal_args"`
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
			t.Errorf("vfbypass-rx@%s: %v\n%s", l.inst, err, out)
			continue
		}
		eal := " " + strings.Join(res.EALArgs, " ") + " "
		for _, want := range []string{" -l " + l.lcores + " ", " --file-prefix vfbypass-rx-" + l.inst + " ", " --vdev net_null0 "} {
			if !strings.Contains(eal, want) {
				t.Errorf("vfbypass-rx@%s: EAL args %q lack %q", l.inst, eal, want)
			}
		}
	}
}

// unit is a unit file's Key=Value lines; a key given again adds to the
// list (systemd's list settings; the tests read no others twice).
type unit map[string][]string

func (u unit) get(k string) string { return strings.Join(u[k], " ") }

// readUnit reads a unit file's Key=Value lines.
func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
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
		u[k] = append(u[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// commandLine turns the unit's command line what (ExecStart, ...) into
// arguments as systemd does for instance inst: %i is inst, %I inst
// unescaped (systemd-escape -u); the environment is Environment= then
// EnvironmentFile=, a word "$VAR" becomes the value's words and "${VAR}"
// the value; the units use no quoting. The binary and /etc are taken from
// the install tree dest, and extra flags go right after the binary.
func (u unit) commandLine(t *testing.T, what, inst, dest string, extra ...string) []string {
	t.Helper()
	unesc, err := exec.Command("systemd-escape", "-u", "--", inst).Output()
	if err != nil {
		t.Fatalf("systemd-escape -u %q: %v", inst, err)
	}
	spec := strings.NewReplacer("%i", inst, "%I", strings.TrimSpace(string(unesc)), "%%", "%")
	line := u.get(what)
	if line == "" || strings.ContainsAny(line, `"'\`) || len(u[what]) != 1 {
		t.Fatalf("%s=%q: none, several, or quoting this test does not model", what, line)
	}
	env := map[string]string{}
	for _, w := range strings.Fields(spec.Replace(u.get("Environment"))) {
		k, v, _ := strings.Cut(w, "=")
		env[k] = v
	}
	if f := u.get("EnvironmentFile"); f != "" {
		optional := strings.HasPrefix(f, "-") // systemd: a missing file is no error
		b, err := os.ReadFile(filepath.Join(dest, spec.Replace(strings.TrimPrefix(f, "-"))))
		if optional && errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		if err != nil {
			t.Fatalf("EnvironmentFile: %v", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
				k, v, _ := strings.Cut(l, "=")
				env[k] = v
			}
		}
	}
	var words []string
	for _, w := range strings.Fields(spec.Replace(line)) {
		if strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			words = append(words, strings.Fields(env[w[1:]])...)
			continue
		}
		w = os.Expand(w, func(k string) string { return env[k] })
		if strings.HasPrefix(w, "/etc/") {
			w = filepath.Join(dest, w)
		}
		words = append(words, w)
	}
	return append(append([]string{filepath.Join(dest, words[0])}, extra...), words[1:]...)
}
