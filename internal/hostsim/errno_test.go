package hostsim_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// An error the simulator meets on its own files (here ENOTDIR, a parent
// replaced by a file, or ELOOP, a symlink loop: tests run as root, so
// permissions cannot make one) is reported with its path, not taken for
// "absent" and turned into the kernel errno the model returns for a missing
// interface, driver or device, nor into a wrong decision.
func TestTreeErrorsAreNotAbsence(t *testing.T) {
	t.Parallel()
	// fileFor replaces the directory rel with a file: Lstat below it gives
	// ENOTDIR.
	fileFor := func(rel string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			p := filepath.Join(root, rel)
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// loopFor replaces rel (followed through its links) with a symlink to
	// itself: going through it gives ELOOP.
	loopFor := func(rel string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			p, err := filepath.EvalSymlinks(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Base(p), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		spoil  func(t *testing.T, root string)
		call   func(h *host.Host) error
		want   syscall.Errno
		was    string // what the call said before: the error must not say it
		inPath string // part of the path the error must name
	}{
		{"netlink VFs, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { _, err := h.Links.VFs("eth3"); return err },
			unix.ENOTDIR, "Link not found", "sys/class/net/eth3"},
		{"netlink set MAC, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { return h.Links.SetVFTrust("eth3", 0, true) },
			unix.ENOTDIR, "Link not found", "sys/class/net/eth3"},
		{"ethtool feature, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { _, _, err := h.Ethtool.Feature("eth3", "rx-ntuple-filter"); return err },
			unix.ENOTDIR, "no such device", "sys/class/net/eth3"},
		{"ethtool set feature, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { return h.Ethtool.SetFeature("eth3", "rx-ntuple-filter", true) },
			unix.ENOTDIR, "no such device", "sys/class/net/eth3"},
		{"ethtool channels, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { _, err := h.Ethtool.RxQueues("eth3"); return err },
			unix.ENOTDIR, "no such device", "sys/class/net/eth3"},
		{"rule table, /sys/class/net a file", fileFor("sys/class/net"),
			func(h *host.Host) error { _, err := h.Rules("eth3"); return err },
			unix.ENOTDIR, "no such device", "sys/class/net/eth3"},
		{"bind, drivers a symlink loop", loopFor("sys/bus/pci/drivers"),
			func(h *host.Host) error { return h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbe/bind", "0000:04:00.1") },
			unix.ELOOP, "no such file", "sys/bus/pci/drivers/ixgbe"},
		{"drivers_probe, devices a file", fileFor("sys/bus/pci/devices"),
			func(h *host.Host) error { return h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:04:00.1") },
			unix.ENOTDIR, "no such device", "sys/bus/pci/devices/0000:04:00.1"},
		{"unbind, devices a file", fileFor("sys/bus/pci/devices"),
			func(h *host.Host) error { return h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbe/unbind", "0000:04:00.1") },
			unix.ENOTDIR, "no such device", "sys/bus/pci/devices/0000:04:00.1"},
		// sriov_totalvfs unreadable was read as 0: ERANGE for any count.
		{"sriov_numvfs, sriov_totalvfs a symlink loop", loopFor(pf + "/sriov_totalvfs"),
			func(h *host.Host) error { return h.FS.WriteAttr(pf+"/sriov_numvfs", "2") },
			unix.ELOOP, "result too large", "sriov_totalvfs"},
		// driver_override unreadable was read as unset.
		{"drivers_probe, driver_override a symlink loop", loopFor(pf + "/driver_override"),
			func(h *host.Host) error {
				if err := h.FS.WriteAttr("/sys/bus/pci/drivers/ixgbe/unbind", "0000:04:00.1"); err != nil {
					return err
				}
				return h.FS.WriteAttr("/sys/bus/pci/drivers_probe", "0000:04:00.1")
			},
			unix.ELOOP, "", "driver_override"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, h := open(t, hostsim.Options{})
			c.spoil(t, root)
			err := c.call(h)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v; want %v (the error the tree gave)", err, c.want)
			}
			if c.was != "" && strings.Contains(err.Error(), c.was) {
				t.Errorf("got %v; the tree's error was taken for absence (%q)", err, c.was)
			}
			if !strings.Contains(err.Error(), filepath.Join(root, c.inPath)) && !strings.Contains(err.Error(), c.inPath) {
				t.Errorf("got %v; want the path %s named", err, c.inPath)
			}
		})
	}
}

// Modules.Loaded has no error to return: an unreadable /sys/module is not
// taken for "not loaded" (which would make down unload, or up reload).
func TestModuleLoadedOnTreeError(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	if err := os.RemoveAll(filepath.Join(root, "sys/module")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys/module"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !h.Modules.Loaded("vfio-pci") {
		t.Error("Loaded(vfio-pci) = false with /sys/module a file (ENOTDIR); want the error not taken for absence")
	}
}

// A device name with a '/' names no PCI device (bus_find_device_by_name):
// ENODEV, not a look-up of a path below another device.
func TestDriversProbeNameWithSlash(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	for _, name := range []string{"0000:04:00.1/vendor", "../devices/0000:04:00.1", "..", ""} {
		if err := h.FS.WriteAttr("/sys/bus/pci/drivers_probe", name); !errors.Is(err, unix.ENODEV) {
			t.Errorf("drivers_probe %q: %v; want ENODEV", name, err)
		}
	}
}
