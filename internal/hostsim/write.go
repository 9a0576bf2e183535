package hostsim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
)

// simFS reads the tree as it is and applies the kernel's rules to writes.
type simFS struct {
	*host.RootFS
	s *Sim
}

// WriteAttr implements host.FS.
func (f *simFS) WriteAttr(p string, value string) error {
	p = path.Clean("/" + p)
	if err := f.s.fault("write", p); err != nil {
		return err
	}
	return f.s.lockedTx(func(st *state) error { return f.s.write(st, p, strings.TrimRight(value, "\n")) })
}

func (s *Sim) write(st *state, p, v string) error {
	if handled, err := s.writeBusOrModule(st, p, v); handled {
		return err
	}
	if ok, err := present(s.p(p)); err != nil || !ok {
		return orErrno(err, "open", p, unix.ENOENT)
	}
	// Resolved within the root, as the host's path lookup would: a link
	// in the tree never leads a write out of it.
	real, err := s.fs.InRoot(p, true)
	if err != nil {
		return fmt.Errorf("simulated host: %w", err)
	}
	if ok, err := present(real); err != nil || !ok {
		return orErrno(err, "open", p, unix.ENOENT) // a dangling link
	}
	return s.writeDeviceAttr(st, p, real, v)
}

// writeBusOrModule handles the attributes that are not a device's: the PCI
// bus's drivers_probe, a driver's bind and unbind, vfio's no-IOMMU switch.
// handled is false for any other path.
func (s *Sim) writeBusOrModule(st *state, p, v string) (handled bool, err error) {
	base, dir := path.Base(p), path.Dir(p)
	switch {
	case p == "/sys/bus/pci/drivers_probe":
		return true, s.probe(st, p, v)
	case strings.HasPrefix(p, "/sys/bus/pci/drivers/") && (base == "bind" || base == "unbind") && path.Dir(dir) == "/sys/bus/pci/drivers":
		drv := path.Base(dir)
		if ok, err := present(s.p(dir)); err != nil || !ok {
			return true, orErrno(err, "open", p, unix.ENOENT)
		}
		if base == "unbind" {
			return true, s.unbind(st, p, drv, v)
		}
		return true, s.bind(st, p, drv, v, false)
	case p == "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode":
		switch v {
		case "Y", "y", "1":
			v = "Y"
		case "N", "n", "0":
			v = "N"
		default:
			return true, errno("write", p, unix.EINVAL)
		}
		return true, s.writeFile(p, v)
	}
	return false, nil
}

// writeDeviceAttr writes a device attribute (host path p, in the tree at
// real) as its store method would.
func (s *Sim) writeDeviceAttr(st *state, p, real, v string) error {
	switch path.Base(p) {
	case "sriov_numvfs":
		return s.setNumVFs(st, p, real, v)
	case "sriov_drivers_autoprobe":
		if v != "0" && v != "1" {
			return errno("write", p, unix.EINVAL) // kstrtobool refuses it
		}
		return os.WriteFile(real, []byte(v+"\n"), 0o644)
	case "driver_override":
		if len(v) >= 4096 {
			return errno("write", p, unix.EINVAL)
		}
		if v == "" {
			v = "(null)"
		}
		return os.WriteFile(real, []byte(v+"\n"), 0o644)
	}
	// Attributes without a store method (vendor, device, sriov_totalvfs...).
	return errno("open", p, unix.EACCES)
}

// setNumVFs follows sriov_numvfs_store (drivers/pci/iov.c).
func (s *Sim) setNumVFs(st *state, p, real, v string) error {
	n, err := strconv.ParseUint(v, 0, 16)
	if err != nil {
		return errno("write", p, unix.EINVAL)
	}
	devDir := strings.TrimPrefix(filepath.Dir(real), s.root)
	totalS, err := readAttr(s.p(devDir + "/sriov_totalvfs"))
	if err != nil {
		return err
	}
	curS, err := readAttr(s.p(devDir + "/sriov_numvfs"))
	if err != nil {
		return err
	}
	total, _ := strconv.Atoi(totalS)
	cur, _ := strconv.Atoi(curS)
	if int(n) > total {
		return errno("write", p, unix.ERANGE)
	}
	if int(n) == cur {
		return nil
	}
	if ok, err := present(s.p(devDir + "/driver")); err != nil || !ok {
		return orErrno(err, "write", p, unix.ENOENT) // no driver bound
	}
	queuesBefore := st.rxQueues()
	if n == 0 {
		return s.disableVFs(st, devDir, real, cur, queuesBefore)
	}
	if cur != 0 {
		return errno("write", p, unix.EBUSY) // "VFs already enabled. Disable before enabling"
	}
	if st.ixgbe() && st.RSS.XDP == XDPNative {
		// __ixgbe_enable_sriov: "SRIOV is not supported with XDP".
		return errno("write", p, unix.EINVAL)
	}
	ap, err := readAttr(s.p(devDir + "/sriov_drivers_autoprobe"))
	if err != nil {
		return err
	}
	autoprobe := ap == "1"
	pfGroup, err := readlinkOpt(s.p(devDir + "/iommu_group"))
	if err != nil {
		return err
	}
	shared, err := present(filepath.Join(s.root, MarkerDir, "shared-group"))
	if err != nil {
		return err
	}
	for k := 0; k < int(n); k++ {
		if err := s.addVF(st, devDir, k, pfGroup, shared, autoprobe); err != nil {
			return err
		}
	}
	if err := os.WriteFile(real, []byte(strconv.Itoa(int(n))+"\n"), 0o644); err != nil {
		return err
	}
	return s.sriovReset(st, 0, queuesBefore)
}

// disableVFs removes the cur VFs of the PF at devDir (sriov_numvfs 0).
func (s *Sim) disableVFs(st *state, devDir, real string, cur, queuesBefore int) error {
	for k := cur - 1; k >= 0; k-- {
		if err := s.removeVF(st, devDir, k); err != nil {
			return err
		}
	}
	st.VFs = map[int]*vfSettings{}
	if err := os.WriteFile(real, []byte("0\n"), 0o644); err != nil {
		return err
	}
	return s.sriovReset(st, cur, queuesBefore)
}

// addVF makes VF k of the PF at devDir: its PCI device (in its own IOMMU
// group, or the PF's when shared), the physfn and virtfnK links, its
// rtnetlink settings, and its driver when autoprobe is on.
func (s *Sim) addVF(st *state, devDir string, k int, pfGroup string, shared, autoprobe bool) error {
	addr := path.Base(devDir)
	vaddr := vfAddress(addr, k)
	vdir := path.Dir(devDir) + "/" + vaddr
	iommu := pfGroup != ""
	if err := s.addDevice(vaddr, vdir, "0x8086", st.Model.VFDevice, "", iommu && !shared); err != nil {
		return err
	}
	if iommu && shared {
		if err := s.joinGroup(vaddr, vdir, path.Base(pfGroup)); err != nil {
			return err
		}
	}
	if err := s.relLink(devDir, vdir+"/physfn"); err != nil {
		return err
	}
	if err := s.relLink(vdir, devDir+"/virtfn"+strconv.Itoa(k)); err != nil {
		return err
	}
	st.VFs[k] = &vfSettings{MAC: "00:00:00:00:00:00", Spoofchk: true}
	if autoprobe {
		if err := s.attach(st, vaddr, st.Model.VFDriver); err != nil {
			return err
		}
	}
	return nil
}

// sriovReset is the reset of a sriov_numvfs change, from vfsBefore VFs to
// len(st.VFs) (queuesBefore the PF's queues then):
// ixgbe_pci_sriov_enable / ixgbe_pci_sriov_disable →
// ixgbe_sriov_reinit → ixgbe_setup_tc, a close on a running port (every
// rule deleted, the table refilled for the new queue layout), and on
// enabling __ixgbe_enable_sriov clears RSC (IXGBE_FLAG2_RSC_CAPABLE and
// _ENABLED), which nothing but a driver reload sets again; igb_sriov_reinit
// closes and opens the port (rules kept, the table refilled because the
// queue count changes).
func (s *Sim) sriovReset(st *state, vfsBefore, queuesBefore int) error {
	vfs := st.VFs
	if len(vfs) > 0 && st.ixgbe() {
		st.RSS.NoRSC = true
	}
	cause := fmt.Sprintf("sriov_numvfs %d → %d: ", vfsBefore, len(vfs))
	if st.ixgbe() && len(vfs) > 0 {
		cause += "ixgbe_pci_sriov_enable → ixgbe_sriov_reinit → ixgbe_setup_tc"
	} else if st.ixgbe() {
		cause += "ixgbe_pci_sriov_disable → ixgbe_sriov_reinit → ixgbe_setup_tc"
	} else {
		cause += "igb_sriov_reinit"
	}
	return s.portReset(st, resetClose, cause, queuesBefore)
}

// vfAddress is VF k's routing ID: PF RID + offset (128) + stride (2) * k.
func vfAddress(pf string, k int) string {
	var dom, bus, dev, fn int
	fmt.Sscanf(pf, "%04x:%02x:%02x.%d", &dom, &bus, &dev, &fn)
	rid := bus<<8 | dev<<3 | fn
	rid += 128 + 2*k
	return fmt.Sprintf("%04x:%02x:%02x.%d", dom, rid>>8, (rid>>3)&0x1f, rid&7)
}

func (s *Sim) removeVF(st *state, devDir string, k int) error {
	link := devDir + "/virtfn" + strconv.Itoa(k)
	t, err := readlinkOpt(s.p(link))
	if err != nil || t == "" {
		return err
	}
	vaddr := path.Base(t)
	drv, err := host.LinkBase(s.fs, "/sys/bus/pci/devices/"+vaddr+"/driver")
	if err != nil {
		return err
	}
	if drv != "" {
		if err := s.detach(st, vaddr, drv); err != nil {
			return err
		}
	}
	vdir := path.Dir(devDir) + "/" + vaddr
	g, err := readlinkOpt(s.p(vdir + "/iommu_group"))
	if err != nil {
		return err
	}
	if g != "" {
		gp := "/sys/kernel/iommu_groups/" + path.Base(g)
		if err := remove(s.p(gp + "/devices/" + vaddr)); err != nil {
			return err
		}
		ents, err := os.ReadDir(s.p(gp + "/devices"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("simulated host: %w", err)
		}
		if len(ents) == 0 {
			if err := os.RemoveAll(s.p(gp)); err != nil {
				return err
			}
		}
	}
	if err := remove(s.p(link)); err != nil {
		return err
	}
	if err := remove(s.p("/sys/bus/pci/devices/" + vaddr)); err != nil {
		return err
	}
	return os.RemoveAll(s.p(vdir))
}

// remove is os.Remove for the simulator's own bookkeeping: a path already
// gone is fine, any other failure is the call's failure (and lockedTx puts
// the tree back), never a silent half removal.
func remove(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Sim) devID(addr string) (string, error) {
	id, err := readAttr(s.p("/sys/bus/pci/devices/" + addr + "/device"))
	return strings.TrimPrefix(id, "0x"), err
}

// matches reports whether driver drv claims addr by its ID table.
func (s *Sim) matches(st *state, addr, drv string) (bool, error) {
	id, err := s.devID(addr)
	if err != nil {
		return false, err
	}
	switch drv {
	case st.Model.VFDriver:
		return id == st.Model.VFDevice, nil
	case st.Model.PFDriver:
		return "0x"+id == st.Model.Device, nil
	case "virtio-pci":
		return id == "1000", nil
	}
	return false, nil // vfio-pci has no static IDs: driver_override or new_id only
}

func (s *Sim) override(addr string) (string, error) {
	o, err := readAttr(s.p("/sys/bus/pci/devices/" + addr + "/driver_override"))
	if o == "(null)" {
		return "", err
	}
	return o, err
}

// device reports whether the PCI device addr exists, as
// bus_find_device_by_name would find it: a name with a '/' names none.
func (s *Sim) device(addr string) (bool, error) {
	if addr == "" || addr == "." || addr == ".." || strings.Contains(addr, "/") {
		return false, nil
	}
	return present(s.p("/sys/bus/pci/devices/" + addr))
}

// orErrno is err when the simulator could not read its tree, else the
// kernel's errno e.
func orErrno(err error, op, p string, e unix.Errno) error {
	if err != nil {
		return err
	}
	return errno(op, p, e)
}

// bind follows bind_store: ENODEV for a missing or non-matching device,
// EBUSY when it already has a driver.
func (s *Sim) bind(st *state, p, drv, addr string, probe bool) error {
	if ok, err := s.device(addr); err != nil || !ok {
		return orErrno(err, "write", p, unix.ENODEV)
	}
	cur, err := host.LinkBase(s.fs, "/sys/bus/pci/devices/"+addr+"/driver")
	if err != nil {
		return err
	}
	if cur != "" {
		return errno("write", p, unix.EBUSY)
	}
	ov, err := s.override(addr)
	if err != nil {
		return err
	}
	m, err := s.matches(st, addr, drv)
	if err != nil {
		return err
	}
	can, err := s.canProbe(addr)
	if err != nil {
		return err
	}
	if (ov != "" && ov != drv) || (ov == "" && !m) || !can {
		return errno("write", p, unix.ENODEV)
	}
	return s.attach(st, addr, drv)
}

// canProbe follows pci_device_can_probe (drivers/pci/pci-driver.c): a VF
// is probed only while its PF's sriov_drivers_autoprobe is on, or when it
// has a driver_override.
func (s *Sim) canProbe(addr string) (bool, error) {
	dev := "/sys/bus/pci/devices/" + addr
	vf, err := present(s.p(dev + "/physfn"))
	if err != nil || !vf {
		return err == nil, err
	}
	ov, err := s.override(addr)
	if err != nil || ov != "" {
		return err == nil, err
	}
	ap, err := readAttr(s.p(dev + "/physfn/sriov_drivers_autoprobe"))
	return err == nil && ap == "1", err
}

func (s *Sim) unbind(st *state, p, drv, addr string) error {
	if ok, err := s.device(addr); err != nil || !ok {
		return orErrno(err, "write", p, unix.ENODEV)
	}
	cur, err := host.LinkBase(s.fs, "/sys/bus/pci/devices/"+addr+"/driver")
	if err != nil {
		return err
	}
	if cur != drv {
		return errno("write", p, unix.ENODEV)
	}
	return s.detach(st, addr, drv)
}

// probe follows drivers_probe: an unbound device goes to its
// driver_override's driver when that is loaded, else to a matching driver.
func (s *Sim) probe(st *state, p, addr string) error {
	if ok, err := s.device(addr); err != nil || !ok {
		return orErrno(err, "write", p, unix.ENODEV)
	}
	cur, err := host.LinkBase(s.fs, "/sys/bus/pci/devices/"+addr+"/driver")
	if err != nil {
		return err
	}
	can, err := s.canProbe(addr)
	if err != nil {
		return err
	}
	if cur != "" || !can {
		return nil
	}
	ov, err := s.override(addr)
	if err != nil {
		return err
	}
	if ov != "" {
		if ok, err := present(s.p("/sys/bus/pci/drivers/" + ov)); err != nil || !ok {
			return err
		}
		return s.attach(st, addr, ov)
	}
	for _, d := range []string{st.Model.VFDriver, st.Model.PFDriver, "virtio-pci"} {
		m, err := s.matches(st, addr, d)
		if err != nil {
			return err
		}
		if !m {
			continue
		}
		loaded, err := present(s.p("/sys/bus/pci/drivers/" + d))
		if err != nil {
			return err
		}
		if loaded {
			return s.attach(st, addr, d)
		}
	}
	return nil
}

func (s *Sim) devDir(addr string) (string, error) {
	real, err := filepath.EvalSymlinks(s.p("/sys/bus/pci/devices/" + addr))
	if err != nil {
		return "", fmt.Errorf("simulated host: %w", err)
	}
	return strings.TrimPrefix(real, s.root), nil
}

// attach binds addr to drv: driver links, a netdev for a VF driver, a
// /dev/vfio node for vfio-pci when the group is viable.
func (s *Sim) attach(st *state, addr, drv string) error {
	if err := s.bindLinks(addr, drv); err != nil {
		return err
	}
	switch drv {
	case st.Model.VFDriver:
		dd, err := s.devDir(addr)
		if err != nil {
			return err
		}
		n, err := s.freeNetdev()
		if err != nil {
			return err
		}
		return s.addNetdev(dd, n, "00:00:00:00:00:00", 10)
	case "vfio-pci":
		return s.refreshVFIO(addr)
	}
	return nil
}

func (s *Sim) detach(st *state, addr, drv string) error {
	dd, err := s.devDir(addr)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(s.p(dd + "/net"))
	switch {
	case err == nil:
		for _, e := range ents {
			if err := remove(s.p("/sys/class/net/" + e.Name())); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(s.p(dd + "/net")); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("simulated host: %w", err)
	}
	if err := remove(s.p(dd + "/driver")); err != nil {
		return err
	}
	if err := remove(s.p("/sys/bus/pci/drivers/" + drv + "/" + addr)); err != nil {
		return err
	}
	if drv == "vfio-pci" {
		return s.refreshVFIO(addr)
	}
	return nil
}

// refreshVFIO creates or removes the group's /dev/vfio node: it exists
// while a member is on vfio-pci and every member is on vfio-pci or unbound.
func (s *Sim) refreshVFIO(addr string) error {
	g, err := readlinkOpt(s.p("/sys/bus/pci/devices/" + addr + "/iommu_group"))
	if err != nil {
		return err
	}
	mode, err := readAttr(s.p("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"))
	if err != nil {
		return err
	}
	var node string
	var members []string
	switch {
	case g != "":
		node = "/dev/vfio/" + path.Base(g)
		ents, err := os.ReadDir(s.p("/sys/kernel/iommu_groups/" + path.Base(g) + "/devices"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("simulated host: %w", err)
		}
		for _, e := range ents {
			members = append(members, e.Name())
		}
	case mode == "Y":
		node = "/dev/vfio/noiommu-" + noiommuGroup(addr)
		members = []string{addr}
	default:
		return nil
	}
	sort.Strings(members)
	anyVFIO, viable := false, true
	for _, m := range members {
		d, err := host.LinkBase(s.fs, "/sys/bus/pci/devices/"+m+"/driver")
		if err != nil {
			return err
		}
		switch d {
		case "vfio-pci":
			anyVFIO = true
		case "":
		default:
			viable = false
		}
	}
	if anyVFIO && viable {
		return s.writeFile(node, "")
	}
	return remove(s.p(node))
}

// noiommuGroup numbers a no-IOMMU group after the device's function.
func noiommuGroup(addr string) string {
	var dom, bus, dev, fn int
	fmt.Sscanf(addr, "%04x:%02x:%02x.%d", &dom, &bus, &dev, &fn)
	return strconv.Itoa(bus<<8 | dev<<3 | fn)
}

func (s *Sim) freeNetdev() (string, error) {
	for i := 4; ; i++ {
		n := "eth" + strconv.Itoa(i)
		ok, err := present(s.p("/sys/class/net/" + n))
		if err != nil {
			return "", err
		}
		if !ok {
			return n, nil
		}
	}
}
