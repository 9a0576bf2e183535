package setup

import (
	"errors"
	"fmt"
	"os"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// CheckPF resolves and vets the PF for a change, returning bad-input errors.
func CheckPF(h *host.Host, name string) (sriov.PF, error) {
	if err := sriov.CheckIfname(name); err != nil {
		return sriov.PF{}, err
	}
	pf, err := sriov.LookupPF(h.FS, name)
	switch {
	case errors.Is(err, sriov.ErrNoInterface):
		return pf, outcome.Invalid("check the name with 'ip link' (or 'vfbypass doctor')", "PF %s: no such network interface under %s", name, h.FS.Path("/sys/class/net"))
	case errors.Is(err, sriov.ErrNotPCI):
		return pf, outcome.Invalid("choose the interface of a physical SR-IOV NIC port (see 'vfbypass doctor')", "PF %s is not a PCI network device, so it has no VFs", name)
	case errors.Is(err, sriov.ErrNoSRIOV):
		return pf, outcome.Invalid("choose an SR-IOV capable port (e.g. an Intel 82599 on ixgbe); 'vfbypass doctor' lists them", "PF %s (%s, driver %s) has no SR-IOV capability (no sriov_totalvfs)", name, pf.Address, report.OrNone(pf.Driver))
	case err != nil:
		return pf, err
	}
	if pf.Driver == "" {
		return pf, outcome.Invalid(fmt.Sprintf("bind %s to its driver first (e.g. 'modprobe ixgbe')", pf.Address), "PF %s (%s) has no driver bound; the kernel cannot enable VFs without one", name, pf.Address)
	}
	if pf.TotalVFs < 1 {
		return pf, outcome.Invalid("enable SR-IOV in the BIOS/firmware, or check the driver's max_vfs setting", "PF %s (%s) reports sriov_totalvfs 0", name, pf.Address)
	}
	return pf, nil
}

// guardDefaultRoute refuses a PF that carries a default route unless forced.
func guardDefaultRoute(h *host.Host, pf string, force bool, what string) (bool, error) {
	ifs, err := sriov.DefaultRouteInterfaces(h.FS)
	if err != nil {
		return false, err
	}
	for _, i := range ifs {
		if i == pf {
			if force {
				return true, nil
			}
			return true, outcome.Invalid("run it from a console that does not depend on "+pf+", or pass --force", "%s carries the default route: %s resets it and its link drops, which can cut this session off", pf, what)
		}
	}
	return false, nil
}

func checkRoot(h *host.Host) error {
	if !h.Simulated && os.Geteuid() != 0 {
		return outcome.Invalid("run it as root (sudo vfbypass ...)", "vfbypass must run as root to change sysfs, rtnetlink and ethtool settings (effective uid %d)", os.Geteuid())
	}
	return nil
}

// NtupleSupport reports whether the PF's ntuple feature can be switched on
// (why not, when it cannot); err is a read that failed, which says neither.
func NtupleSupport(h *host.Host, pf string) (on, ok bool, why string, err error) {
	on, fixed, err := h.Ethtool.Feature(pf, host.NtupleFeature)
	if errors.Is(err, host.ErrNoFeature) {
		return false, false, err.Error(), nil
	}
	if err != nil {
		// A failed read is not "unsupported": the plan would drop ntuple.
		return false, false, err.Error(), fmt.Errorf("read %s of %s: %w", host.NtupleFeature, pf, err)
	}
	if fixed && !on {
		return false, false, "the driver has no ntuple filters (feature fixed off)", nil
	}
	return on, true, "", nil
}

func hostName(h *host.Host) string {
	if h.Simulated {
		return "the simulated host " + h.FS.Root()
	}
	return "this host"
}
