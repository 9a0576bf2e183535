package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

var _ journaled = (*bindStep)(nil)

// bindStep binds a VF to a driver (vfio-pci) through driver_override,
// unbind and drivers_probe, and records the VF's binding before.
type bindStep struct {
	Index  int          `json:"index"`
	Driver string       `json:"driver"`
	Old    vfio.Binding `json:"old"`
}

func (s *bindStep) id() string { return "vf" + strconv.Itoa(s.Index) + "-bind" }

func (s *bindStep) kind() StepKind { return KindBind }

func (s *bindStep) describe(e *env) string {
	addr := "(its PCI address once enabled)"
	if v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index); err == nil {
		addr = v.Address
	}
	return fmt.Sprintf("bind VF %d %s to %s (driver_override, unbind, drivers_probe)", s.Index, addr, s.Driver)
}

func (s *bindStep) changes(e *env) ([]report.Change, error) {
	field := vfField(s.Index, "driver")
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return change(field, "", s.Driver), nil
	}
	have := report.OrNone(v.Driver)
	if v.Driver == s.Driver && s.Driver == vfio.Driver && v.IOMMUGroup != "" && vfio.DeviceNode(e.h.FS, v.IOMMUGroup) == "" {
		have += " (no /dev/vfio/" + v.IOMMUGroup + ")"
	}
	return change(field, have, s.Driver), nil
}

func (s *bindStep) record(e *env) error {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return err
	}
	s.Old, err = vfio.Current(e.h.FS, v.Address)
	return err
}

func (s *bindStep) keep(old journaled, _ *env) error {
	o, err := earlier[*bindStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}

func (s *bindStep) apply(ctx context.Context, e *env) error {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.Index)
	if err != nil {
		return err
	}
	if s.Driver == vfio.Driver {
		if v.IOMMUGroup == "" && !vfio.NoIOMMUEnabled(e.h.FS) {
			return fmt.Errorf("VF %d (%s) has no IOMMU group: %w", s.Index, v.Address, vfio.ErrNoIOMMU)
		}
		if err := vfio.CheckViable(e.h.FS, v.Address); err != nil {
			return fmt.Errorf("VF %d of %s: %w", s.Index, e.pf.Name, err)
		}
	}
	if err := vfio.Bind(e.h.FS, v.Address, s.Driver); err != nil {
		return fmt.Errorf("VF %d of %s: %w", s.Index, e.pf.Name, err)
	}
	if s.Driver == vfio.Driver {
		g, err := vfio.Group(e.h.FS, v.Address)
		if err != nil {
			return err
		}
		if g != "" {
			if _, err := vfio.WaitDeviceNode(ctx, e.h.FS, g, e.timeout); err != nil {
				return fmt.Errorf("VF %d (%s) on vfio-pci: %w", s.Index, v.Address, err)
			}
		}
	}
	return nil
}

// back is the VF's binding before the first up (driver and
// driver_override).
func (s *bindStep) back() target { return bindBack{s} }

// bindBack is the recorded binding (Old) of the VF of s.
type bindBack struct{ s *bindStep }

func (b bindBack) describe(*env) string {
	s := b.s
	if s.Old.Driver == "" {
		return fmt.Sprintf("unbind VF %d %s from %s: no driver, as before up", s.Index, s.Old.Address, s.Driver)
	}
	return fmt.Sprintf("bind VF %d %s back to %s", s.Index, s.Old.Address, s.Old.Driver)
}

// changes: a VF that is gone (or was not there to record) took its
// binding with it; one whose binding cannot be read is restored.
func (b bindBack) changes(e *env) ([]report.Change, error) {
	old := b.s.Old
	if old.Address == "" {
		return nil, nil
	}
	cur, err := vfio.Current(e.h.FS, old.Address)
	field := vfField(b.s.Index, "driver")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return change(field, "unreadable", report.OrNone(old.Driver)), nil
	case cur == old:
		return nil, nil
	}
	if c := change(field, report.OrNone(cur.Driver), report.OrNone(old.Driver)); c != nil {
		return c, nil
	}
	return []report.Change{{Field: vfField(b.s.Index, "driver_override"), Before: report.OrNone(cur.Override), After: report.OrNone(old.Override)}}, nil
}

func (b bindBack) apply(_ context.Context, e *env) error { return vfio.Restore(e.h.FS, b.s.Old) }

func (s *bindStep) validate(total int) error {
	if err := checkVFIndex("index", s.Index, total); err != nil {
		return err
	}
	if err := checkDriver("driver", s.Driver, false); err != nil {
		return err
	}
	if err := checkPCI("old.address", s.Old.Address, true); err != nil {
		return err
	}
	if err := checkDriver("old.driver", s.Old.Driver, true); err != nil {
		return err
	}
	return checkDriver("old.override", s.Old.Override, true)
}
