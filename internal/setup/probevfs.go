package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

var _ journaled = (*probeVFsStep)(nil)

// probeVFsStep binds the VFs left to the kernel to their driver
// (drivers_probe) after the VFs were created with autoprobe off, as
// autoprobe would have.
type probeVFsStep struct {
	VFs []int `json:"vfs"`
}

func (s *probeVFsStep) id() string { return string(KindProbeVFs) }

func (s *probeVFsStep) kind() StepKind { return KindProbeVFs }

func (s *probeVFsStep) describe(e *env) string {
	return fmt.Sprintf("bind VFs %v to their kernel driver (drivers_probe), as autoprobe would have", s.VFs)
}

func (s *probeVFsStep) changes(e *env) ([]report.Change, error) {
	var c []report.Change
	for _, k := range s.VFs {
		have := "none"
		if v, err := sriov.LookupVF(e.h.FS, e.pf.Name, k); err == nil && v.Driver != "" {
			continue
		} else if err != nil {
			have = ""
		}
		c = append(c, change(vfField(k, "driver"), have, kernelDriver)...)
	}
	return c, nil
}

func (s *probeVFsStep) record(*env) error { return nil }

func (s *probeVFsStep) keep(journaled, *env) error { return nil }

func (s *probeVFsStep) apply(_ context.Context, e *env) error {
	for _, k := range s.VFs {
		v, err := sriov.LookupVF(e.h.FS, e.pf.Name, k)
		if err != nil {
			return err
		}
		if v.Driver != "" {
			continue
		}
		if err := vfio.Probe(e.h.FS, v.Address); err != nil {
			return fmt.Errorf("VF %d of %s: %w", k, e.pf.Name, err)
		}
	}
	return nil
}

// back: the VFs go with the numvfs step's undo; a kernel driver on them is
// what the PF had before autoprobe was switched off.
func (s *probeVFsStep) back() target {
	return leave(fmt.Sprintf("leave VFs %v with their kernel driver (they go with the VFs)", s.VFs))
}

func (s *probeVFsStep) validate(total int) error {
	for i, k := range s.VFs {
		if err := checkVFIndex(fmt.Sprintf("vfs[%d]", i), k, total); err != nil {
			return err
		}
	}
	return nil
}
