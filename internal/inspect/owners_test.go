package inspect_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// TestDoctorNamesOtherOwners: doctor warns when systemd-networkd,
// NetworkManager or driverctl is set to manage the PF or its VFs, and
// stays quiet for settings of other interfaces.
func TestDoctorNamesOtherOwners(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, file, body, want string
	}{
		{"networkd link by name", "etc/systemd/network/10-eth3.link", "[Match]\nOriginalName=eth*\n\n[Link]\nSR-IOVVirtualFunctions=4\n", "systemd-networkd"},
		{"networkd network by path", "etc/systemd/network/20-pf.network", "[Match]\nPath=pci-0000:04:00.1\n\n[SR-IOV]\nVirtualFunction=0\nTrust=yes\n", "systemd-networkd"},
		{"networkd other interface", "etc/systemd/network/10-eth0.link", "[Match]\nOriginalName=eth0\n\n[Link]\nSR-IOVVirtualFunctions=4\n", ""},
		{"networkd without SR-IOV", "etc/systemd/network/10-eth3.network", "[Match]\nName=eth3\n\n[Network]\nDHCP=yes\n", ""},
		{"NetworkManager", "etc/NetworkManager/system-connections/pf.nmconnection", "[connection]\nid=pf\ninterface-name=eth3\n\n[sriov]\ntotal-vfs=2\n", "NetworkManager"},
		{"driverctl on a VF", "etc/driverctl.d/pci-0000:04:10.1", "vfio-pci\n", "driverctl unset-override 0000:04:10.1"},
		{"driverctl elsewhere", "etc/driverctl.d/pci-0000:00:02.0", "vfio-pci\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, h := simtest.Host(t, hostsim.Options{})
			simtest.Up(t, h, simtest.StateDir(t), "eth3", 2)
			p := filepath.Join(root, c.file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := inspect.Doctor(h, "eth3")
			if res == nil {
				t.Fatalf("doctor: %v", err)
			}
			var owners *inspect.Check
			for i := range res.Checks {
				if res.Checks[i].Name == "owners" {
					owners = &res.Checks[i]
				}
			}
			switch {
			case owners == nil:
				t.Fatalf("no owners check in %+v", res.Checks)
			case c.want == "" && !owners.Pass:
				t.Fatalf("owners: %s; want no warning", owners.Detail)
			case c.want != "" && (owners.Pass || owners.Required || !strings.Contains(owners.Detail, c.want)):
				t.Fatalf("owners: %+v; want a warning naming %q", owners, c.want)
			}
		})
	}
}
