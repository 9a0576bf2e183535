package hostsim_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

const pf = "/sys/bus/pci/devices/0000:04:00.1"

// open makes a simulated host with options o and opens it.
var open = simtest.Host

// sriov_numvfs_store's rules, each with the kernel's errno.
func TestNumVFsFollowsTheKernel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		o     hostsim.Options
		first string
		write string
		want  error
	}{
		{"above totalvfs", hostsim.Options{TotalVFs: 8}, "", "9", unix.ERANGE},
		{"not a number", hostsim.Options{}, "", "two", unix.EINVAL},
		{"no PF driver", hostsim.Options{NoDriver: true}, "", "2", unix.ENOENT},
		{"non-zero to non-zero", hostsim.Options{}, "2", "4", unix.EBUSY},
		{"same count", hostsim.Options{}, "2", "2", nil},
		{"to zero", hostsim.Options{}, "2", "0", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, h := open(t, c.o)
			if c.first != "" {
				if err := h.FS.WriteAttr(pf+"/sriov_numvfs", c.first); err != nil {
					t.Fatal(err)
				}
			}
			err := h.FS.WriteAttr(pf+"/sriov_numvfs", c.write)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("write %s: %v, want %v", c.write, err, c.want)
			}
		})
	}
}

func TestVFsAppearWithRelativeLinksAndVanish(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	before := mustSnapshot(t, root)
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "2"); err != nil {
		t.Fatal(err)
	}
	for k, addr := range []string{"0000:04:10.1", "0000:04:10.3"} {
		link := filepath.Join(root, "sys/class/net/eth3/device/virtfn"+string(rune('0'+k)))
		real, err := filepath.EvalSymlinks(link)
		if err != nil || filepath.Base(real) != addr || !strings.HasPrefix(real, root) {
			t.Fatalf("virtfn%d -> %s, %v; want %s inside %s", k, real, err, addr, root)
		}
		if t2, _ := os.Readlink(link); filepath.IsAbs(t2) {
			t.Errorf("virtfn%d is an absolute link %s", k, t2)
		}
		if b, _ := os.ReadFile(filepath.Join(real, "device")); strings.TrimSpace(string(b)) != "0x10ed" {
			t.Errorf("VF %d device id %q, want 0x10ed", k, b)
		}
		phys, _ := filepath.EvalSymlinks(filepath.Join(real, "physfn"))
		if filepath.Base(phys) != "0000:04:00.1" {
			t.Errorf("VF %d physfn -> %s", k, phys)
		}
		drv, _ := host.LinkBase(h.FS, "/sys/bus/pci/devices/"+addr+"/driver")
		if drv != "ixgbevf" {
			t.Errorf("VF %d driver %q with autoprobe on; want ixgbevf", k, drv)
		}
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	if after := mustSnapshot(t, root); after != before {
		t.Fatal("tree after 2 VFs and back to 0 differs from the original")
	}
	// __ixgbe_enable_sriov cleared RSC: LRO stays off, and asking for it
	// changes nothing until the driver reloads.
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, true); err != nil {
		t.Fatal(err)
	}
	if on, _, err := h.Ethtool.Feature("eth3", host.LROFeature); err != nil || on {
		t.Errorf("LRO after SR-IOV on and off = %v, %v; want off", on, err)
	}
}

func TestAutoprobeOffLeavesVFsUnbound(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	if err := h.FS.WriteAttr(pf+"/sriov_drivers_autoprobe", "2"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("autoprobe 2: %v, want EINVAL", err)
	}
	h.FS.WriteAttr(pf+"/sriov_drivers_autoprobe", "0")
	h.FS.WriteAttr(pf+"/sriov_numvfs", "1")
	if drv, _ := host.LinkBase(h.FS, "/sys/bus/pci/devices/0000:04:10.1/driver"); drv != "" {
		t.Fatalf("VF bound to %q with autoprobe off", drv)
	}
	// pci_device_can_probe: while autoprobe is off, a VF binds only through
	// driver_override, whether by drivers_probe or by bind.
	h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:04:10.1")
	if drv, _ := host.LinkBase(h.FS, "/sys/bus/pci/devices/0000:04:10.1/driver"); drv != "" {
		t.Fatalf("drivers_probe bound the VF to %q with autoprobe off", drv)
	}
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbevf/bind", "0000:04:10.1"); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("bind with autoprobe off: %v, want ENODEV", err)
	}
	h.FS.WriteAttr(pf+"/sriov_drivers_autoprobe", "1")
	h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:04:10.1")
	if drv, _ := host.LinkBase(h.FS, "/sys/bus/pci/devices/0000:04:10.1/driver"); drv != "ixgbevf" {
		t.Fatalf("drivers_probe with autoprobe on bound %q, want ixgbevf", drv)
	}
}

func TestDriverCoreBinding(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	h.FS.WriteAttr(pf+"/sriov_numvfs", "1")
	vf := "0000:04:10.1"
	dev := "/sys/bus/pci/devices/" + vf
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/unbind", vf); !errors.Is(err, unix.ENODEV) {
		t.Errorf("unbind from a driver it is not bound to: %v, want ENODEV", err)
	}
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbevf/bind", vf); !errors.Is(err, unix.EBUSY) {
		t.Errorf("bind of a bound device: %v, want EBUSY", err)
	}
	h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbevf/unbind", vf)
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/bind", vf); !errors.Is(err, unix.ENODEV) {
		t.Errorf("vfio-pci bind without driver_override: %v, want ENODEV (no ID match)", err)
	}
	h.FS.WriteAttr(dev+"/driver_override", "vfio-pci")
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers_probe", vf); err != nil {
		t.Fatal(err)
	}
	g, _ := host.LinkBase(h.FS, dev+"/iommu_group")
	if drv, _ := host.LinkBase(h.FS, dev+"/driver"); drv != "vfio-pci" || g == "" {
		t.Fatalf("after override+probe: driver %q group %q", drv, g)
	}
	if _, err := os.Stat(filepath.Join(root, "dev/vfio", g)); err != nil {
		t.Fatalf("/dev/vfio/%s: %v", g, err)
	}
	h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/unbind", vf)
	if _, err := os.Stat(filepath.Join(root, "dev/vfio", g)); !os.IsNotExist(err) {
		t.Error("/dev/vfio node left after unbind")
	}
	if err := h.FS.WriteAttr(pf+"/sriov_totalvfs", "1"); !errors.Is(err, unix.EACCES) {
		t.Errorf("write to read-only sriov_totalvfs: %v", err)
	}
	if err := h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:99:00.0"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("probe of a missing device: %v, want ENODEV", err)
	}
}

func TestSharedGroupIsUnviable(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{SharedGroup: true})
	h.FS.WriteAttr(pf+"/sriov_drivers_autoprobe", "0")
	h.FS.WriteAttr(pf+"/sriov_numvfs", "1")
	vf := "/sys/bus/pci/devices/0000:04:10.1"
	h.FS.WriteAttr(vf+"/driver_override", "vfio-pci")
	h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:04:10.1")
	g, _ := host.LinkBase(h.FS, vf+"/iommu_group")
	if _, err := os.Stat(filepath.Join(root, "dev/vfio", g)); !os.IsNotExist(err) {
		t.Fatal("/dev/vfio node made for a group whose PF is on ixgbe")
	}
}

func TestNetlinkErrors(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	if err := h.Links.SetVFMAC("eth3", 0, mac); !errors.Is(err, unix.EINVAL) {
		t.Errorf("VF 0 with no VFs: %v, want EINVAL", err)
	}
	if err := h.Links.SetVFMAC("eth0", 0, mac); !errors.Is(err, flows.ErrNotSupported) {
		t.Errorf("VF settings on eth0: %v, want not supported", err)
	}
	if err := h.Links.SetVFMAC("nosuch", 0, mac); err == nil || !strings.Contains(err.Error(), "Link not found") {
		t.Errorf("missing link: %v", err)
	}
	h.FS.WriteAttr(pf+"/sriov_numvfs", "1")
	mc, _ := net.ParseMAC("01:00:5e:00:00:01")
	if err := h.Links.SetVFMAC("eth3", 0, mc); !errors.Is(err, unix.EINVAL) {
		t.Errorf("multicast MAC: %v, want EINVAL", err)
	}
	if err := h.Links.SetVFVLAN("eth3", 0, 4096, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("VLAN 4096: %v, want EINVAL", err)
	}
	if err := h.Links.SetVFMAC("eth3", 0, mac); err != nil {
		t.Fatal(err)
	}
	vfs, _ := h.Links.VFs("eth3")
	if len(vfs) != 1 || vfs[0].MAC.String() != "02:00:00:00:00:01" || !vfs[0].Spoofchk {
		t.Fatalf("VFs = %+v", vfs)
	}
}

func TestRxQueuesShrinkWithVFs(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	for _, c := range []struct{ vfs, want int }{{0, 16}, {2, 4}, {31, 4}, {32, 2}, {63, 2}} {
		h.FS.WriteAttr(pf+"/sriov_numvfs", "0")
		if c.vfs > 0 {
			h.FS.WriteAttr(pf+"/sriov_numvfs", itoa(c.vfs))
		}
		if q, _ := h.Ethtool.RxQueues("eth3"); q != c.want {
			t.Errorf("%d VFs: %d RX queues, want %d", c.vfs, q, c.want)
		}
	}
	_, igb := open(t, hostsim.Options{Model: "82576"})
	if _, fixed, _ := igb.Ethtool.Feature("eth3", "rx-ntuple-filter"); !fixed {
		t.Error("82576 ntuple is not fixed off")
	}
	if err := igb.Ethtool.SetFeature("eth3", "rx-ntuple-filter", true); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("ntuple on for igb: %v", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestFaultsFireOnceAfterN(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", After: 1, Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "1"); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "0"); !errors.Is(err, unix.EIO) {
		t.Fatalf("second write: %v, want EIO", err)
	}
	if n, _ := host.ReadInt(h.FS, pf+"/sriov_numvfs"); n != 1 {
		t.Fatalf("a failed write changed numvfs to %d", n)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "0"); err != nil {
		t.Fatalf("third write: %v", err)
	}
	// Op "*" counts every kind of call: after a write and a netlink read,
	// the ethtool read is the one that fails.
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "*", Match: "*", After: 2, Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "1"); err != nil {
		t.Fatalf("write under op *: %v", err)
	}
	if _, err := h.Links.VFs("eth3"); err != nil {
		t.Fatalf("netlink read under op *: %v", err)
	}
	if _, _, err := h.Ethtool.Feature("eth3", "rx-ntuple-filter"); !errors.Is(err, unix.EIO) {
		t.Fatalf("third call under op *: %v, want EIO", err)
	}
}

// A file syscall that fails inside the model of one attribute write (here
// VF 1's /sys/bus/pci/devices link, blocked by a directory) leaves the tree
// as it was, as the kernel's sriov_enable error path does: no VF 0, no half
// VF 1, sriov_numvfs still 0.
func TestFailedWriteLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	block := filepath.Join(root, "sys/bus/pci/devices/0000:04:10.3/x")
	if err := os.MkdirAll(block, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := hostsim.Snapshot(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "2"); err == nil {
		t.Fatal("write 2 to sriov_numvfs succeeded through a blocked VF link")
	}
	after, err := hostsim.Snapshot(root)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("the failed write changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// mustSnapshot is the simulated host at root, byte for byte.
var mustSnapshot = simtest.Snapshot

// A simulator directory that is a symlink, or holds one, is refused: the
// simulator would otherwise write its state wherever the link points.
func TestOpenRefusesALinkedSimulatorDir(t *testing.T) {
	t.Parallel()
	root, _ := open(t, hostsim.Options{})
	outside := t.TempDir()
	sim := filepath.Join(root, hostsim.MarkerDir)
	if err := os.Rename(sim, filepath.Join(outside, "sim")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "sim"), sim); err != nil {
		t.Fatal(err)
	}
	if _, err := hostsim.Open(root); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open with %s a symlink out of the root = %v, want a refusal", hostsim.MarkerDir, err)
	}
	if err := os.Remove(sim); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(outside, "sim"), sim); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(sim, "state.json")
	if err := os.Rename(state, filepath.Join(outside, "state.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "state.json"), state); err != nil {
		t.Fatal(err)
	}
	if _, err := hostsim.Open(root); err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("Open with state.json a symlink out of the root = %v, want a refusal", err)
	}
}
