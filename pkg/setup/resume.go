package setup

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/vfbypass/vfbypass/pkg/flows"
	"github.com/vfbypass/vfbypass/pkg/journal"
	"github.com/vfbypass/vfbypass/pkg/outcome"
)

// resume rolls back what a run killed half-way left pending, so the plan
// starts from a host as if that step had never begun: a step's record is
// written before it touches the kernel, and its undo is idempotent, so
// this is right at any instruction the kill may have hit. (Finishing the
// step instead would depend on how far it got: a numvfs step killed with
// sriov_drivers_autoprobe off leaves VFs that no plan would make.)
func (u *upRun) resume(ctx context.Context) error {
	if u.j == nil {
		return nil
	}
	for i := len(u.j.Steps) - 1; i >= 0; i-- {
		ent := u.j.Steps[i]
		if ent.State != journal.Pending {
			continue
		}
		what := fmt.Sprintf("rolled back %s, left pending by an interrupted run (%s)", ent.ID, ent.Desc)
		if u.opts.DryRun {
			u.res.Repaired = append(u.res.Repaired, "would have "+what)
			continue
		}
		s, err := decodeStep(ent.Kind, ent.Undo, u.pf.TotalVFs)
		if err == nil {
			_, err = s.undo(ctx, u.e)
		}
		if err != nil {
			return outcome.WithCode(outcome.Failed, fmt.Errorf("finish the interrupted run: undo %s: %w (nothing else was changed; 'vfbypass down %s' retries the undo)", ent.ID, err, u.pf.Name))
		}
		ent.State = journal.Undone
		if err := u.store.Save(u.j); err != nil {
			return outcome.WithCode(outcome.Failed, fmt.Errorf("finish the interrupted run: %w", err))
		}
		u.res.Repaired = append(u.res.Repaired, what)
	}
	if err := u.e.refresh(); err != nil {
		return err
	}
	u.pf = u.e.pf
	return nil
}

// recreateFirst, for a VF-count change accepted with --recreate, runs
// after plan (whose diff compares the request with the VFs as they are
// now) and undoes
// everything vfbypass did on the PF, as down would, and keeps the rules
// added with steer so that applyRules installs them again where their VF
// still exists. The original state stays the journal's.
func (u *upRun) recreateFirst(ctx context.Context) error {
	if !u.recreate {
		return nil
	}
	if u.opts.DryRun {
		for i := len(u.j.Steps) - 1; i >= 0; i-- {
			if ent := u.j.Steps[i]; ent.State != journal.Undone {
				u.res.Steps = append(u.res.Steps, StepResult{ID: ent.ID, Action: "undo: " + ent.Desc, Status: "would-undo"})
			}
		}
		return nil
	}
	if err := checkNotInUse(u.h, u.pf.Name, u.j, u.pf.TotalVFs); err != nil {
		return err
	}
	for _, r := range u.j.Rules {
		if r.Source != "up" {
			u.readd = append(u.readd, r)
		}
	}
	u.opts.Progress(fmt.Sprintf("remove every VF of %s (--recreate)", u.pf.Name))
	var changed bool
	if err := undoAll(ctx, u.e, u.store, u.j, u.opts, &u.res.Steps, &changed, u.res.Warn); err != nil {
		return err
	}
	u.res.Changed = changed
	u.j = nil
	if err := u.e.refresh(); err != nil {
		return err
	}
	u.pf = u.e.pf
	// The steps are planned again for a PF without a journal; the diff
	// stays the one plan took before the VFs went.
	d, err := u.desired(u.req, nil)
	if err != nil {
		return err
	}
	u.steps = planSteps(d)
	return nil
}

// readdable keeps the rules whose target VF exists with n VFs.
func readdable(rules []journal.Rule, n int) (keep, drop []journal.Rule) {
	for _, r := range rules {
		var fs flows.FlowSpec
		b, err := hex.DecodeString(r.Spec)
		if err == nil {
			err = fs.UnmarshalBinary(b)
		}
		if t := flows.DecodeCookie(fs.RingCookie); err != nil || (!t.Drop && t.VF >= n) {
			drop = append(drop, r)
			continue
		}
		keep = append(keep, r)
	}
	return keep, drop
}
