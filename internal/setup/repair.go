package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
)

// RepairResult is what Repair put back.
type RepairResult struct {
	report.Common
	Steps []StepResult `json:"steps"`
}

// Repair puts back, under the PF's lock, what a PF reset took from the
// setup the journal records: the table without the hidden queue (queue
// mode), the rules vfbypass installed, and the rules that were on the PF
// before the first up. It is how the control plane answers a reset it
// caused (the receiver's XDP attach and detach, which on ixgbe go through
// ixgbe_close and ixgbe_setup_reta); without a journal there is nothing to
// put back. after names the reset, for the report.
func Repair(ctx context.Context, h *host.Host, pfName, after string, opts Options) (*RepairResult, error) {
	opts.defaults()
	res := &RepairResult{Steps: []StepResult{}}
	res.PF = pfName
	store := journal.Store{Dir: opts.StateDir, Waiting: opts.Progress}
	exists, err := stateDirExists(opts.StateDir)
	if err != nil || !exists {
		return res, err
	}
	lock, err := store.Lock(h.FS, pfName, opts.LockTimeout)
	if err != nil {
		return res, err
	}
	defer lock.Unlock()
	pf, pfErr := sriov.LookupPF(h.FS, pfName)
	if pfErr != nil && !errors.Is(pfErr, sriov.ErrNoSRIOV) {
		return res, pfErr
	}
	j, err := loadForUndo(store, pfName, totalVFsOf(pf, pfErr))
	if err != nil || j == nil || !j.Active() {
		return res, err
	}
	if err := verifyJournal(h, pf, j, store.Path(pfName)); err != nil {
		return res, err
	}
	e := &env{h: h, pf: pf, timeout: opts.Timeout}
	if err := repairTable(ctx, e, j, after, res); err != nil {
		return res, err
	}
	if err := repairRules(h, store, pfName, after, opts, res); err != nil {
		return res, err
	}
	orig, _ := originalOf(j) // loadForUndo checked it
	done, left, err := putBackRules(h, pfName, orig.Rules)
	if err != nil && !isNoTable(err) {
		return res, err
	}
	for _, r := range done {
		res.Steps = append(res.Steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("install ntuple rule %d (%s) again %s: it was on %s before up", r.Location, r.Words, after, pfName), Status: StepRepaired})
		res.Changed = true
	}
	for _, l := range left {
		res.Warn("%s: it was on %s before up, but the driver refuses it now", l, pfName)
	}
	return res, nil
}

// repairTable writes queue mode's table again when a reset refilled it.
func repairTable(ctx context.Context, e *env, j *journal.Journal, after string, res *RepairResult) error {
	s := journaledIndir(j)
	if s == nil || j.Entry(string(KindRSSIndir)).State != journal.Applied {
		return nil
	}
	c, err := s.changes(e)
	if err != nil || len(c) == 0 {
		return err
	}
	if err := s.apply(ctx, e); err != nil {
		return fmt.Errorf("take queue %d of %s out of RSS again %s: %w", s.Queue, e.pf.Name, after, err)
	}
	res.Steps = append(res.Steps, StepResult{ID: string(KindRSSIndir), Action: fmt.Sprintf("take queue %d out of RSS again %s (ixgbe_setup_reta had put it back)", s.Queue, after), Status: StepRepaired})
	res.Changed = true
	return nil
}

// repairRules installs the journal's rules that went missing again, at
// their locations, journaled as steer journals them.
func repairRules(h *host.Host, store journal.Store, pf, after string, opts Options, res *RepairResult) error {
	states, err := steer.Inspect(h, store, pf, nil)
	if err != nil {
		return err
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
	sr, err := steer.Reinstall(h, store, pf, missing, steer.Options{StateDir: opts.StateDir, LockHeld: true, LockTimeout: opts.LockTimeout})
	if err != nil {
		return err
	}
	for _, r := range sr.Rules {
		st := ruleStep(r, StepRepaired)
		st.Action += " (installed again " + after + ")"
		res.Steps = append(res.Steps, st)
	}
	res.Changed = res.Changed || sr.Changed
	res.Warnings = append(res.Warnings, sr.Warnings...)
	return nil
}
