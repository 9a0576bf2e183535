// Package sriov discovers SR-IOV physical functions and their virtual
// functions through sysfs (LookupPF, LookupVF, ListVFs), enables and
// disables VFs following the kernel's rules (drivers/pci/iov.c: SetNumVFs,
// WaitVFs, SetAutoprobe), finds the interfaces carrying a default route,
// names PCI devices (Describe), and holds vfbypass's one check of an
// interface name (ValidIfname, CheckIfname) and of a PCI address
// (ValidPCIAddress). VF settings (MAC, VLAN, trust, spoofchk) go over
// rtnetlink through host.Links, not through this package.
package sriov

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// ErrNoInterface: the named network interface does not exist.
var ErrNoInterface = errors.New("no such network interface")

// ErrNotPCI: the interface is not backed by a PCI device.
var ErrNotPCI = errors.New("not a PCI network device")

// ErrNoSRIOV: the device has no SR-IOV capability.
var ErrNoSRIOV = errors.New("device has no SR-IOV capability")

// PF is a physical function as sysfs shows it.
type PF struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Driver    string `json:"driver"`
	Vendor    string `json:"vendor"`
	Device    string `json:"device"`
	TotalVFs  int    `json:"total_vfs"`
	NumVFs    int    `json:"num_vfs"`
	Autoprobe bool   `json:"drivers_autoprobe"`
	VFDevice  string `json:"vf_device,omitempty"`
}

// DevDir is the PF's PCI device directory.
func (p PF) DevDir() string { return DeviceDir(p.Address) }

// DeviceDir is a PCI device's directory in sysfs.
func DeviceDir(addr string) string { return "/sys/bus/pci/devices/" + addr }

// NetDir is a network interface's directory in sysfs.
func NetDir(ifname string) string { return "/sys/class/net/" + ifname }

// ValidIfname reports whether s can name an existing network interface:
// what the kernel's dev_valid_name (net/core/dev.c) accepts, 1 to 15 bytes
// (IFNAMSIZ - 1), not "." or "..", no '/', ':' or white space (isspace),
// and no '%', since register_netdevice takes a name with '%' as a template
// (dev_alloc_name), so no interface has one. It is the one check of an
// interface name in vfbypass.
func ValidIfname(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/:% \t\n\v\f\r")
}

// CheckIfname is ValidIfname as the error every command gives (*outcome.BadInput).
func CheckIfname(s string) error {
	if ValidIfname(s) {
		return nil
	}
	return outcome.Invalid("give the PF's interface name, e.g. eth3 (see 'ip link')",
		"interface name %q is not valid (1-15 characters, none of '/', ':', '%%' or white space)", s)
}

// pciAddress is a PCI address as sysfs names devices (pci_name):
// domain (4 hex digits, more on hosts with VMD-style domains above
// 0xffff), bus, device (0..1f), function (0..7).
var pciAddress = regexp.MustCompile(`^[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$`)

// ValidPCIAddress reports whether s is a PCI address in sysfs form
// (DDDD:BB:DD.F): the one check of a PCI address in vfbypass.
func ValidPCIAddress(s string) bool { return pciAddress.MatchString(s) }

// LookupPF reads the PF behind network interface name. A device without
// SR-IOV is returned with TotalVFs -1 and an error wrapping ErrNoSRIOV.
func LookupPF(f host.FS, name string) (PF, error) {
	if !ValidIfname(name) {
		return PF{}, fmt.Errorf("interface %q: %w", name, ErrNoInterface)
	}
	// Only a missing path means a missing interface or a non-PCI one; any
	// other errno (EIO, EACCES...) is reported as itself, not as bad input.
	if _, err := f.Stat(NetDir(name)); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return PF{}, fmt.Errorf("interface %s: %w", name, err)
		}
		return PF{}, fmt.Errorf("interface %s (%s): %w", name, f.Path(NetDir(name)), ErrNoInterface)
	}
	devLink := NetDir(name) + "/device"
	target, err := f.Readlink(devLink)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EINVAL) {
			return PF{}, fmt.Errorf("interface %s: %w", name, err)
		}
		return PF{}, fmt.Errorf("interface %s: %s: %w", name, f.Path(devLink), ErrNotPCI)
	}
	addr := path.Base(target)
	if _, err := f.Stat(DeviceDir(addr)); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return PF{}, fmt.Errorf("interface %s: %w", name, err)
		}
		return PF{}, fmt.Errorf("interface %s: device %s is not under /sys/bus/pci/devices: %w", name, addr, ErrNotPCI)
	}
	p := PF{Name: name, Address: addr, TotalVFs: -1}
	dir := DeviceDir(addr)
	if p.Driver, err = host.LinkBase(f, dir+"/driver"); err != nil {
		return p, fmt.Errorf("interface %s: read driver of %s: %w", name, addr, err)
	}
	p.Vendor, _ = host.ReadString(f, dir+"/vendor")
	p.Device, _ = host.ReadString(f, dir+"/device")
	total, err := host.ReadInt(f, dir+"/sriov_totalvfs")
	if errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("interface %s (%s %s:%s): %w", name, addr, trimHex(p.Vendor), trimHex(p.Device), ErrNoSRIOV)
	}
	if err != nil {
		return p, fmt.Errorf("interface %s: %w", name, err)
	}
	p.TotalVFs = total
	if p.NumVFs, err = host.ReadInt(f, dir+"/sriov_numvfs"); err != nil {
		return p, fmt.Errorf("interface %s: %w", name, err)
	}
	// sriov_drivers_autoprobe came in Linux 4.12 and sriov_vf_device in
	// 4.17: absent, autoprobe is on and the VF device ID unknown; any other
	// error is an error, not a default (an EIO taken for "on" would make a
	// rollback leave autoprobe off).
	p.Autoprobe = true
	if ap, err := host.ReadInt(f, dir+"/sriov_drivers_autoprobe"); err == nil {
		p.Autoprobe = ap != 0
	} else if !errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("interface %s: %w", name, err)
	}
	if v, err := host.ReadString(f, dir+"/sriov_vf_device"); err == nil {
		p.VFDevice = v
	} else if !errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("interface %s: %w", name, err)
	}
	return p, nil
}

func trimHex(s string) string { return strings.TrimPrefix(s, "0x") }

// VF is a virtual function as sysfs shows it.
type VF struct {
	Index      int    `json:"index"`
	Address    string `json:"address"`
	Driver     string `json:"driver"`
	IOMMUGroup string `json:"iommu_group,omitempty"`
	Netdev     string `json:"netdev,omitempty"`
}

// LookupVF resolves VF index k of PF pf (the sysfs virtfnK link).
func LookupVF(f host.FS, pf string, k int) (VF, error) {
	link := NetDir(pf) + "/device/virtfn" + strconv.Itoa(k)
	target, err := f.Readlink(link)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			n, _ := host.ReadInt(f, NetDir(pf)+"/device/sriov_numvfs")
			return VF{}, fmt.Errorf("VF %d of %s does not exist (%s missing; %d VFs enabled): %w", k, pf, link, n, fs.ErrNotExist)
		}
		return VF{}, fmt.Errorf("VF %d of %s: %w", k, pf, err)
	}
	v := VF{Index: k, Address: path.Base(target)}
	dir := DeviceDir(v.Address)
	if v.Driver, err = host.LinkBase(f, dir+"/driver"); err != nil {
		return v, fmt.Errorf("VF %d of %s (%s): read driver: %w", k, pf, v.Address, err)
	}
	if v.IOMMUGroup, err = host.LinkBase(f, dir+"/iommu_group"); err != nil {
		return v, fmt.Errorf("VF %d of %s (%s): read IOMMU group: %w", k, pf, v.Address, err)
	}
	if ents, err := f.ReadDir(dir + "/net"); err == nil && len(ents) > 0 {
		v.Netdev = ents[0].Name()
	}
	return v, nil
}

// ListVFs returns the PF's current VFs in index order.
func ListVFs(f host.FS, pf string) ([]VF, error) {
	n, err := host.ReadInt(f, NetDir(pf)+"/device/sriov_numvfs")
	if err != nil {
		return nil, fmt.Errorf("list VFs of %s: %w", pf, err)
	}
	out := make([]VF, 0, n)
	for k := 0; k < n; k++ {
		v, err := LookupVF(f, pf, k)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// SetNumVFs writes n to the PF's sriov_numvfs and explains the kernel's
// refusals.
func SetNumVFs(f host.FS, p PF, n int) error {
	attr := p.DevDir() + "/sriov_numvfs"
	err := f.WriteAttr(attr, strconv.Itoa(n))
	if err == nil {
		return nil
	}
	why := ""
	switch {
	case errors.Is(err, syscall.ERANGE):
		why = fmt.Sprintf(" (%s allows at most %d VFs)", p.Name, p.TotalVFs)
	case errors.Is(err, syscall.EBUSY) && n == 0:
		// Disabling is refused by the PF's driver (sriov_configure), not
		// by the count rule: a VF is still assigned to a guest or in use.
		why = " (the driver refuses to remove the VFs while one is in use: stop what holds them, e.g. a VM with a VF assigned or a DPDK process, see 'vfbypass status " + p.Name + "')"
	case errors.Is(err, syscall.EBUSY):
		why = " (VFs already enabled: the kernel needs 0 first; run \"vfbypass down " + p.Name + "\" or write 0)"
	case errors.Is(err, syscall.EPERM) && n == 0:
		// ixgbe_disable_sriov (6.1, 6.12): pci_vfs_assigned.
		why = " (the driver keeps VFs that are assigned to a guest: ixgbe refuses to remove them while any is assigned; shut down or detach the guests that hold them, then try again)"
	case errors.Is(err, syscall.EPERM):
		// ixgbe_pci_sriov_enable (6.1, 6.12): the pool limit.
		why = fmt.Sprintf(" (the driver has fewer pools than that: ixgbe allows 63 VFs with one traffic class, 31 with up to 4, 15 with more, less one per offloaded macvlan; ask for fewer VFs or switch DCB or macvlan offload off on %s)", p.Name)
	case errors.Is(err, syscall.EINVAL) && n > 0:
		// __ixgbe_enable_sriov (6.1, 6.12): "SRIOV is not supported with XDP".
		why = fmt.Sprintf(" (the driver refuses SR-IOV: ixgbe does while a native XDP program is attached to %s; stop what attached it, e.g. 'vfbypass rx --queue', or 'ip link set %s xdp off')", p.Name, p.Name)
	case errors.Is(err, syscall.ENOENT):
		why = " (no driver bound to the PF)"
	case errors.Is(err, syscall.EOPNOTSUPP):
		why = fmt.Sprintf(" (driver %s cannot configure SR-IOV)", p.Driver)
	}
	return fmt.Errorf("set %d VFs on %s: write %d to %s: %w%s", n, p.Name, n, f.Path(attr), err, why)
}

// WaitVFs waits until the PF has n VFs whose PCI devices exist.
func WaitVFs(ctx context.Context, f host.FS, pf string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var missing string
		for k := 0; k < n; k++ {
			v, err := LookupVF(f, pf, k)
			if err == nil {
				_, err = f.Stat(DeviceDir(v.Address))
			}
			if err != nil {
				missing = fmt.Sprintf("VF %d: %v", k, err)
				break
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %d VFs of %s: still missing after %s: %s", n, pf, timeout, missing)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d VFs of %s: %w", n, pf, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// SetAutoprobe writes sriov_drivers_autoprobe.
func SetAutoprobe(f host.FS, p PF, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	attr := p.DevDir() + "/sriov_drivers_autoprobe"
	if err := f.WriteAttr(attr, v); err != nil {
		return fmt.Errorf("set drivers autoprobe of %s: write %s to %s: %w", p.Name, v, f.Path(attr), err)
	}
	return nil
}

// DefaultRouteInterfaces lists the interfaces that carry an IPv4 or IPv6
// default route, from /proc/net/route and /proc/net/ipv6_route.
func DefaultRouteInterfaces(f host.FS) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	b, err := f.ReadFile("/proc/net/route")
	if err != nil {
		return nil, fmt.Errorf("read default routes: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		fl := strings.Fields(line)
		if i == 0 || len(fl) < 8 {
			continue
		}
		// Iface Destination Gateway Flags RefCnt Use Metric Mask
		if fl[1] == "00000000" && fl[7] == "00000000" {
			add(fl[0])
		}
	}
	if b, err := f.ReadFile("/proc/net/ipv6_route"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fl := strings.Fields(line)
			// dst dstlen src srclen nexthop metric refcnt use flags iface
			if len(fl) == 10 && fl[0] == strings.Repeat("0", 32) && fl[1] == "00" && fl[9] != "lo" {
				add(fl[9])
			}
		}
	}
	return out, nil
}
