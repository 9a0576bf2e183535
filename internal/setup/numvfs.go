package setup

import (
	"context"
	"fmt"
	"strconv"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

var _ journaled = (*numVFsStep)(nil)

// numVFsStep sets the PF's VF count (sriov_numvfs), through 0 when the
// count changes, and records the count and sriov_drivers_autoprobe it
// replaced.
type numVFsStep struct {
	Want int `json:"want"`
	Old  int `json:"old"`
	// Unbound: create the VFs with sriov_drivers_autoprobe off, so no VF
	// driver binds them (the chosen VFs go to vfio-pci without flapping
	// through ixgbevf), then put autoprobe back.
	Unbound      bool `json:"unbound,omitempty"`
	OldAutoprobe bool `json:"old_autoprobe"`
}

func (s *numVFsStep) id() string { return string(KindNumVFs) }

func (s *numVFsStep) kind() StepKind { return KindNumVFs }

func (s *numVFsStep) describe(e *env) string {
	d := fmt.Sprintf("write %d to %s/sriov_numvfs (the PF resets: its link drops for a moment)", s.Want, e.pf.DevDir())
	if e.pf.NumVFs != 0 && e.pf.NumVFs != s.Want {
		d = fmt.Sprintf("write 0 then %d to %s/sriov_numvfs, replacing %s (the PF resets twice)", s.Want, e.pf.DevDir(), report.Count(e.pf.NumVFs, "VF"))
	}
	if s.Unbound && e.pf.Autoprobe {
		d += ", with sriov_drivers_autoprobe 0 meanwhile so no driver binds the new VFs"
	}
	return d
}

func (s *numVFsStep) changes(e *env) ([]report.Change, error) {
	if err := e.refresh(); err != nil {
		return nil, err
	}
	have := strconv.Itoa(e.pf.NumVFs)
	if e.pf.NumVFs == s.Want && sriov.WaitVFs(context.Background(), e.h.FS, e.pf.Name, s.Want, 0) != nil {
		have += " (VF devices incomplete)"
	}
	return change("numvfs", have, strconv.Itoa(s.Want)), nil
}

func (s *numVFsStep) record(e *env) error {
	s.Old, s.OldAutoprobe = e.pf.NumVFs, e.pf.Autoprobe
	return nil
}

func (s *numVFsStep) keep(old journaled, _ *env) error {
	o, err := earlier[*numVFsStep](old)
	if err != nil {
		return err
	}
	s.Old, s.OldAutoprobe = o.Old, o.OldAutoprobe
	return nil
}

func (s *numVFsStep) apply(ctx context.Context, e *env) error {
	if s.Unbound && s.OldAutoprobe {
		if err := sriov.SetAutoprobe(e.h.FS, e.pf, false); err != nil {
			return err
		}
	}
	err := setNumVFs(ctx, e, s.Want)
	if s.Unbound && s.OldAutoprobe {
		if rerr := restoreAutoprobe(e, s.OldAutoprobe); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// back is the VF count and sriov_drivers_autoprobe before the first up.
func (s *numVFsStep) back() target { return numVFsBack{n: s.Old, autoprobe: s.OldAutoprobe} }

// numVFsBack is the PF's VF count and autoprobe setting before up.
type numVFsBack struct {
	n         int
	autoprobe bool
}

func (b numVFsBack) describe(e *env) string {
	if b.n == 0 {
		return fmt.Sprintf("write 0 to %s/sriov_numvfs: the VFs go (the PF resets: its link drops for a moment)", e.pf.DevDir())
	}
	return fmt.Sprintf("write %d to %s/sriov_numvfs, the count before up (through 0: the PF resets)", b.n, e.pf.DevDir())
}

func (b numVFsBack) changes(e *env) ([]report.Change, error) {
	if err := e.refresh(); err != nil {
		return nil, err
	}
	c := change("numvfs", strconv.Itoa(e.pf.NumVFs), strconv.Itoa(b.n))
	return append(c, change("drivers_autoprobe", strconv.Itoa(report.Bit(e.pf.Autoprobe)), strconv.Itoa(report.Bit(b.autoprobe)))...), nil
}

func (b numVFsBack) apply(ctx context.Context, e *env) error {
	if err := setNumVFs(ctx, e, b.n); err != nil {
		return err
	}
	return restoreAutoprobe(e, b.autoprobe)
}

func (s *numVFsStep) validate(total int) error {
	if err := checkCount("want", s.Want, total); err != nil {
		return err
	}
	return checkCount("old", s.Old, total)
}

func restoreAutoprobe(e *env, on bool) error {
	if err := e.refresh(); err != nil {
		return err
	}
	if e.pf.Autoprobe == on {
		return nil
	}
	return sriov.SetAutoprobe(e.h.FS, e.pf, on)
}

// setNumVFs moves the PF to n VFs, through 0 when the count changes, as the
// kernel requires, and waits for the VF devices.
func setNumVFs(ctx context.Context, e *env, n int) error {
	if err := e.refresh(); err != nil {
		return err
	}
	if e.pf.NumVFs == n {
		return nil
	}
	if e.pf.NumVFs != 0 {
		if err := sriov.SetNumVFs(e.h.FS, e.pf, 0); err != nil {
			return err
		}
	}
	if n > 0 {
		if err := sriov.SetNumVFs(e.h.FS, e.pf, n); err != nil {
			return err
		}
	}
	return sriov.WaitVFs(ctx, e.h.FS, e.pf.Name, n, e.timeout)
}
