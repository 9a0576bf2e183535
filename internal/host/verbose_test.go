package host_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Verbose passes every call through unchanged (results and errors) and
// writes one line per kernel call: writes, netlink, ethtool, modules.
func TestVerboseLogsEachKernelCall(t *testing.T) {
	_, h := simtest.Host(t, hostsim.Options{})
	var log bytes.Buffer
	v := host.Verbose(h, &log)
	const numvfs = "/sys/class/net/eth3/device/sriov_numvfs"
	if err := v.FS.WriteAttr(numvfs, "2"); err != nil {
		t.Fatal(err)
	}
	if b, err := v.FS.ReadFile(numvfs); err != nil || strings.TrimSpace(string(b)) != "2" {
		t.Fatalf("read through Verbose: %q %v", b, err)
	}
	if err := v.FS.WriteAttr(numvfs, "4"); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("2 -> 4 through Verbose: %v, want the kernel's EBUSY", err)
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	if err := v.Links.SetVFMAC("eth3", 0, mac); err != nil {
		t.Fatal(err)
	}
	if err := v.Links.SetVFTrust("eth3", 1, true); err != nil {
		t.Fatal(err)
	}
	if err := v.Ethtool.SetFeature("eth3", "rx-ntuple-filter", true); err != nil {
		t.Fatal(err)
	}
	dev, err := v.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	r, err := flows.Parse(strings.Fields("flow-type tcp4 dst-port 80 action 0 loc 5"))
	if err != nil {
		t.Fatal(err)
	}
	if loc, err := dev.Insert(r.Spec, 0); err != nil || loc != 5 {
		t.Fatalf("insert: %d %v", loc, err)
	}
	if err := dev.Delete(5); err != nil {
		t.Fatal(err)
	}
	got := log.String()
	for _, want := range []string{
		`write "2" to ` + numvfs + ": ok\n",
		`write "4" to ` + numvfs + ": error: ",
		"netlink eth3: vf 0 mac 02:00:00:00:00:01 (IFLA_VF_MAC): ok\n",
		"netlink eth3: vf 1 trust on (IFLA_VF_TRUST): ok\n",
		"ethtool eth3: rx-ntuple-filter on (ETHTOOL_SFEATURES): ok\n",
		"ethtool eth3: insert flow-type tcp4 dst-port 80",
		"(ETHTOOL_SRXCLSRLINS): at 5\n",
		"ethtool eth3: delete the rule at 5 (ETHTOOL_SRXCLSRLDEL): ok\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "read") && strings.Contains(got, "sriov_numvfs: 2") {
		t.Errorf("file reads are logged:\n%s", got)
	}
}
