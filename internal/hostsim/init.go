package hostsim

import (
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/sriov"

	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Options shape a simulated host.
type Options struct {
	PF       string // PF interface name (default eth3)
	Model    string // 82599 (ixgbe, default) or 82576 (igb)
	TotalVFs int    // sriov_totalvfs (default: the model's maximum)
	// DefaultRouteOnPF puts the default route on the PF instead of eth0.
	DefaultRouteOnPF bool
	NoDriver         bool // the PF has no driver bound
	NoSRIOV          bool // the PF has no SR-IOV capability
	NoVFIO           bool // vfio-pci is not loaded
	NoIOMMU          bool // no IOMMU groups
	// SharedGroup puts the VFs in the PF's IOMMU group (no ACS), which makes
	// binding a VF to vfio-pci unviable while the PF keeps its driver.
	SharedGroup bool
	Hugepages   int // 2 MiB hugepages reserved
	Ntuple      bool
	// CPUs is the number of online CPUs, which bounds the drivers' queues
	// (the 82599: min(63, CPUs) channels, RSS over min(16, CPUs); the
	// 82576: 8 RSS queues). 0 is 16.
	CPUs int
}

const (
	pfBridge = "/sys/devices/pci0000:00/0000:00:03.0"
	pfAddr   = "0000:04:00.1"
	mgmtAddr = "0000:00:02.0"
)

// Init materialises a simulated host in dir, which must be empty or absent.
func Init(dir string, o Options) error {
	m, err := o.withDefaults()
	if err != nil {
		return err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: give a new directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(abs, MarkerDir), 0o755); err != nil {
		return err
	}
	s := &Sim{root: abs}
	s.fs = host.NewRootFS(abs)
	w := s.writeFile

	for _, d := range []string{"/sys/bus/pci/devices", "/sys/class/net", "/sys/kernel/iommu_groups", "/sys/module", "/dev/vfio", "/sys/devices/virtual/net", "/run/lock"} {
		if err := os.MkdirAll(s.p(d), 0o755); err != nil {
			return err
		}
	}
	if err := s.buildTree(dir, o, m); err != nil {
		return err
	}
	st := &state{Model: m, PF: o.PF, PFAddr: pfAddr, Total: o.TotalVFs, NoSRIOV: o.NoSRIOV, Ntuple: o.Ntuple && m.Ntuple, VFs: map[int]*vfSettings{}, CPUs: o.CPUs}
	if o.CPUs == defaultCPUs {
		st.CPUs = 0 // the default, as a tree made without the option
	}
	if o.SharedGroup {
		if err := w("/"+MarkerDir+"/shared-group", "1"); err != nil {
			return err
		}
	}
	return s.save(st)
}

// withDefaults fills o's defaults and checks it, returning its model.
func (o *Options) withDefaults() (Model, error) {
	if o.PF == "" {
		o.PF = "eth3"
	}
	if o.Model == "" {
		o.Model = "82599"
	}
	m, ok := models[o.Model]
	if !ok {
		return Model{}, fmt.Errorf("model %q is not simulated (choose 82599 or 82576)", o.Model)
	}
	if o.TotalVFs == 0 {
		o.TotalVFs = m.MaxVFs
	}
	if o.TotalVFs < 0 || o.TotalVFs > m.MaxVFs {
		return Model{}, fmt.Errorf("--total-vfs %d: the %s supports 0 to %d VFs", o.TotalVFs, m.Name, m.MaxVFs)
	}
	if o.CPUs < 0 || o.CPUs > 4096 {
		return Model{}, fmt.Errorf("--cpus %d: give 1 to 4096 online CPUs", o.CPUs)
	}
	if o.PF == "eth0" || o.PF == "lo" || !sriov.ValidIfname(o.PF) {
		return Model{}, fmt.Errorf("--pf %q: choose another interface name (eth0 is the management interface)", o.PF)
	}
	return m, nil
}

// buildTree lays out sysfs, procfs and /dev for a host with o and m.
func (s *Sim) buildTree(dir string, o Options, m Model) (ferr error) {
	w := s.writeFile
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				ferr = fmt.Errorf("init %s: %v", dir, r)
			}
		}()
		must(w("/sys/bus/pci/drivers_probe", ""))
		must(w("/sys/bus/pci/drivers_autoprobe", "1"))
		drivers := []string{m.PFDriver, m.VFDriver, "virtio-pci"}
		if !o.NoVFIO {
			drivers = append(drivers, "vfio-pci")
			must(os.MkdirAll(s.p("/sys/module/vfio_pci"), 0o755))
		}
		for _, d := range drivers {
			must(s.makeDriver(d))
		}
		must(w("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N"))
		// The management NIC: a virtio device carrying eth0.
		must(s.addDevice(mgmtAddr, "/sys/devices/pci0000:00/"+mgmtAddr, "0x1af4", "0x1000", "virtio-pci", !o.NoIOMMU))
		must(s.addNetdev("/sys/devices/pci0000:00/"+mgmtAddr, "eth0", "02:fc:00:00:00:01", 2))
		// The PF.
		pfDir := pfBridge + "/" + pfAddr
		drv := m.PFDriver
		if o.NoDriver {
			drv = ""
		}
		must(s.addDevice(pfAddr, pfDir, "0x8086", m.Device, drv, !o.NoIOMMU))
		if !o.NoSRIOV {
			must(w(pfDir+"/sriov_totalvfs", strconv.Itoa(o.TotalVFs)))
			must(w(pfDir+"/sriov_numvfs", "0"))
			must(w(pfDir+"/sriov_drivers_autoprobe", "1"))
			must(w(pfDir+"/sriov_vf_device", m.VFDevice))
			must(w(pfDir+"/sriov_offset", "128"))
			must(w(pfDir+"/sriov_stride", "2"))
		}
		must(s.addNetdev(pfDir, o.PF, "a0:36:9f:00:04:01", 4))
		route := "eth0"
		if o.DefaultRouteOnPF {
			route = o.PF
		}
		must(w("/proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
			route+"\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"+
			route+"\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0"))
		must(w("/proc/net/ipv6_route", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo"))
		must(w("/proc/meminfo", fmt.Sprintf("MemTotal:       24576000 kB\nHugePages_Total:    %d\nHugePages_Free:     %d\nHugePages_Rsvd:        0\nHugepagesize:       2048 kB", o.Hugepages, o.Hugepages)))
		cmdline := "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro"
		if !o.NoIOMMU {
			cmdline += " intel_iommu=on iommu=pt"
		}
		must(w("/proc/cmdline", cmdline))
		must(w("/dev/vfio/vfio", ""))
	}()
	return ferr
}

func (s *Sim) makeDriver(d string) error {
	for _, f := range []string{"bind", "unbind", "new_id", "remove_id"} {
		if err := s.writeFile("/sys/bus/pci/drivers/"+d+"/"+f, ""); err != nil {
			return err
		}
	}
	return nil
}

// addDevice creates a PCI device at devDir with its bus, driver and IOMMU links.
func (s *Sim) addDevice(addr, devDir, vendor, device, driver string, iommu bool) error {
	w := s.writeFile
	mod := fmt.Sprintf("pci:v0000%sd0000%ssv0000%ssd00000000bc02sc00i00", strings.ToUpper(vendor[2:]), strings.ToUpper(strings.TrimPrefix(device, "0x")), strings.ToUpper(vendor[2:]))
	for f, v := range map[string]string{"vendor": vendor, "device": "0x" + strings.TrimPrefix(device, "0x"), "class": "0x020000",
		"subsystem_vendor": vendor, "subsystem_device": "0x0000", "revision": "0x01", "numa_node": "-1",
		"driver_override": "(null)", "modalias": mod, "uevent": "PCI_SLOT_NAME=" + addr} {
		if err := w(devDir+"/"+f, v); err != nil {
			return err
		}
	}
	if err := s.relLink(devDir, "/sys/bus/pci/devices/"+addr); err != nil {
		return err
	}
	if err := s.relLink("/sys/bus/pci", devDir+"/subsystem"); err != nil {
		return err
	}
	if iommu {
		g, err := s.freeGroup()
		if err != nil {
			return err
		}
		if err := s.joinGroup(addr, devDir, g); err != nil {
			return err
		}
	}
	if driver != "" {
		return s.bindLinks(addr, driver)
	}
	return nil
}

func (s *Sim) joinGroup(addr, devDir, g string) error {
	if err := s.relLink(devDir, "/sys/kernel/iommu_groups/"+g+"/devices/"+addr); err != nil {
		return err
	}
	if err := s.writeFile("/sys/kernel/iommu_groups/"+g+"/type", "DMA"); err != nil {
		return err
	}
	return s.relLink("/sys/kernel/iommu_groups/"+g, devDir+"/iommu_group")
}

// freeGroup is the lowest IOMMU group number not in use.
func (s *Sim) freeGroup() (string, error) {
	for i := 0; ; i++ {
		ok, err := present(s.p("/sys/kernel/iommu_groups/" + strconv.Itoa(i)))
		if err != nil {
			return "", err
		}
		if !ok {
			return strconv.Itoa(i), nil
		}
	}
}

func (s *Sim) bindLinks(addr, driver string) error {
	dev := "/sys/bus/pci/devices/" + addr
	real, err := filepath.EvalSymlinks(s.p(dev))
	if err != nil {
		return err
	}
	devDir := strings.TrimPrefix(real, s.root)
	if err := s.relLink("/sys/bus/pci/drivers/"+driver, devDir+"/driver"); err != nil {
		return err
	}
	return s.relLink(devDir, "/sys/bus/pci/drivers/"+driver+"/"+addr)
}

// addNetdev creates a network interface under a device.
func (s *Sim) addNetdev(devDir, name, mac string, ifindex int) error {
	nd := devDir + "/net/" + name
	for f, v := range map[string]string{"address": mac, "ifindex": strconv.Itoa(ifindex), "operstate": "up", "mtu": "1500", "carrier": "1"} {
		if err := s.writeFile(nd+"/"+f, v); err != nil {
			return err
		}
	}
	// As in sysfs: net/IF/device -> ../../../DEVICE.
	_ = os.Remove(s.p(nd + "/device"))
	if err := os.Symlink("../../../"+filepath.Base(devDir), s.p(nd+"/device")); err != nil {
		return err
	}
	return s.relLink(nd, "/sys/class/net/"+name)
}
