package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

var _ journaled = (*noIOMMUStep)(nil)

// noIOMMUStep switches vfio's unsafe no-IOMMU mode on and records the
// parameter's value.
type noIOMMUStep struct {
	Old string `json:"old"`
}

func (s *noIOMMUStep) id() string { return string(KindNoIOMMU) }

func (s *noIOMMUStep) kind() StepKind { return KindNoIOMMU }

func (s *noIOMMUStep) describe(e *env) string {
	return "switch vfio's unsafe no-IOMMU mode on (" + vfio.NoIOMMUParam + " = Y): the VF can DMA anywhere in memory"
}

func (s *noIOMMUStep) changes(e *env) ([]report.Change, error) {
	return change("noiommu", yn(vfio.NoIOMMUEnabled(e.h.FS)), "Y"), nil
}

func (s *noIOMMUStep) record(e *env) error {
	v, err := host.ReadString(e.h.FS, vfio.NoIOMMUParam)
	if err != nil {
		return fmt.Errorf("read %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	s.Old = v
	return nil
}

func (s *noIOMMUStep) keep(old journaled, _ *env) error {
	o, err := earlier[*noIOMMUStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}

func (s *noIOMMUStep) apply(_ context.Context, e *env) error {
	if err := e.h.FS.WriteAttr(vfio.NoIOMMUParam, "Y"); err != nil {
		return fmt.Errorf("enable vfio no-IOMMU mode: write %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	return nil
}

// back is the no-IOMMU parameter's value before the first up.
func (s *noIOMMUStep) back() target { return noIOMMUBack{s.Old} }

// noIOMMUBack is vfio's no-IOMMU parameter at value old.
type noIOMMUBack struct{ old string }

func (b noIOMMUBack) describe(*env) string {
	if b.old == "" || b.old == "N" {
		return "switch vfio's no-IOMMU mode off (" + vfio.NoIOMMUParam + " = N)"
	}
	return "write " + b.old + " to " + vfio.NoIOMMUParam + " again"
}

// changes: a parameter that cannot be read went with its module.
func (b noIOMMUBack) changes(e *env) ([]report.Change, error) {
	cur, err := host.ReadString(e.h.FS, vfio.NoIOMMUParam)
	if err != nil {
		return nil, nil
	}
	return change("noiommu", cur, b.old), nil
}

func (b noIOMMUBack) apply(_ context.Context, e *env) error {
	if err := e.h.FS.WriteAttr(vfio.NoIOMMUParam, b.old); err != nil {
		return fmt.Errorf("restore vfio no-IOMMU mode: write %s: %w", e.h.FS.Path(vfio.NoIOMMUParam), err)
	}
	return nil
}

func (s *noIOMMUStep) validate(int) error {
	if s.Old != "Y" && s.Old != "N" {
		return fieldErr("old", "%q is not a value of a boolean module parameter (Y or N)", s.Old)
	}
	return nil
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}
