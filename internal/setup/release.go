package setup

import (
	"context"
	"fmt"
	"strconv"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

var _ step = (*releaseStep)(nil)

// releaseStep undoes an earlier run's bind of a VF the request no longer
// gives to vfio-pci: the VF gets the binding it had before (its kernel
// driver, through drivers_probe when it had none because the VFs were
// created unbound). It is not journaled itself: the bind record it undoes
// is marked undone once it succeeds, and stays pending while it runs, so
// a kill leaves a record that up's resume or down finishes.
type releaseStep struct {
	ent  *journal.Entry
	bind *bindStep
}

func (s *releaseStep) id() string { return "vf" + strconv.Itoa(s.bind.Index) + "-release" }

func (s *releaseStep) kind() StepKind { return KindRelease }

func (s *releaseStep) describe(e *env) string {
	return fmt.Sprintf("give VF %d back to the kernel (undo its bind to %s)", s.bind.Index, s.bind.Driver)
}

func (s *releaseStep) changes(e *env) ([]report.Change, error) {
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.bind.Index)
	if err != nil || v.Driver != s.bind.Driver {
		return nil, nil
	}
	return change(vfField(s.bind.Index, "driver"), v.Driver, kernelDriver), nil
}

func (s *releaseStep) apply(ctx context.Context, e *env) error {
	if _, err := undo(ctx, s.bind, e); err != nil {
		return err
	}
	v, err := sriov.LookupVF(e.h.FS, e.pf.Name, s.bind.Index)
	if err != nil || v.Driver != "" || !e.pf.Autoprobe {
		return err
	}
	return vfio.Probe(e.h.FS, v.Address)
}

// back is the bind the release undid: a rollback binds the VF to
// vfio-pci again.
func (s *releaseStep) back() target { return s.bind }

// releaseSteps lists the journal's binds of VFs not chosen now.
func releaseSteps(j *journal.Journal, chosen map[int]bool) []step {
	if j == nil {
		return nil
	}
	var out []step
	for _, ent := range j.Steps {
		if ent.Kind != string(KindBind) || ent.State == journal.Undone {
			continue
		}
		s, err := decodeEntry(ent, maxVFsUnknown) // loadForUndo checked it
		if err != nil {
			continue
		}
		if b, ok := s.(*bindStep); ok && !chosen[b.Index] {
			out = append(out, &releaseStep{ent: ent, bind: b})
		}
	}
	return out
}

func hasRelease(steps []step) bool {
	for _, s := range steps {
		if _, ok := s.(*releaseStep); ok {
			return true
		}
	}
	return false
}
