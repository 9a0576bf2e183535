package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// DownResult is the report of Down.
type DownResult struct {
	report.Common
	DryRun  bool         `json:"dry_run"`
	Steps   []StepResult `json:"steps"`
	Journal string       `json:"journal,omitempty"`
	Message string       `json:"message,omitempty"`
}

// Text implements report.Result.
func (r *DownResult) Text(w io.Writer) {
	switch {
	case r.Message != "":
		fmt.Fprintln(w, r.Message)
	case r.Error != nil:
		// The error says what happened; no plan header above it.
	case r.DryRun:
		fmt.Fprintf(w, "undo plan for %s (dry run, nothing changed):\n", r.PF)
	case r.Changed:
		fmt.Fprintf(w, "%s is down: everything vfbypass changed is undone\n", r.PF)
	default:
		fmt.Fprintf(w, "%s: nothing left to undo\n", r.PF)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %-12s %s\n", s.Status, s.Action)
	}
}

// Down undoes the PF's journal in reverse: first the rules vfbypass added,
// then up's steps.
func Down(ctx context.Context, h *host.Host, pfName string, opts Options) (*DownResult, error) {
	opts.defaults()
	res := &DownResult{DryRun: opts.DryRun, Steps: []StepResult{}}
	res.PF = pfName
	if err := sriov.CheckIfname(pfName); err != nil {
		return res, err
	}
	if !opts.DryRun {
		if err := checkRoot(h); err != nil {
			return res, err
		}
	}
	store := journal.Store{Dir: opts.StateDir, Waiting: opts.Progress}
	exists, err := stateDirExists(opts.StateDir)
	if err != nil {
		return res, err
	}
	unlock, unlocked, err := lockForDown(h, store, pfName, opts, exists)
	if err != nil {
		return res, err
	}
	defer unlock()
	// The PF's sriov_totalvfs bounds the VF indexes and counts the journal
	// may hold; reading it changes nothing.
	pf, pfErr := sriov.LookupPF(h.FS, pfName)
	total := totalVFsOf(pf, pfErr)
	j, err := loadDownJournal(store, pfName, total, exists)
	if err != nil {
		return res, err
	}
	if j == nil {
		return res, noJournal(res, pfName, opts)
	}
	res.Journal = store.Path(pfName)
	if err := checkPFForUndo(h, pf, pfErr, unlocked, j, store, opts.StateDir); err != nil {
		return res, err
	}
	if carries, _ := guardDefaultRoute(h, pfName, true, ""); carries {
		res.Warn("%s carries the default route: disabling SR-IOV resets it and its link drops for a moment", pfName)
	}
	e := &env{h: h, pf: pf, timeout: opts.Timeout}
	if err := checkNotInUse(h, pfName, j, total); err != nil && !opts.DryRun {
		return res, err
	}
	res.Diff = downDiff(e, j)
	orig, _ := originalOf(j) // loadForUndo checked it
	if err := undoAll(ctx, e, store, j, opts, &res.Steps, &res.Changed, res.Warn); err != nil || opts.DryRun {
		// A dry run's changed says whether the real run would change anything.
		res.Changed = res.Changed || (opts.DryRun && (len(res.Diff) > 0 || j.Active()))
		return res, err
	}
	if w := lroLeftOff(h, pfName, pf.Driver, pf.Address, orig); w != "" {
		res.Warn("%s", w)
	}
	res.VFs = vfReports(h, pfName)
	return res, nil
}

// stateDirExists checks --state-dir for down, which reads the state
// directory but does not make one: without it there is no journal.
func stateDirExists(dir string) (bool, error) {
	const fix = "pass the --state-dir that 'vfbypass up' used (default /run/vfbypass)"
	fi, err := os.Stat(dir)
	switch {
	case dir == "":
		return false, outcome.Invalid(fix, "the state directory is empty (--state-dir \"\")")
	case err == nil && !fi.IsDir():
		return false, outcome.Invalid(fix, "state directory %s is not a directory", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, outcome.Invalid(fix, "state directory %s: %v", dir, err)
	}
	return err == nil, nil
}

// lockForDown takes the PF's lock (not for a dry run, nor without a state
// directory). unlocked: the interface is gone, so there is nothing to lock
// and nothing will be touched.
func lockForDown(h *host.Host, store journal.Store, pf string, opts Options, exists bool) (unlock func(), unlocked bool, err error) {
	if opts.DryRun || !exists {
		return func() {}, false, nil
	}
	lock, err := store.Lock(h.FS, pf, opts.LockTimeout)
	switch {
	case errors.Is(err, sriov.ErrNoInterface):
		return func() {}, true, nil
	case err != nil:
		return nil, false, err
	}
	return func() { lock.Unlock() }, false, nil
}

// loadDownJournal loads the journal to undo, refusing a damaged one.
func loadDownJournal(store journal.Store, pf string, total int, exists bool) (*journal.Journal, error) {
	if !exists {
		return nil, nil
	}
	j, err := loadForUndo(store, pf, total)
	if errors.Is(err, journal.ErrCorrupt) {
		return nil, outcome.Invalid(fmt.Sprintf("inspect the PF with 'vfbypass status %s', restore it by hand, then remove %s", pf, store.Path(pf)), "refusing to undo from a damaged journal: %v", err)
	}
	return j, err
}

// noJournal is down's answer when there is nothing to undo: success with
// --missing-ok (for scripts), bad input otherwise.
func noJournal(res *DownResult, pf string, opts Options) error {
	msg := fmt.Sprintf("%s: no journal in %s, so vfbypass has nothing to undo (it did not set this PF up, or it was already taken down)", pf, opts.StateDir)
	if opts.MissingOK {
		res.Message = msg
		return nil
	}
	// The error carries the message; the result stays silent.
	return outcome.Invalid("check the PF with 'vfbypass status "+pf+"' (or pass --missing-ok in scripts)", "%s", msg)
}

// checkPFForUndo refuses to act when the PF is gone, appeared while down
// was starting, cannot be read, or the journal names devices that are not
// the PF's; nothing has been touched then.
func checkPFForUndo(h *host.Host, pf sriov.PF, pfErr error, unlocked bool, j *journal.Journal, store journal.Store, stateDir string) error {
	name := j.PF
	if errors.Is(pfErr, sriov.ErrNoInterface) {
		// Say what the journal knows and what to do.
		dev := "its PCI device"
		if j.PFAddress != "" {
			dev = "its PCI device " + j.PFAddress
		}
		return outcome.Invalid(fmt.Sprintf("if it was renamed, rename it back ('ip link set NAME name %s') and run 'vfbypass down %s' again; if %s is gone, so is what vfbypass set on it: remove %s", name, name, dev, store.Path(name)),
			"%s has a journal in %s but no longer exists (%v); nothing was undone", name, stateDir, pfErr)
	}
	if unlocked {
		return outcome.Failed(fmt.Errorf("%s appeared while down was starting; nothing was undone: run 'vfbypass down %s' again", name, name))
	}
	if pfErr != nil && !errors.Is(pfErr, sriov.ErrNoSRIOV) {
		return fmt.Errorf("undo %s: %w", name, pfErr)
	}
	return verifyJournal(h, pf, j, store.Path(name))
}

// undoAll undoes j in reverse: first the rules vfbypass added, then up's
// steps, and removes the journal once nothing is left. The journal is
// saved once after the rules and once after the steps when something is
// left, whatever their number: a kill before a save leaves records whose
// undo is done already, and both undos are idempotent (a rule is deleted
// only while its location holds it; a step's undo restores a recorded
// value). It appends what it did to steps.
//
// A journal that cannot be saved (a full state file system) does not stop
// it either: the journal on disk still lists every change not yet undone,
// so it keeps going in the same order, and only what the kernel refused is
// left (a later down undoes the rest again).
func undoAll(ctx context.Context, e *env, store journal.Store, j *journal.Journal, opts Options, steps *[]StepResult, anyChanged *bool, warn func(string, ...any)) error {
	left, saveErr := undoRules(e, store, j, opts, steps, anyChanged, warn)
	undone := 0
	for i := len(j.Steps) - 1; i >= 0; i-- {
		ent := j.Steps[i]
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeEntry(ent, -1) // loadForUndo checked it against the PF
		if err != nil {
			left = append(left, fmt.Sprintf("%s: %v", ent.ID, err))
			continue
		}
		desc := describeUndo(s, e)
		if opts.DryRun {
			*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: StepWouldUndo})
			continue
		}
		opts.Progress(desc)
		changed, err := undo(ctx, s, e)
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%s): %v", ent.ID, ent.Desc, err))
			*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: StepFailed, Error: err.Error()})
			continue
		}
		ent.State.Undo()
		undone++
		*anyChanged = *anyChanged || changed
		*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: statusOf(changed)})
	}
	left = append(left, restoreOriginal(e, j, opts.DryRun, steps, anyChanged, warn)...)
	if opts.DryRun {
		return nil
	}
	if len(left) > 0 {
		if undone > 0 {
			saveErr = keepGoing(saveErr, store.Save(j))
		}
		if saveErr != nil {
			left = append(left, fmt.Sprintf("(the journal could not be updated: %v; it still lists changes undone since, which down undoes again)", saveErr))
		}
		return &outcome.RollbackIncomplete{
			Err: fmt.Errorf("undo of %s incomplete, still applied: %s", j.PF, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("fix the cause and run 'vfbypass down %s' again (the journal %s keeps what is left), or restore those settings by hand", j.PF, store.Path(j.PF))}
	}
	if err := store.Remove(j.PF); err != nil {
		return &outcome.RollbackIncomplete{Err: err}
	}
	// Every claim of this state directory on the PF goes with its journal
	// (one a killed release left behind too).
	if c, err := store.LoadClaims(e.h.FS, j.PF); err != nil || c.Reconcile(nil) != nil {
		warn("the rule claims of %s for state directory %s could not be cleared; the next run that installs a rule there replaces them", j.PF, store.StateDirID())
	}
	return nil
}

// undoRules deletes the rules j records, newest first, with the table
// opened once, drops the records of those gone and saves j once. It
// returns what it could not delete, and the save's error.
func undoRules(e *env, store journal.Store, j *journal.Journal, opts Options, steps *[]StepResult, anyChanged *bool, warn func(string, ...any)) ([]string, error) {
	rev := slices.Clone(j.Rules)
	slices.Reverse(rev)
	desc := func(r journal.Rule) string { return fmt.Sprintf("delete ntuple rule %d (%s)", r.Location, r.Words) }
	id := func(r journal.Rule) string { return fmt.Sprintf("rule-%d", r.Location) }
	if len(rev) == 0 {
		return nil, nil
	}
	if opts.DryRun {
		for _, r := range rev {
			*steps = append(*steps, StepResult{ID: id(r), Action: desc(r), Status: StepWouldUndo})
		}
		return nil, nil
	}
	opts.Progress(fmt.Sprintf("delete %s vfbypass installed", report.Count(len(rev), "ntuple rule")))
	rm, err := steer.RemoveRecords(e.h, store, j.PF, rev)
	var left []string
	var kept []journal.Rule
	for i, r := range rev {
		rerr := err
		if rerr == nil {
			rerr = rm[i].Err
		}
		if rerr == nil && rm[i].ClaimedBy != "" {
			// Not this state directory's rule: its record is forged or
			// stale, and goes; the rule stays.
			warn("ntuple rule %d (%s) is claimed by state directory %s, which installed it; left alone and its record here forgotten", r.Location, r.Words, rm[i].ClaimedBy)
			*steps = append(*steps, StepResult{ID: id(r), Action: desc(r), Status: statusOf(false)})
			continue
		}
		if rerr != nil {
			left = append(left, desc(r)+": "+rerr.Error())
			*steps = append(*steps, StepResult{ID: id(r), Action: desc(r), Status: StepFailed, Error: rerr.Error()})
			kept = append(kept, r)
			continue
		}
		*anyChanged = *anyChanged || rm[i].Deleted
		*steps = append(*steps, StepResult{ID: id(r), Action: desc(r), Status: statusOf(rm[i].Deleted)})
	}
	slices.Reverse(kept)
	j.Rules = kept
	if len(kept) == len(rev) {
		return left, nil
	}
	return left, store.Save(j)
}

// keepGoing keeps the first of the journal saves that failed.
func keepGoing(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// downDiff lists the fields down restores: the rules vfbypass installed go,
// each step's field gets the value before the first up.
func downDiff(e *env, j *journal.Journal) []report.Change {
	var c []report.Change
	for i := len(j.Rules) - 1; i >= 0; i-- {
		r := j.Rules[i]
		c = append(c, report.Change{Field: ruleField(r.Location), Before: ruleValue(strings.Fields(r.Words))})
	}
	for i := len(j.Steps) - 1; i >= 0; i-- {
		ent := j.Steps[i]
		if ent.State == journal.Undone {
			continue
		}
		if s, err := decodeEntry(ent, -1); err == nil { // loadForUndo checked it
			c = append(c, restores(s, e)...)
		}
	}
	return c
}

// restoreOriginal is down's last phase, after its last reset: the PF's
// rules that vfbypass did not install come back at their locations, and a
// table someone had configured is written back. A rule the driver refuses
// now is a warning (it is the operator's, not vfbypass's state); a table
// that cannot be written is left for the next down.
func restoreOriginal(e *env, j *journal.Journal, dry bool, steps *[]StepResult, anyChanged *bool, warn func(string, ...any)) (left []string) {
	orig, _ := originalOf(j) // loadForUndo checked it
	if len(orig.Rules) == 0 && orig.RSSIndir == nil {
		return nil
	}
	pf := e.pf.Name
	desc := fmt.Sprintf("put back what was on %s before up (%s, %s) once the last reset is done", pf, report.Count(len(orig.Rules), "ntuple rule"), tableWord(orig.RSSIndir))
	if dry {
		*steps = append(*steps, StepResult{ID: "original", Action: desc, Status: StepWouldApply})
		return nil
	}
	changed, err := restoreTable(e.h, pf, orig.RSSIndir)
	if err != nil {
		left = append(left, err.Error())
	}
	done, refused, err := putBackRules(e.h, pf, orig.Rules)
	if err != nil && !isNoTable(err) {
		left = append(left, err.Error())
	}
	for _, r := range refused {
		warn("%s: it was on %s before up, but the driver refuses it now, so it is not installed again", r, pf)
	}
	changed = changed || len(done) > 0
	*anyChanged = *anyChanged || changed
	st := StepResult{ID: "original", Action: desc, Status: statusOf(changed)}
	if len(left) > 0 {
		st.Status, st.Error = StepFailed, strings.Join(left, "; ")
	}
	*steps = append(*steps, st)
	return left
}

// tableWord names a configured table for descriptions.
func tableWord(t []uint32) string {
	if t == nil {
		return "the driver's own RSS table"
	}
	return "the configured RSS table"
}

func statusOf(changed bool) StepStatus {
	if changed {
		return StepUndone
	}
	return StepUnchanged
}

// loadForUndo loads pf's journal and decodes every step record in it and
// its original record, so that a journal with a record this vfbypass
// cannot read, or whose id is not its kind's, is refused before anything
// is undone rather than half way. (An undone step may have no record.)
func loadForUndo(store journal.Store, pf string, totalVFs int) (*journal.Journal, error) {
	j, err := store.Load(pf)
	if err != nil || j == nil {
		return j, err
	}
	if err := checkRecords(j, totalVFs); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", journal.ErrCorrupt, store.Path(pf), err)
	}
	return j, nil
}

// checkRecords decodes every step record of j and its original record:
// what loadForUndo refuses and status shows as a damaged journal.
func checkRecords(j *journal.Journal, totalVFs int) error {
	for _, ent := range j.Steps {
		if ent.State == journal.Undone && (len(ent.Undo) == 0 || string(ent.Undo) == "null") {
			continue
		}
		if _, err := decodeEntry(ent, totalVFs); err != nil {
			return fmt.Errorf("step %s: %v", ent.ID, err)
		}
	}
	_, _, err := decodeOriginal(j, totalVFs)
	return err
}

// checkNotInUse refuses to start undoing while a process holds a VF's vfio
// group open: unbinding or removing the VF would block until it lets go.
func checkNotInUse(h *host.Host, pf string, j *journal.Journal, totalVFs int) error {
	for _, ent := range j.Steps {
		if ent.Kind != string(KindBind) || ent.State == journal.Undone {
			continue
		}
		s, err := decodeEntry(ent, totalVFs)
		b, ok := s.(*bindStep)
		if err != nil || !ok {
			continue
		}
		v, err := sriov.LookupVF(h.FS, pf, b.Index)
		if err != nil || v.IOMMUGroup == "" {
			continue
		}
		node := vfio.DeviceNode(h.FS, v.IOMMUGroup)
		if node == "" {
			continue
		}
		if hs := vfio.Holders(h.FS, node); len(hs) > 0 {
			var names []string
			for _, x := range hs {
				names = append(names, x.String())
			}
			return &outcome.RolledBack{
				Err: fmt.Errorf("VF %d of %s (%s) is in use through %s by %s; nothing was undone", b.Index, pf, v.Address, node, strings.Join(names, ", ")),
				Fix: "stop that process (e.g. the 'vfbypass rx' or DPDK application on the VF), then run 'vfbypass down " + pf + "' again"}
		}
	}
	return nil
}
