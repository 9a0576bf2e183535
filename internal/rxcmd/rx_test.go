//go:build cgo && !nodpdk

package rxcmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
)

// rxCLIChild makes the test binary run the CLI itself (EAL can start once
// per process, so CLI runs that reach EAL happen in a child).
const rxCLIChild = "VFBYPASS_RX_CLI_ARGS"

// TestMain runs the CLI instead of the tests when the test binary is
// re-executed by rxChild.
func TestMain(m *testing.M) {
	if a := os.Getenv(rxCLIChild); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", rxCLIChild, err)
			os.Exit(2)
		}
		os.Exit(Run("vfbypass-rx", args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func rxChild(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), rxCLIChild+"="+string(b))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestRxCLIJSONOnNullVdev(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("DPDK runs need root")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_null.so"); err != nil {
		t.Skipf("no net_null PMD: %v", err)
	}
	prefix := "vfbcli" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	code, out, errs := rxChild(t, "-o", "json", "--vdev", "net_null0", "--no-huge", "--duration", "1500ms", "--file-prefix", prefix, "--", "--log-level", "*:warning")
	var r struct {
		Changed   bool             `json:"changed"`
		VFs       []map[string]any `json:"vfs"`
		Warnings  []string         `json:"warnings"`
		Error     map[string]any   `json:"error"`
		Device    string           `json:"device"`
		Driver    string           `json:"driver"`
		Packets   uint64           `json:"packets"`
		Bytes     uint64           `json:"bytes"`
		DurationS float64          `json:"duration_s"`
		PPS       float64          `json:"pps"`
		Queues    []map[string]any `json:"queues"`
		PortStats map[string]any   `json:"port_stats"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not one JSON document (%v):\n%s\nstderr:\n%s", err, out, errs)
	}
	if code != 0 || r.Error != nil || r.Changed || r.VFs == nil || r.Warnings == nil {
		t.Fatalf("code %d, %+v\nstderr:\n%s", code, r, errs)
	}
	if r.Device != "net_null0" || r.Driver != "net_null" || r.Packets == 0 || r.Bytes != 64*r.Packets || r.PPS <= 0 || r.DurationS < 1.4 || len(r.Queues) != 1 || r.PortStats["ipackets"] == nil {
		t.Fatalf("summary: %+v", r)
	}
	t.Logf("vfbypass rx on net_null0: %.1f Mpps", r.PPS/1e6)
}

func TestRxCLIRefusals(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	vfs := upSim(t, root, state, "eth3", 2)
	if len(vfs) != 2 {
		t.Fatalf("up: VFs %v", vfs)
	}
	vf1 := vfs[1]
	for _, tc := range []struct {
		name string
		args []string
		msg  string
		fix  string
	}{
		{"no hugepages", []string{"--vdev", "net_null0"}, "no hugepages reserved", host.ReserveHugepages},
		{"VF not on vfio-pci", []string{"--pf", "eth3", "--vf", "1", "--no-huge"}, "not vfio-pci", "vfbypass up eth3 --vfs 2 --vf 1"},
		{"VF missing", []string{"--pf", "eth3", "--vf", "5", "--no-huge"}, "does not exist", "vfbypass up eth3 --vfs 6 --vf 5"},
		{"PF and vdev", []string{"--pf", "eth3", "--vf", "0", "--vdev", "net_null0"}, "conflicting device selectors", "only one of"},
		{"PF and -a", []string{"--pf", "eth3", "--vf", "0", "-a", "0000:04:10.1"}, "conflicting device selectors", "only one of"},
		{"no device", []string{"--no-huge"}, "needs a device", "--vdev SPEC"},
		{"-a VF not on vfio-pci", []string{"-a", vf1, "--no-huge"}, "not vfio-pci", "dpdk-devbind.py -b vfio-pci " + vf1},
		{"no such PCI device", []string{"-a", "0000:7f:1f.7", "--no-huge"}, "no PCI device", "ls /sys/bus/pci/devices"},
		{"vf without pf", []string{"--vf", "0"}, "go together", "--pf PF --vf K"},
		{"bad match", []string{"--vdev", "net_null0", "--no-huge", "--match", "udp dst-port x"}, "--match", "udp dst-ip"},
		{"bad lcores", []string{"--vdev", "net_null0", "--no-huge", "--lcores", "a-b"}, "--lcores", "0,1"},
		{"lcore beyond the CPUs", []string{"--vdev", "net_null0", "--no-huge", "--lcores", "0,4095"}, "CPU 4095 is not one this process may run on", "taskset"},
		{"too few mbufs", []string{"--vdev", "net_null0", "--no-huge", "--mbufs", "1"}, "--mbufs 1", "--mbufs 512"},
		{"queue beyond the channels", []string{"--pf", "eth3", "--queue", "99"}, "there is no queue 99", "ethtool -l eth3"},
		{"queue of no interface", []string{"--pf", "eth9", "--queue", "0"}, "no network interface eth9", "ip link"},
		{"queue and vf", []string{"--pf", "eth3", "--vf", "0", "--queue", "1"}, "two receive modes", "not both"},
		{"queue without pf", []string{"--queue", "1"}, "go together", "--pf PF --queue Q"},
		{"queue and queues", []string{"--pf", "eth3", "--queue", "1", "--queues", "2"}, "--queues 2 with --queue 1", "leave out --queues"},
		{"negative queue", []string{"--pf", "eth3", "--queue", "-2"}, "--queue -2 is negative", "ethtool -l"},
		{"bad metrics address", []string{"--vdev", "net_null0", "--no-huge", "--metrics-addr", "9101"}, "--metrics-addr", "HOST:PORT"},
		{"short interval", []string{"--vdev", "net_null0", "--no-huge", "--interval", "1ms"}, "--interval 1ms", "100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := vfb(append(append([]string{"-o", "json"}, g...), tc.args...)...)
			var r struct {
				Changed bool `json:"changed"`
				Error   struct {
					Message  string `json:"message"`
					Fix      string `json:"fix"`
					ExitCode int    `json:"exit_code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("no JSON: %v\n%s", err, out)
			}
			if code != 2 || r.Error.ExitCode != 2 || r.Changed || !strings.Contains(r.Error.Message, tc.msg) || !strings.Contains(r.Error.Fix, tc.fix) {
				t.Fatalf("code %d, error %+v; want exit 2, message with %q, fix with %q", code, r.Error, tc.msg, tc.fix)
			}
			code, _, errs := vfb(append(append([]string{}, g...), tc.args...)...)
			if code != 2 || !strings.Contains(errs, "fix: ") {
				t.Fatalf("text: code %d, stderr %q", code, errs)
			}
		})
	}
}

func TestRxCLIEALFailurePassesDPDKMessage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("DPDK runs need root")
	}
	prefix := "vfbclibad" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	code, out, errs := rxChild(t, "--vdev", "net_nosuchpmd0", "--no-huge", "--duration", "1s", "--file-prefix", prefix)
	if code != 1 || !strings.Contains(errs, "net_nosuchpmd0") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out, errs)
	}
	t.Logf("EAL failure: %s", strings.TrimSpace(errs[strings.LastIndex(errs, "vfbypass:"):]))
}

func TestProgressBar(t *testing.T) {
	for _, c := range []struct {
		done, total time.Duration
		want        string
	}{
		{0, 10 * time.Second, "[--------------------]"},
		{5 * time.Second, 10 * time.Second, "[##########----------]"},
		{10 * time.Second, 10 * time.Second, "[####################]"},
		{12 * time.Second, 10 * time.Second, "[####################]"},
	} {
		if got := progressBar(c.done, c.total); got != c.want {
			t.Errorf("progressBar(%v, %v) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}

// TestRxCLIQuietSilencesEAL: with -q a run that succeeds prints nothing,
// EAL's log included.
func TestRxCLIQuietSilencesEAL(t *testing.T) {
	needPMD(t, "librte_net_null")
	prefix := "vfbcliq" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	code, out, errs := rxChild(t, "-q", "--vdev", "net_null0", "--no-huge", "--duration", "300ms", "--file-prefix", prefix)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("-q: exit %d, stdout %q, stderr %q; want 0 and nothing", code, out, errs)
	}
}

// TestRxCLISecondLoopOnOnePrefix: a second loop with the file prefix a
// running one holds is refused before EAL starts, naming the holder and
// the fix, where EAL would say only "Invalid argument".
func TestRxCLISecondLoopOnOnePrefix(t *testing.T) {
	needPMD(t, "librte_net_null")
	prefix := "vfbcli2nd" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	first, _, _ := rxStart(t, nil, "--vdev", "net_null0", "--no-huge", "--duration", "20s", "--file-prefix", prefix)
	code, _, errs := rxChild(t, "--vdev", "net_null1", "--no-huge", "--duration", "1s", "--file-prefix", prefix)
	want := fmt.Sprintf("another DPDK process (pid %d) holds the EAL file prefix %q", first.Process.Pid, prefix)
	if code != 2 || !strings.Contains(errs, want) || !strings.Contains(errs, "fix: give this loop a file prefix of its own: --file-prefix vfbypass-net_null1") {
		t.Fatalf("second loop: exit %d, stderr:\n%s\nwant exit 2 and %q", code, errs, want)
	}
}
