package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// desired is what the plan works from: the request, the PF's state before
// the first up (the journal's, or the PF as it is when there is none), and
// the journal, whose records say which VFs vfbypass bound earlier.
type desired struct {
	req  Request
	orig Original
	j    *journal.Journal
	// iommu: the host has an IOMMU (no-IOMMU mode is not needed).
	iommu bool
	// ntuple: the PF's driver can switch ntuple filters on; why not.
	ntuple    bool
	ntupleWhy string
	// queue: queue mode's steps (queue.go), planned from the PF's table
	// as probe read it.
	queue []step
	probe queueProbe
}

// planSteps lists the steps that take the PF to d. It depends only on the
// request and the original state, never on how far an earlier run got,
// so a run after an interrupted one plans the same steps as a clean one;
// each step then checks the kernel (changes) before it acts.
func planSteps(d desired) []step {
	if d.req.queueMode() {
		return d.queue
	}
	creating := d.orig.NumVFs != d.req.NumVFs
	toVFIO := d.req.Driver == vfio.Driver
	chosen := map[int]bool{}
	for _, v := range d.req.VFs {
		chosen[v.Index] = toVFIO
	}
	unbound := creating && toVFIO && d.orig.Autoprobe
	steps := []step{&numVFsStep{Want: d.req.NumVFs, Unbound: unbound}}
	steps = append(steps, releaseSteps(d.j, chosen)...)
	if creating && d.orig.Autoprobe {
		var rest []int
		for k := 0; k < d.req.NumVFs; k++ {
			if !chosen[k] {
				rest = append(rest, k)
			}
		}
		if len(rest) > 0 && (unbound || hasRelease(steps)) {
			steps = append(steps, &probeVFsStep{VFs: rest})
		}
	}
	for _, v := range d.req.VFs {
		if v.configures() {
			steps = append(steps, &vfConfigStep{Index: v.Index, Created: v.Index >= d.orig.NumVFs, Want: vfSettings{
				MAC: v.MAC, VLAN: v.VLAN, QoS: v.QoS, Trust: v.Trust, Spoofchk: v.Spoofchk}})
		}
	}
	if toVFIO {
		steps = append(steps, &moduleStep{Name: vfio.Driver})
		if d.req.NoIOMMU && !d.iommu {
			steps = append(steps, &noIOMMUStep{})
		}
		for _, v := range d.req.VFs {
			steps = append(steps, &bindStep{Index: v.Index, Driver: vfio.Driver})
		}
	}
	if d.ntuple {
		steps = append(steps, &ntupleStep{})
	}
	return steps
}

// plan builds the steps and the diff of this run.
func (u *upRun) plan(context.Context) error {
	d, err := u.desired(u.req, u.j)
	if err != nil {
		return err
	}
	if u.req.queueMode() {
		queueWarnings(u.pf, d.probe, u.req, &u.res.Common)
	} else if !d.ntuple {
		u.res.Warn("%s (driver %s) cannot steer flows: %s; traffic reaches the VFs only by their MAC/VLAN", u.pf.Name, u.pf.Driver, d.ntupleWhy)
	}
	u.steps = planSteps(d)
	for _, s := range u.steps {
		c, err := s.changes(u.e)
		if err != nil {
			return fmt.Errorf("check %s: %w", s.id(), err)
		}
		u.res.Diff = append(u.res.Diff, c...)
	}
	if err := u.planFlush(); err != nil {
		return err
	}
	if u.rulePlan, err = u.planRules(); err != nil {
		return err
	}
	if err := u.recheckRules(); err != nil {
		return err
	}
	u.rulePlan.warnLeft(&u.res.Common)
	u.res.Diff = append(u.res.Diff, u.rulePlan.diff()...)
	return nil
}

// desired gathers what planSteps needs for req on this PF.
func (u *upRun) desired(req Request, j *journal.Journal) (desired, error) {
	iommu, _ := vfio.IOMMUPresent(u.h.FS) // a read error was refused by validate
	_, ok, why, err := NtupleSupport(u.h, u.pf.Name)
	if err != nil {
		return desired{}, err
	}
	d := desired{req: req, orig: u.orig, j: j, iommu: iommu, ntuple: ok, ntupleWhy: why}
	if req.queueMode() {
		var err error
		d.probe = probeQueue(u.h, u.pf)
		if d.queue, err = queueSteps(d.probe, req, j, d.orig); err != nil {
			return d, err
		}
	}
	return d, nil
}

// dryRun reports the plan as the real run would carry it out.
func (u *upRun) dryRun() error {
	for _, s := range u.steps {
		st := StepWouldApply
		if d, err := done(s, u.e); err == nil && d && !u.recreate {
			st = StepAlready
		}
		u.res.Steps = append(u.res.Steps, StepResult{ID: s.id(), Action: s.describe(u.e), Status: st})
	}
	u.res.Steps = append(u.res.Steps, u.ruleSteps(u.rulePlan)...)
	u.res.Changed = len(u.res.Diff) > 0 || len(u.res.Repaired) > 0
	warnReset(u.res, u.pf)
	return nil
}
