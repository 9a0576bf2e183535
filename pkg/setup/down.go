package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/journal"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/report"
	"github.com/vfbypass/vfbypass/pkg/sriov"
	"github.com/vfbypass/vfbypass/pkg/steer"
	"github.com/vfbypass/vfbypass/pkg/vfio"
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
	case r.DryRun:
		fmt.Fprintf(w, "undo plan for %s (dry run, nothing changed):\n", r.PF)
	case r.Error == nil && r.Changed:
		fmt.Fprintf(w, "%s is down: everything vfbypass changed is undone\n", r.PF)
	case r.Error == nil:
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
	store := journal.Store{Dir: opts.StateDir}
	// down reads the state directory; it does not make one: without it
	// there is no journal.
	fi, serr := os.Stat(opts.StateDir)
	switch {
	case opts.StateDir == "":
		return res, outcome.Invalid("pass the --state-dir that 'vfbypass up' used (default /run/vfbypass)", "the state directory is empty (--state-dir \"\")")
	case serr == nil && !fi.IsDir():
		return res, outcome.Invalid("pass the --state-dir that 'vfbypass up' used (default /run/vfbypass)", "state directory %s is not a directory", opts.StateDir)
	case serr != nil && !errors.Is(serr, fs.ErrNotExist):
		return res, outcome.Invalid("pass the --state-dir that 'vfbypass up' used (default /run/vfbypass)", "state directory %s: %v", opts.StateDir, serr)
	}
	unlocked := false // the interface is gone: nothing to lock, nothing will be touched
	if !opts.DryRun && serr == nil {
		lock, err := store.Lock(h.FS, pfName, opts.LockTimeout)
		switch {
		case errors.Is(err, journal.ErrNoInterface):
			unlocked = true
		case err != nil:
			return res, err
		default:
			defer lock.Unlock()
		}
	}
	// The PF's sriov_totalvfs bounds the VF indexes and counts the journal
	// may hold; reading it changes nothing.
	pf, pfErr := sriov.LookupPF(h.FS, pfName)
	total := totalVFsOf(pf, pfErr)
	var j *journal.Journal
	var err error
	if serr == nil {
		j, err = loadForUndo(store, pfName, total)
	}
	if err != nil {
		if errors.Is(err, journal.ErrCorrupt) {
			return res, outcome.Invalid(fmt.Sprintf("inspect the PF with 'vfbypass status %s', restore it by hand, then remove %s", pfName, store.Path(pfName)), "refusing to undo from a damaged journal: %v", err)
		}
		return res, err
	}
	if j == nil {
		msg := fmt.Sprintf("%s: no journal in %s, so vfbypass has nothing to undo (it did not set this PF up, or it was already taken down)", pfName, opts.StateDir)
		if opts.MissingOK {
			res.Message = msg
			return res, nil
		}
		// The error carries the message; the result stays silent.
		return res, outcome.Invalid("check the PF with 'vfbypass status "+pfName+"' (or pass --missing-ok in scripts)", "%s", msg)
	}
	res.Journal = store.Path(pfName)
	if err := pfErr; errors.Is(err, sriov.ErrNoInterface) {
		// Nothing was touched: say what the journal knows and what to do.
		dev := "its PCI device"
		if j.PFAddress != "" {
			dev = "its PCI device " + j.PFAddress
		}
		return res, outcome.Invalid(fmt.Sprintf("if it was renamed, rename it back ('ip link set NAME name %s') and run 'vfbypass down %s' again; if %s is gone, so is what vfbypass set on it: remove %s", pfName, pfName, dev, store.Path(pfName)),
			"%s has a journal in %s but no longer exists (%v); nothing was undone", pfName, opts.StateDir, err)
	}
	if unlocked {
		return res, outcome.WithCode(outcome.Failed, fmt.Errorf("%s appeared while down was starting; nothing was undone: run 'vfbypass down %s' again", pfName, pfName))
	}
	if pfErr != nil && !errors.Is(pfErr, sriov.ErrNoSRIOV) {
		return res, fmt.Errorf("undo %s: %w", pfName, pfErr)
	}
	if err := verifyJournal(h, pf, j, store.Path(pfName)); err != nil {
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
	if err := undoAll(ctx, e, store, j, opts, &res.Steps, &res.Changed); err != nil || opts.DryRun {
		// A dry run's changed says whether the real run would change anything.
		res.Changed = res.Changed || (opts.DryRun && (len(res.Diff) > 0 || j.Active()))
		return res, err
	}
	res.VFs = vfReports(h, pfName)
	return res, nil
}

// undoAll undoes j in reverse: first the rules vfbypass added, then up's
// steps, saving the journal after each, and removes it once nothing is
// left. It appends what it did to steps.
func undoAll(ctx context.Context, e *env, store journal.Store, j *journal.Journal, opts Options, steps *[]StepResult, anyChanged *bool) error {
	var left []string

	// Rules first: they were added last.
	for i := len(j.Rules) - 1; i >= 0; i-- {
		r := j.Rules[i]
		desc := fmt.Sprintf("delete ntuple rule %d (%s)", r.Location, r.Words)
		if opts.DryRun {
			*steps = append(*steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: desc, Status: "would-undo"})
			continue
		}
		changed, err := steer.RemoveRecorded(e.h, j.PF, r)
		if err != nil {
			left = append(left, desc+": "+err.Error())
			*steps = append(*steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: desc, Status: "failed", Error: err.Error()})
			continue
		}
		j.Rules = append(j.Rules[:i], j.Rules[i+1:]...)
		if err := store.Save(j); err != nil {
			return outcome.WithCode(outcome.RollbackIncomplete, err)
		}
		*anyChanged = *anyChanged || changed
		*steps = append(*steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: desc, Status: statusOf(changed)})
	}

	for i := len(j.Steps) - 1; i >= 0; i-- {
		ent := j.Steps[i]
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeStep(ent.Kind, ent.Undo, -1) // loadForUndo checked it against the PF
		if err != nil {
			left = append(left, fmt.Sprintf("%s: %v", ent.ID, err))
			continue
		}
		desc := "undo: " + ent.Desc
		if opts.DryRun {
			*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: "would-undo"})
			continue
		}
		opts.Progress(desc)
		changed, err := s.undo(ctx, e)
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%s): %v", ent.ID, ent.Desc, err))
			*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: "failed", Error: err.Error()})
			continue
		}
		ent.State = journal.Undone
		if err := store.Save(j); err != nil {
			return outcome.WithCode(outcome.RollbackIncomplete, err)
		}
		*anyChanged = *anyChanged || changed
		*steps = append(*steps, StepResult{ID: ent.ID, Action: desc, Status: statusOf(changed)})
	}
	if opts.DryRun {
		return nil
	}
	if len(left) > 0 {
		return &outcome.Error{Code: outcome.RollbackIncomplete,
			Err: fmt.Errorf("undo of %s incomplete, still applied: %s", j.PF, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("fix the cause and run 'vfbypass down %s' again (the journal %s keeps what is left), or restore those settings by hand", j.PF, store.Path(j.PF))}
	}
	if err := store.Remove(j.PF); err != nil {
		return outcome.WithCode(outcome.RollbackIncomplete, err)
	}
	return nil
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
		if s, err := decodeStep(ent.Kind, ent.Undo, -1); err == nil { // loadForUndo checked it
			c = append(c, s.restores(e)...)
		}
	}
	return c
}

func statusOf(changed bool) string {
	if changed {
		return "undone"
	}
	return "unchanged"
}

// loadForUndo loads pf's journal and decodes every step still to undo, so
// that a journal with a record this vfbypass cannot read is refused before
// anything is undone rather than half way.
func loadForUndo(store journal.Store, pf string, totalVFs int) (*journal.Journal, error) {
	j, err := store.Load(pf)
	if err != nil || j == nil {
		return j, err
	}
	for _, ent := range j.Steps {
		if ent.State == journal.Undone {
			continue
		}
		if _, err := decodeStep(ent.Kind, ent.Undo, totalVFs); err != nil {
			return nil, fmt.Errorf("%w: %s: step %s: %v", journal.ErrCorrupt, store.Path(pf), ent.ID, err)
		}
	}
	return j, nil
}

// checkNotInUse refuses to start undoing while a process holds a VF's vfio
// group open: unbinding or removing the VF would block until it lets go.
func checkNotInUse(h *host.Host, pf string, j *journal.Journal, totalVFs int) error {
	for _, ent := range j.Steps {
		if ent.Kind != "bind" || ent.State == journal.Undone {
			continue
		}
		s, err := decodeStep(ent.Kind, ent.Undo, totalVFs)
		if err != nil {
			continue
		}
		b := s.(*bindStep)
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
			return &outcome.Error{Code: outcome.Failed,
				Err: fmt.Errorf("VF %d of %s (%s) is in use through %s by %s; nothing was undone", b.Index, pf, v.Address, node, strings.Join(names, ", ")),
				Fix: "stop that process (e.g. the 'vfbypass rx' or DPDK application on the VF), then run 'vfbypass down " + pf + "' again"}
		}
	}
	return nil
}
