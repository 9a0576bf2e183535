package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The control plane is one static binary without DPDK: it runs on a host
// where DPDK's libraries are not installed.
func TestControlPlaneIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/vfbypass/vfbypass/pkg/rx" {
			t.Fatalf("vfbypass imports %s: the DPDK loop belongs in vfbypass-rx", dep)
		}
	}
	bin := buildBinary(t)
	if _, err := exec.LookPath("file"); err != nil {
		t.Skip("no file(1): apt-get install file")
	}
	f, err := exec.Command("file", "-L", bin).Output()
	if err != nil {
		t.Fatalf("file %s: %v", bin, err)
	}
	if !strings.Contains(string(f), "statically linked") {
		t.Fatalf("file says: %s", f)
	}
	if l, err := exec.Command("ldd", bin).CombinedOutput(); err == nil || !strings.Contains(string(l), "not a dynamic executable") {
		t.Fatalf("ldd %s: %v, %s", bin, err, l)
	}
}

// vfbypass rx runs vfbypass-rx from its own directory with the same
// arguments (global flags included), and its exit code is the loop's.
func TestRxRunsVfbypassRxNextToIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := binaryIn(t, false)
	fake := filepath.Join(filepath.Dir(bin), rxBinary)
	script := "#!/bin/sh\nprintf '%s\\n' \"$VFBYPASS_RX_CALLED_AS\" \"$@\"\nexit 7\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-o", "json", "rx", "--vdev", "net_null0", "--", "--log-level", "*:debug")
	cmd.Env = append(os.Environ(), "PATH=/nonexistent")
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit: %v; want vfbypass-rx's 7", err)
	}
	want := "vfbypass rx\n-o\njson\n--vdev\nnet_null0\n--\n--log-level\n*:debug\n"
	if string(out) != want {
		t.Fatalf("vfbypass-rx got\n%s\nwant\n%s", out, want)
	}
}

// Without vfbypass-rx, rx says how to get it (exit 2), in the format asked
// for, and its help still describes it.
func TestRxWithoutVfbypassRxSaysHowToGetIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, _, errs := vfb("rx", "--vdev", "net_null0")
	if code != 2 || !strings.Contains(errs, "vfbypass-rx is not installed") || !strings.Contains(errs, "apt-get install vfbypass-rx") || !strings.Contains(errs, "make build") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	code, out, _ := vfb("-o", "json", "rx", "--vdev", "net_null0")
	var r struct {
		Error struct {
			Message  string `json:"message"`
			Fix      string `json:"fix"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 2 || r.Error.ExitCode != 2 || !strings.Contains(r.Error.Fix, "vfbypass-rx") {
		t.Fatalf("-o json: code %d, %v, %s", code, err, out)
	}
	code, out, _ = vfb("rx", "--help")
	if code != 0 || !strings.Contains(out, "vfbypass rx (--pf PF --vf K") || !strings.Contains(out, "apt-get install vfbypass-rx") {
		t.Fatalf("rx --help: code %d\n%s", code, out)
	}
}

// With the real vfbypass-rx next to it, vfbypass rx --help is the loop's
// own help, under the name the user typed.
func TestRxHelpIsTheLoopsOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	bin := binaryIn(t, true)
	out, err := exec.Command(bin, "rx", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\n  vfbypass rx (--pf PF --vf K") || !strings.Contains(string(out), "--vdev stringArray") || !strings.Contains(string(out), "  vfbypass rx --pf eth3 --vf 0") {
		t.Fatalf("vfbypass rx --help: %v\n%s", err, out)
	}
}

// 'vfbypass -q rx' hands -q to the loop, where it is quiet too: a run
// that succeeds prints nothing, EAL's log included.
func TestQuietReachesTheLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	if os.Geteuid() != 0 {
		t.Skip("DPDK runs need root")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_null.so"); err != nil {
		t.Skipf("no net_null PMD: %v", err)
	}
	bin := binaryIn(t, true)
	prefix := "vfbq" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	out, err := exec.Command(bin, "-q", "rx", "--vdev", "net_null0", "--no-huge", "--duration", "300ms", "--file-prefix", prefix).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("vfbypass -q rx: %v, output %q; want success and nothing", err, out)
	}
}
