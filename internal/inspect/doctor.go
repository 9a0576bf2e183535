package inspect

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// Check is one preflight check.
type Check struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

// DoctorResult is the report of Doctor.
type DoctorResult struct {
	report.Common
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
	// Modes says what vf and queue mode need and cost on the PF, and
	// RecommendedMode which one to use ("" when neither runs there).
	Modes           []setup.ModeReport `json:"modes,omitempty"`
	RecommendedMode string             `json:"recommended_mode,omitempty"`
}

// Text implements report.Result.
func (r *DoctorResult) Text(w io.Writer) {
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.Pass {
			mark = "FAIL"
			if !c.Required {
				mark = "warn"
			}
		}
		fmt.Fprintf(w, "[%s] %-14s %s\n", mark, c.Name, c.Detail)
		if !c.Pass && c.Fix != "" {
			fmt.Fprintf(w, "       fix: %s\n", c.Fix)
		}
	}
	for _, m := range r.Modes {
		state := "not supported"
		if m.Supported {
			state = "supported"
		}
		fmt.Fprintf(w, "mode %-5s %s; the kernel keeps %s\n", m.Mode, state, report.OrNone(m.KernelQueues))
		for _, x := range m.Has {
			fmt.Fprintf(w, "  + %s\n", x)
		}
		for _, x := range m.Lacks {
			fmt.Fprintf(w, "  - %s\n", x)
		}
		fmt.Fprintf(w, "  cost: %s\n", m.Cost)
	}
	if len(r.Modes) > 0 {
		fmt.Fprintf(w, "recommended mode: %s\n", report.OrNone(r.RecommendedMode))
	}
	if r.OK {
		fmt.Fprintln(w, "ready: every required check passed")
	} else {
		fmt.Fprintln(w, "not ready: fix the failed checks above")
	}
}

// Doctor runs the preflight checks for pf ("" checks the host only).
// It returns a *outcome.RolledBack when a required check fails.
func Doctor(h *host.Host, pf string) (*DoctorResult, error) {
	res := &DoctorResult{}
	res.PF = pf
	if pf != "" && !sriov.ValidIfname(pf) {
		// Bad usage, not a failed check.
		return res, outcome.Invalid("give the PF's interface name, e.g. eth3 (see 'ip link'), or none to check the host only", "interface name %q is not valid", pf)
	}
	add := func(c ...Check) { res.Checks = append(res.Checks, c...) }
	if !h.Simulated {
		add(Check{Name: "root", Required: true, Pass: os.Geteuid() == 0,
			Detail: fmt.Sprintf("effective uid %d", os.Geteuid()), Fix: "run vfbypass as root"})
	}
	pfOK := false
	if pf != "" {
		var p sriov.PF
		p, pfOK = pfChecks(h, pf, res)
		if pfOK {
			add(usageChecks(h, pf, p)...)
		}
	} else {
		add(hostPFsCheck(h))
	}
	add(iommuCheck(h), vfioCheck(h))
	add(hugepages(h))
	res.OK = true
	for _, c := range res.Checks {
		if c.Required && !c.Pass {
			res.OK = false
		}
	}
	if pfOK {
		res.VFs = setup.VFReports(h, pf)
	}
	if !res.OK {
		return res, outcome.Failed(fmt.Errorf("preflight failed: %s", failedNames(res.Checks)))
	}
	return res, nil
}

// pfChecks adds the checks that pf is an SR-IOV capable PCI device (and
// the modes it allows) to res; ok says it is.
func pfChecks(h *host.Host, pf string, res *DoctorResult) (p sriov.PF, ok bool) {
	if qp, err := setup.CheckQueuePF(h, pf); err == nil {
		res.Modes, res.RecommendedMode = setup.ModeReports(h, qp)
	}
	p, err := setup.CheckPF(h, pf)
	switch {
	case err == nil:
		res.Checks = append(res.Checks,
			Check{Name: "pf", Required: true, Pass: true, Detail: fmt.Sprintf("%s is PCI device %s, driver %s", pf, p.Address, p.Driver)},
			Check{Name: "sriov", Required: true, Pass: true, Detail: fmt.Sprintf("SR-IOV capable: %d of %d VFs enabled, drivers_autoprobe %d", p.NumVFs, p.TotalVFs, report.Bit(p.Autoprobe))})
		return p, true
	case res.RecommendedMode == setup.ModeQueue:
		// Queue mode needs no SR-IOV: the PF is usable without it.
		res.Checks = append(res.Checks, Check{Name: "pf", Required: false, Pass: false, Detail: outcome.MessageOf(err) + "; queue mode works without SR-IOV", Fix: outcome.FixOf(err)})
	default:
		res.Checks = append(res.Checks, Check{Name: "pf", Required: true, Pass: false, Detail: outcome.MessageOf(err), Fix: outcome.FixOf(err)})
	}
	return p, false
}

// usageChecks are the checks of how PF pf (PCI device p) can be used: its driver,
// ntuple support, whether it carries the default route, and other tools
// set to manage it.
func usageChecks(h *host.Host, pf string, p sriov.PF) []Check {
	drv := Check{Name: "driver", Required: false, Pass: p.Driver == "ixgbe", Detail: "driver " + p.Driver}
	if !drv.Pass {
		drv.Detail += ": VF steering with ntuple rules is built for ixgbe (82599/X520/X540/X550)"
		drv.Fix = "up and rx work; steer needs a driver whose ntuple rules can target a VF"
	}
	nt := Check{Name: "ntuple", Required: false}
	if on, ok, why, _ := setup.NtupleSupport(h, pf); ok {
		nt.Pass, nt.Detail = true, "ntuple filters supported (now "+report.OnOff(on)+"; vfbypass up switches them on)"
	} else {
		nt.Detail, nt.Fix = "no ntuple support: "+why, "flows cannot be steered to a VF on this PF; only MAC/VLAN switching reaches it"
	}
	ifs, _ := sriov.DefaultRouteInterfaces(h.FS)
	carries := slices.Contains(ifs, pf)
	mg := Check{Name: "management", Required: true, Pass: !carries, Detail: pf + " does not carry the default route"}
	if carries {
		mg.Detail = pf + " carries the default route: enabling VFs resets it and drops the link"
		mg.Fix = "manage the host through another interface, or run from a console with 'vfbypass up --force'"
	}
	return []Check{drv, nt, mg, ownersCheck(h, p)}
}

// hostPFsCheck lists the SR-IOV capable interfaces, when doctor is given
// no PF.
func hostPFsCheck(h *host.Host) Check {
	var pfs []string
	for _, n := range candidates(h, "") {
		if q, err := sriov.LookupPF(h.FS, n); err == nil {
			pfs = append(pfs, fmt.Sprintf("%s (%s, %s, %d VFs max)", n, q.Address, report.OrNone(q.Driver), q.TotalVFs))
		}
	}
	return Check{Name: "pfs", Required: false, Pass: len(pfs) > 0, Detail: "SR-IOV capable interfaces: " + report.OrNone(strings.Join(pfs, ", ")),
		Fix: "enable SR-IOV (VT-d) in the BIOS and use an SR-IOV NIC such as an Intel 82599"}
}

// iommuCheck wants IOMMU groups, or vfio's no-IOMMU mode switched on.
func iommuCheck(h *host.Host) Check {
	c := Check{Name: "iommu", Required: true}
	iommu, ierr := vfio.IOMMUPresent(h.FS)
	switch {
	case ierr != nil:
		c.Detail, c.Fix = ierr.Error(), "check that sysfs is mounted and readable (mount -t sysfs sys /sys)"
	case iommu:
		ents, _ := h.FS.ReadDir("/sys/kernel/iommu_groups")
		c.Pass, c.Detail = true, strconv.Itoa(len(ents))+" IOMMU groups"
	case vfio.NoIOMMUEnabled(h.FS):
		c.Pass, c.Detail = true, "no IOMMU, vfio's unsafe no-IOMMU mode is on (the VF can DMA anywhere)"
	default:
		cmdline, _ := host.ReadString(h.FS, "/proc/cmdline")
		c.Detail = "no IOMMU groups: vfio-pci cannot give a VF to userspace safely (kernel command line: " + cmdline + ")"
		c.Fix = "enable VT-d/AMD-Vi in the BIOS and boot with intel_iommu=on iommu=pt (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot); or 'vfbypass up --noiommu' for the unsafe no-IOMMU mode"
	}
	return c
}

// vfioCheck says whether vfio-pci is loaded (up loads it).
func vfioCheck(h *host.Host) Check {
	c := Check{Name: "vfio-pci", Required: false, Pass: h.Modules.Loaded(vfio.Driver)}
	if c.Pass {
		c.Detail = "vfio-pci is loaded"
	} else {
		c.Detail, c.Fix = "vfio-pci is not loaded", "'vfbypass up' loads it (modprobe vfio-pci)"
	}
	return c
}

// ownersCheck warns when another tool is set to manage the PF or its VFs.
func ownersCheck(h *host.Host, p sriov.PF) Check {
	owners := otherOwners(h, p)
	if len(owners) == 0 {
		return Check{Name: "owners", Pass: true, Detail: "no systemd-networkd, NetworkManager or driverctl settings for " + p.Name + " or its VFs"}
	}
	return Check{Name: "owners", Detail: strings.Join(owners, "; "),
		Fix: "let one tool own the PF's SR-IOV settings: vfbypass, or the one named (see docs/runbook.md)"}
}

func failedNames(cs []Check) string {
	var n []string
	for _, c := range cs {
		if c.Required && !c.Pass {
			n = append(n, c.Name)
		}
	}
	return strings.Join(n, ", ")
}

// hugepages reads HugePages_Total/Free and Hugepagesize from /proc/meminfo.
func hugepages(h *host.Host) Check {
	c := Check{Name: "hugepages", Required: false}
	hp, err := host.ReadHugepages(h.FS)
	if err != nil {
		c.Detail = "cannot " + err.Error()
		return c
	}
	total, free := hp.Total, hp.Free
	c.Pass = total > 0 && free > 0
	c.Detail = fmt.Sprintf("%d hugepages of %s reserved, %d free", total, report.OrNone(hp.Size), free)
	if !c.Pass {
		c.Fix = "reserve them for 'vfbypass rx': " + host.ReserveHugepages + "; tests can use 'vfbypass rx --no-huge'"
	}
	return c
}
