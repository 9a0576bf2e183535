package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// vfDrivers maps a PF driver to the kernel driver of its VFs, for the NICs
// vfbypass knows; a VF driver not listed here is still trusted when it is
// bound to one of the PF's VFs right now.
var vfDrivers = map[string]string{
	"ixgbe":     "ixgbevf",
	"igb":       "igbvf",
	"i40e":      "iavf",
	"ice":       "iavf",
	"mlx5_core": "mlx5_core",
	"bnxt_en":   "bnxt_en",
	"qede":      "qede",
}

// vfModules are the only modules a journal may ask to unload.
var vfModules = map[string]bool{vfio.Driver: true, "vfio": true}

// pfDevices is what the kernel says about a PF's own devices: its VFs by
// index and address (the PF's virtfnK links), and the drivers vfbypass may
// bind them to.
type pfDevices struct {
	fs      host.FS
	pf      sriov.PF
	byIndex map[int]string
	byAddr  map[string]int
	drivers map[string]bool
}

func readPFDevices(h *host.Host, pf sriov.PF) (*pfDevices, error) {
	d := &pfDevices{fs: h.FS, pf: pf, byIndex: map[int]string{}, byAddr: map[string]int{},
		drivers: map[string]bool{vfio.Driver: true}}
	if pf.Driver != "" {
		d.drivers[pf.Driver] = true
	}
	if v := vfDrivers[pf.Driver]; v != "" {
		d.drivers[v] = true
	}
	if pf.Address == "" {
		return d, nil
	}
	ents, err := h.FS.ReadDir(pf.DevDir())
	if err != nil {
		return nil, fmt.Errorf("list the VFs of %s: %w", pf.Name, err)
	}
	for _, e := range ents {
		k, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "virtfn"))
		if !strings.HasPrefix(e.Name(), "virtfn") || err != nil || k < 0 {
			continue
		}
		v, err := sriov.LookupVF(h.FS, pf.Name, k)
		if err != nil {
			return nil, err
		}
		d.byIndex[k], d.byAddr[v.Address] = v.Address, k
		if v.Driver != "" {
			d.drivers[v.Driver] = true
		}
	}
	return d, nil
}

func (d *pfDevices) driverList() string {
	var l []string
	for n := range d.drivers {
		l = append(l, n)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// verifyJournal checks, before down (or up's resume) acts on any record of
// j, that everything the records name belongs to pf: VF addresses are the
// PF's own (its virtfnK links), drivers are the PF's, its VFs' or vfio-pci,
// modules are vfio's, and vfio's unsafe no-IOMMU mode is only ever switched
// off. A journal is input, not authority: whoever can write the state
// directory must not be able to steer down at another device. A VF that no
// longer exists (its VFs were removed) is already gone, not foreign.
// The error is *outcome.BadInput, naming the journal path, the record and the field.
func verifyJournal(h *host.Host, pf sriov.PF, j *journal.Journal, path string) error {
	refuse := func(record, field, format string, args ...any) error {
		return outcome.Invalid(fmt.Sprintf("inspect %s with 'vfbypass status %s' and restore it by hand; then remove %s (vfbypass did not write that record)", pf.Name, pf.Name, path),
			"refusing to act on the journal %s: %s, field %s: %s", path, record, field, fmt.Sprintf(format, args...))
	}
	if j.PFAddress != "" && pf.Address != "" && j.PFAddress != pf.Address {
		return refuse("the journal", "pf_address", "%s, but %s is the PCI device %s now", j.PFAddress, pf.Name, pf.Address)
	}
	devs, err := readPFDevices(h, pf)
	if err != nil {
		return err
	}
	for _, ent := range j.Steps {
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeEntry(ent, maxVFsUnknown)
		if err != nil {
			continue // loadForUndo refuses it, naming why
		}
		record := "step " + ent.ID
		switch s := s.(type) {
		case *moduleStep:
			if !vfModules[s.Name] {
				return refuse(record, "name", "module %q is not vfio's (vfbypass loads only %s)", s.Name, vfio.Driver)
			}
		case *noIOMMUStep:
			if s.Old != "N" {
				return refuse(record, "old", "%q would switch vfio's unsafe no-IOMMU mode on; vfbypass only ever restores N", s.Old)
			}
		case *bindStep:
			if err := devs.checkBind(s); err != nil {
				var fe *fieldError
				if errors.As(err, &fe) {
					return refuse(record, fe.field, "%s", fe.msg)
				}
				return err
			}
		}
	}
	return nil
}

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return "field " + e.field + ": " + e.msg }

// checkBind checks a bind record against the PF's devices.
func (d *pfDevices) checkBind(s *bindStep) error {
	bad := func(field, format string, args ...any) error {
		return &fieldError{field, fmt.Sprintf(format, args...)}
	}
	if s.Driver != vfio.Driver {
		return bad("driver", "%q: vfbypass binds VFs only to %s", s.Driver, vfio.Driver)
	}
	for field, drv := range map[string]string{"old.driver": s.Old.Driver, "old.override": s.Old.Override} {
		if drv != "" && !d.drivers[drv] {
			return bad(field, "driver %q is not one of %s's (%s)", drv, d.pf.Name, d.driverList())
		}
	}
	addr := s.Old.Address
	if addr == "" {
		return nil
	}
	if want, ok := d.byIndex[s.Index]; ok {
		if addr != want {
			return bad("old.address", "%s is not VF %d of %s (that is %s)", addr, s.Index, d.pf.Name, want)
		}
		return nil
	}
	// VF s.Index is gone: the record is already undone, unless its
	// address is a device that still exists, which then is not this VF.
	if k, ok := d.byAddr[addr]; ok {
		return bad("old.address", "%s is VF %d of %s, not VF %d", addr, k, d.pf.Name, s.Index)
	}
	_, err := d.fs.Lstat(sriov.DeviceDir(addr))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s: %w", sriov.DeviceDir(addr), err)
	case addr == d.pf.Address:
		return bad("old.address", "%s is the PF %s itself, not one of its VFs", addr, d.pf.Name)
	}
	return bad("old.address", "%s is not a VF of %s (its VFs: %s)", addr, d.pf.Name, d.vfList())
}

func (d *pfDevices) vfList() string {
	if len(d.byIndex) == 0 {
		return "none"
	}
	var l []string
	for a := range d.byAddr {
		l = append(l, a)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}
