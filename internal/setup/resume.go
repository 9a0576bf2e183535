package setup

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
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
	if err := u.undoPending(ctx); err != nil {
		return err
	}
	if len(u.res.Repaired) > 0 {
		u.table.Forget() // an undo may have reset the PF
	}
	if err := u.e.refresh(); err != nil {
		return err
	}
	u.pf = u.e.pf
	return u.settleRules()
}

// settleRules settles the rule records a run killed between its rule
// batch's write-ahead save and its confirmation left pending, from the
// table (steer.Settle), and saves the journal once when it settled any.
func (u *upRun) settleRules() error {
	if u.opts.DryRun {
		return nil
	}
	n, err := steer.Settle(u.h, u.store, u.pf.Name, u.j, u.table)
	if err != nil || n == 0 {
		return err
	}
	if err := u.store.Save(u.j); err != nil {
		return outcome.Failed(fmt.Errorf("finish the interrupted run: %w", err))
	}
	u.res.Repaired = append(u.res.Repaired, fmt.Sprintf("settled %s left pending by an interrupted run, from the rule table", report.Count(n, "ntuple rule record")))
	return nil
}

// undoPending undoes the steps left pending, newest first, and saves the
// journal once (a batch leaves many pending: their undo is idempotent, so
// a kill before the save only repeats it).
func (u *upRun) undoPending(ctx context.Context) error {
	undone := 0
	save := func() error {
		if undone == 0 {
			return nil
		}
		if err := u.store.Save(u.j); err != nil {
			return outcome.Failed(fmt.Errorf("finish the interrupted run: %w", err))
		}
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
		s, err := decodeEntry(ent, u.pf.TotalVFs)
		if err == nil {
			_, err = undo(ctx, s, u.e)
		}
		if err != nil {
			if serr := save(); serr != nil {
				return serr
			}
			return outcome.Failed(fmt.Errorf("finish the interrupted run: undo %s: %w (nothing else was changed; 'vfbypass down %s' retries the undo)", ent.ID, err, u.pf.Name))
		}
		ent.State.Undo()
		undone++
		u.res.Repaired = append(u.res.Repaired, what)
	}
	return save()
}

// recreateFirst, for a VF-count change accepted with --recreate, runs
// after plan (whose diff compares the request with the VFs as they are
// now) and takes down everything vfbypass did on the PF, as down would,
// inside this run's rollback: each step undone stays in the journal
// (undone) and in u.applied, so a failure later applies it again, and the
// rule records stay too, so that the rules phase (or, after a kill, the
// next up) installs the rules added with steer again where their VF still
// exists. The original state stays the journal's.
func (u *upRun) recreateFirst(ctx context.Context) error {
	if !u.recreate {
		return nil
	}
	if u.opts.DryRun {
		for i := len(u.j.Steps) - 1; i >= 0; i-- {
			if ent := u.j.Steps[i]; ent.State != journal.Undone {
				u.res.Steps = append(u.res.Steps, StepResult{ID: ent.ID, Action: "undo: " + ent.Desc, Status: StepWouldUndo})
			}
		}
		return nil
	}
	if err := checkNotInUse(u.h, u.pf.Name, u.j, u.pf.TotalVFs); err != nil {
		return err
	}
	u.opts.Progress(fmt.Sprintf("remove every VF of %s (--recreate)", u.pf.Name))
	u.openJournal()
	u.prevReq = u.j.Request
	u.oldRules = slices.Clone(u.j.Rules)
	u.tornDown = true
	u.table.Forget()
	if err := u.tearDown(ctx); err != nil {
		return u.rollback(u.applied, err)
	}
	if err := u.e.refresh(); err != nil {
		return u.rollback(u.applied, err)
	}
	u.pf = u.e.pf
	// The steps are planned again for a PF without VFs; the diff stays
	// the one plan took before the VFs went.
	d, err := u.desired(u.req, nil)
	if err != nil {
		return u.rollback(u.applied, err)
	}
	u.steps = planSteps(d)
	return nil
}

// tearDown deletes the journaled rules from the table (keeping their
// records) and undoes the journal's steps in reverse, each marked undone
// and kept for the rollback.
func (u *upRun) tearDown(ctx context.Context) error {
	rev := slices.Clone(u.j.Rules)
	slices.Reverse(rev)
	rm, err := steer.RemoveRecords(u.h, u.store, u.pf.Name, rev)
	if err != nil {
		return fmt.Errorf("--recreate: %w", err)
	}
	for i, r := range rev {
		changed, err := rm[i].Deleted, rm[i].Err
		if rm[i].ClaimedBy != "" {
			u.res.Warn("ntuple rule %d (%s) is claimed by state directory %s, which installed it; left alone and its record here forgotten", r.Location, r.Words, rm[i].ClaimedBy)
			u.j.DropRule(r.Location)
			continue
		}
		if err != nil {
			return fmt.Errorf("--recreate: delete ntuple rule %d (%s): %w", r.Location, r.Words, err)
		}
		u.res.Changed = u.res.Changed || changed
		u.res.Steps = append(u.res.Steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("delete ntuple rule %d (%s)", r.Location, r.Words), Status: statusOf(changed)})
	}
	for i := len(u.j.Steps) - 1; i >= 0; i-- {
		ent := u.j.Steps[i]
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeEntry(ent, u.pf.TotalVFs)
		if err != nil {
			return fmt.Errorf("--recreate: %s: %w", ent.ID, err)
		}
		desc := describeUndo(s, u.e)
		u.opts.Progress(desc)
		a := &applied{ent: ent, s: s, prev: s, was: *ent, tornDown: true}
		changed, err := undo(ctx, s, u.e)
		if err != nil {
			u.res.Steps = append(u.res.Steps, StepResult{ID: ent.ID, Action: desc, Status: StepFailed, Error: err.Error()})
			u.applied = append(u.applied, a) // half undone: applied again
			return fmt.Errorf("--recreate: %s: %w", ent.ID, err)
		}
		ent.State.Undo()
		u.applied = append(u.applied, a)
		if err := u.store.Save(u.j); err != nil {
			return err
		}
		u.res.Changed = u.res.Changed || changed
		u.res.Steps = append(u.res.Steps, StepResult{ID: ent.ID, Action: desc, Status: statusOf(changed)})
	}
	return nil
}

// reinstallOld, in the rollback of a --recreate, puts the journal's rule
// records back as they were before the teardown and installs again those
// whose rule is missing. It returns what it could not install.
func (u *upRun) reinstallOld() []string {
	if !u.tornDown {
		return nil
	}
	u.j.Rules = u.oldRules
	if err := u.store.Save(u.j); err != nil {
		return []string{fmt.Sprintf("journal: %v", err)}
	}
	states, err := steer.Inspect(u.h, u.store, u.pf.Name, nil)
	if err != nil {
		return []string{fmt.Sprintf("ntuple rules of %s: %v", u.pf.Name, err)}
	}
	var missing []journal.Rule
	for _, st := range states {
		if st.State == steer.RecordMissing {
			missing = append(missing, st.Rule)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := steer.Reinstall(u.h, u.store, u.pf.Name, missing, u.steerOptions()); err != nil {
		return []string{fmt.Sprintf("%s not installed again: %v", report.Count(len(missing), "ntuple rule"), err)}
	}
	if cur, err := u.store.Load(u.pf.Name); err == nil && cur != nil {
		u.j.Rules = cur.Rules
	}
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
