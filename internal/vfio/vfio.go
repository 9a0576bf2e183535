// Package vfio binds PCI devices to vfio-pci and back through sysfs
// (driver_override, unbind, drivers_probe), checks IOMMU group viability and
// finds the /dev/vfio node userspace opens (Documentation/driver-api/vfio.rst).
package vfio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// Driver is the name of the vfio PCI driver.
const Driver = "vfio-pci"

// ErrNoIOMMU: the host has no IOMMU groups and vfio's no-IOMMU mode is off.
var ErrNoIOMMU = errors.New("no IOMMU")

// ErrUnviable: a device shares its IOMMU group with a device bound to
// another driver.
var ErrUnviable = errors.New("IOMMU group not viable")

func devDir(addr string) string { return "/sys/bus/pci/devices/" + addr }

// DriverOf returns the driver bound to addr, "" when none.
func DriverOf(f host.FS, addr string) (string, error) {
	d, err := host.LinkBase(f, devDir(addr)+"/driver")
	if err != nil {
		return "", fmt.Errorf("read driver of %s: %w", addr, err)
	}
	return d, nil
}

// Override returns addr's driver_override, "" when unset.
func Override(f host.FS, addr string) (string, error) {
	s, err := host.ReadString(f, devDir(addr)+"/driver_override")
	if err != nil {
		return "", fmt.Errorf("read driver_override of %s: %w", addr, err)
	}
	if s == "(null)" {
		s = ""
	}
	return s, nil
}

// SetOverride writes driver_override; "" clears it.
func SetOverride(f host.FS, addr, driver string) error {
	p := devDir(addr) + "/driver_override"
	if err := f.WriteAttr(p, driver); err != nil {
		return fmt.Errorf("set driver_override of %s to %q: write %s: %w", addr, driver, f.Path(p), err)
	}
	return nil
}

// Unbind detaches addr from its driver; a device without a driver is left alone.
func Unbind(f host.FS, addr string) error {
	drv, err := DriverOf(f, addr)
	if err != nil || drv == "" {
		return err
	}
	p := "/sys/bus/pci/drivers/" + drv + "/unbind"
	if err := f.WriteAttr(p, addr); err != nil {
		return fmt.Errorf("unbind %s from %s: write %s: %w", addr, drv, f.Path(p), err)
	}
	return nil
}

// Probe asks the PCI core to bind addr to a matching driver (driver_override first).
func Probe(f host.FS, addr string) error {
	p := "/sys/bus/pci/drivers_probe"
	if err := f.WriteAttr(p, addr); err != nil {
		return fmt.Errorf("probe drivers for %s: write %s: %w", addr, f.Path(p), err)
	}
	return nil
}

// Group returns addr's IOMMU group number, "" when it has none.
func Group(f host.FS, addr string) (string, error) {
	g, err := host.LinkBase(f, devDir(addr)+"/iommu_group")
	if err != nil {
		return "", fmt.Errorf("read IOMMU group of %s: %w", addr, err)
	}
	return g, nil
}

// GroupMember is a device in an IOMMU group and its driver.
type GroupMember struct {
	Address string `json:"address"`
	Driver  string `json:"driver"`
}

// Members lists the devices of IOMMU group g.
func Members(f host.FS, g string) ([]GroupMember, error) {
	dir := "/sys/kernel/iommu_groups/" + g + "/devices"
	ents, err := f.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list IOMMU group %s: %w", g, err)
	}
	var out []GroupMember
	for _, e := range ents {
		drv, err := DriverOf(f, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, GroupMember{Address: e.Name(), Driver: drv})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// CheckViable returns an error wrapping ErrUnviable that names every device
// in addr's group, other than the ones listed in also, that is bound to a
// driver other than vfio-pci.
func CheckViable(f host.FS, addr string, also ...string) error {
	g, err := Group(f, addr)
	if err != nil || g == "" {
		return err
	}
	ms, err := Members(f, g)
	if err != nil {
		return err
	}
	var bad []string
	for _, m := range ms {
		if m.Address == addr || m.Driver == "" || m.Driver == Driver || contains(also, m.Address) {
			continue
		}
		bad = append(bad, m.Address+" (driver "+m.Driver+")")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s is in IOMMU group %s with %s: %w; every device of the group must be bound to vfio-pci or to no driver (bind them too, or choose a VF in a group of its own)", addr, g, strings.Join(bad, ", "), ErrUnviable)
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// IOMMUPresent reports whether the kernel has any IOMMU groups.
//
// A missing /sys/kernel/iommu_groups is no IOMMU; any other error reading it
// is returned, naming the directory, rather than taken for "no IOMMU".
func IOMMUPresent(f host.FS) (bool, error) {
	ents, err := f.ReadDir("/sys/kernel/iommu_groups")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read IOMMU groups %s: %w", f.Path("/sys/kernel/iommu_groups"), err)
	}
	return len(ents) > 0, nil
}

// NoIOMMUParam is vfio's unsafe no-IOMMU mode switch.
const NoIOMMUParam = "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"

// NoIOMMUEnabled reports whether vfio's no-IOMMU mode is on.
func NoIOMMUEnabled(f host.FS) bool {
	s, err := host.ReadString(f, NoIOMMUParam)
	return err == nil && (s == "Y" || s == "1")
}

// DeviceNode is the /dev/vfio node of group g.
func DeviceNode(f host.FS, g string) string {
	if _, err := f.Stat("/dev/vfio/" + g); err == nil {
		return "/dev/vfio/" + g
	}
	if _, err := f.Stat("/dev/vfio/noiommu-" + g); err == nil {
		return "/dev/vfio/noiommu-" + g
	}
	return ""
}

// WaitDeviceNode waits for group g's /dev/vfio node.
func WaitDeviceNode(ctx context.Context, f host.FS, g string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if n := DeviceNode(f, g); n != "" {
			return n, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("wait for /dev/vfio/%s: not there after %s: %w", g, timeout, fs.ErrNotExist)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Binding is a device's driver state, recorded before a bind so it can be restored.
type Binding struct {
	Address  string `json:"address"`
	Driver   string `json:"driver"`
	Override string `json:"override"`
}

// Current reads addr's binding.
func Current(f host.FS, addr string) (Binding, error) {
	b := Binding{Address: addr}
	var err error
	if b.Driver, err = DriverOf(f, addr); err != nil {
		return b, err
	}
	if b.Override, err = Override(f, addr); err != nil {
		return b, err
	}
	return b, nil
}

// Bind moves addr to driver with driver_override, unbind and drivers_probe,
// and checks that the PCI core bound it.
func Bind(f host.FS, addr, driver string) error {
	if err := SetOverride(f, addr, driver); err != nil {
		return err
	}
	cur, err := DriverOf(f, addr)
	if err != nil {
		return err
	}
	if cur == driver {
		return nil
	}
	if err := Unbind(f, addr); err != nil {
		return err
	}
	if err := Probe(f, addr); err != nil {
		return err
	}
	got, err := DriverOf(f, addr)
	if err != nil {
		return err
	}
	if got != driver {
		if got == "" {
			got = "no driver"
		}
		return fmt.Errorf("bind %s to %s: the PCI core bound it to %s (is the %s module loaded?)", addr, driver, got, driver)
	}
	return nil
}

// Restore returns addr to the binding b recorded. It is idempotent.
func Restore(f host.FS, b Binding) error {
	if _, err := f.Stat(devDir(b.Address)); errors.Is(err, fs.ErrNotExist) {
		return nil // the device is gone (its VFs were disabled): nothing to restore
	}
	cur, err := Current(f, b.Address)
	if err != nil {
		return err
	}
	if cur.Override != b.Override {
		if err := SetOverride(f, b.Address, b.Override); err != nil {
			return err
		}
	}
	if cur.Driver == b.Driver {
		return nil
	}
	if err := Unbind(f, b.Address); err != nil {
		return err
	}
	if b.Driver == "" {
		return nil
	}
	p := "/sys/bus/pci/drivers/" + b.Driver + "/bind"
	if err := f.WriteAttr(p, b.Address); err != nil {
		// drivers_probe picks the matching driver when a direct bind is refused.
		if perr := Probe(f, b.Address); perr != nil {
			return fmt.Errorf("rebind %s to %s: write %s: %w", b.Address, b.Driver, f.Path(p), err)
		}
	}
	got, err := DriverOf(f, b.Address)
	if err != nil {
		return err
	}
	if got != b.Driver {
		return fmt.Errorf("rebind %s to %s: bound to %q instead", b.Address, b.Driver, got)
	}
	return nil
}

// BoundDevices lists the PCI devices bound to driver.
func BoundDevices(f host.FS, driver string) ([]string, error) {
	ents, err := f.ReadDir("/sys/bus/pci/drivers/" + driver)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list devices of driver %s: %w", driver, err)
	}
	var out []string
	for _, e := range ents {
		if sriov.ValidPCIAddress(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Holder is a process that has a device node open.
type Holder struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

func (h Holder) String() string { return fmt.Sprintf("pid %d (%s)", h.PID, h.Comm) }

// Holders lists the processes with node (e.g. /dev/vfio/43) open, from
// /proc/PID/fd. A VF whose group is open cannot be unbound or removed: the
// kernel waits for the process to let go.
func Holders(f host.FS, node string) []Holder {
	var out []Holder
	procs, err := f.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := f.ReadDir("/proc/" + p.Name() + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			t, err := f.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name())
			if err == nil && t == node {
				comm, _ := host.ReadString(f, "/proc/"+p.Name()+"/comm")
				out = append(out, Holder{PID: pid, Comm: comm})
				break
			}
		}
	}
	return out
}
