package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// applied is a journal entry this run changed, with what it held before,
// so that a rollback puts the entry and the kernel back as they were.
type applied struct {
	ent *journal.Entry
	s   step
	// prev is the entry's step before this run (nil: this run made it);
	// was is the entry as it was then (its record, state and text).
	prev step
	was  journal.Entry
	// before, for a VF's settings, holds their values before this run in
	// its Old: a rollback sets them again, whether or not an earlier run
	// created the VF (Created only tells down that the VF goes with it).
	before *vfConfigStep
	// tornDown: --recreate undid the entry in this run; a rollback
	// applies prev (the entry's step) again.
	tornDown bool
}

// apply carries out the plan in batches of consecutive steps of one kind
// (the VFs' configs, their binds): each step whose fields differ from the
// request is journaled pending, the batch's records written ahead in one
// save, the steps applied, and the batch marked applied in one more, so
// the journal is written a fixed number of times whatever the number of
// VFs. A step that fails rolls back this run's steps.
func (u *upRun) apply(ctx context.Context) error {
	u.openJournal()
	u.prevReq = u.j.Request
	u.j.Request, _ = json.Marshal(u.req)
	for _, batch := range kindBatches(u.steps) {
		as, err := u.applyBatch(ctx, batch)
		u.applied = append(u.applied, as...)
		if err != nil {
			return u.rollback(u.applied, err)
		}
	}
	return nil
}

// saveRequest, after the steps and the rules, saves a request that is new
// when no step journaled it: nothing changed but the rules, or nothing at
// all, while the request (the desired state status compares against) is
// new. A failure rolls back the rules.
func (u *upRun) saveRequest() error {
	if sameJSON(u.prevReq, u.j.Request) {
		return nil
	}
	if cur, err := u.store.Load(u.pf.Name); err == nil && cur != nil {
		if sameJSON(cur.Request, u.j.Request) {
			return nil // saved with the steps
		}
		u.j.Rules = cur.Rules // as steer left them
	}
	if err := u.store.Save(u.j); err != nil {
		return u.rollback(u.applied, err)
	}
	return nil
}

// kindBatches splits steps into runs of consecutive steps of one kind:
// the steps of a run act on different VFs, so none changes what another
// records.
func kindBatches(steps []step) [][]step {
	var out [][]step
	for i, s := range steps {
		if i > 0 && steps[i-1].kind() == s.kind() {
			out[len(out)-1] = append(out[len(out)-1], s)
			continue
		}
		out = append(out, []step{s})
	}
	return out
}

// openJournal starts a journal for a PF that has none, with the original
// state down restores.
func (u *upRun) openJournal() {
	if u.j == nil {
		u.j = &journal.Journal{PF: u.pf.Name, Created: time.Now().UTC()}
		u.newJournal = true
	}
	if u.j.Request == nil {
		// A new journal, or one that holds only rules added by steer.
		u.j.PFAddress = u.pf.Address
		u.j.Original, _ = json.Marshal(u.orig)
	}
}

// applyBatch runs a batch of steps; the returned entries (even with an
// error) are the ones the rollback must put back: every step of the batch
// journaled pending, applied or not (undo is idempotent).
func (u *upRun) applyBatch(ctx context.Context, batch []step) ([]*applied, error) {
	var todo []*applied
	var descs []string
	var runs []step // what is applied of each: a repair leaves held fields out
	for _, s := range batch {
		if err := ctx.Err(); err != nil {
			return todo, fmt.Errorf("interrupted before %s: %w", s.id(), err)
		}
		c, err := s.changes(u.e)
		if err != nil {
			return todo, fmt.Errorf("check %s: %w", s.id(), err)
		}
		desc := s.describe(u.e)
		if len(c) == 0 && !u.recreate {
			u.res.Steps = append(u.res.Steps, StepResult{ID: s.id(), Action: desc, Status: StepAlready})
			continue
		}
		run := u.repairView(s, c)
		if run == nil {
			u.res.Steps = append(u.res.Steps, heldStep(s.id(), desc, c))
			continue
		}
		a, err := u.entryFor(s)
		if err != nil {
			return todo, fmt.Errorf("record state before %s: %w", s.id(), err)
		}
		a.ent.State.Begin()
		todo, descs, runs = append(todo, a), append(descs, desc), append(runs, run)
	}
	if len(todo) == 0 {
		return nil, nil
	}
	if err := u.store.Save(u.j); err != nil {
		return todo, err
	}
	for i, a := range todo {
		if i > 0 {
			if err := ctx.Err(); err != nil {
				return todo, fmt.Errorf("interrupted before %s: %w", a.s.id(), err)
			}
		}
		u.opts.Progress(descs[i])
		if err := runs[i].apply(ctx, u.e); err != nil {
			u.res.Steps = append(u.res.Steps, StepResult{ID: a.s.id(), Action: descs[i], Status: StepFailed, Error: err.Error()})
			return todo, fmt.Errorf("%s: %w", a.s.id(), err)
		}
		a.ent.State.Confirm()
		if _, ok := a.s.(*releaseStep); ok {
			a.ent.State.Undo()
		}
		u.res.Steps = append(u.res.Steps, StepResult{ID: a.s.id(), Action: descs[i], Status: StepApplied})
		u.res.Changed = true
	}
	if err := u.store.Save(u.j); err != nil {
		return todo, err
	}
	return todo, nil
}

// entryFor returns the journal entry of s: a new one with the state s
// replaces, or the existing one, whose original values s keeps.
func (u *upRun) entryFor(st step) (*applied, error) {
	var s journaled
	switch x := st.(type) {
	case *releaseStep:
		return &applied{ent: x.ent, s: x, prev: x.bind, was: *x.ent}, nil
	case journaled:
		s = x
	default:
		return nil, fmt.Errorf("step %s has no journal record", st.id())
	}
	var before *vfConfigStep
	if v, ok := s.(*vfConfigStep); ok {
		before = &vfConfigStep{Index: v.Index, Want: v.Want}
		if before.record(u.e) != nil {
			before = nil // no VF yet: this run's numvfs rollback removes it
		}
	}
	ent := u.j.Entry(s.id())
	if ent == nil {
		if err := s.record(u.e); err != nil {
			return nil, err
		}
		rec, _ := json.Marshal(s)
		ent = &journal.Entry{ID: s.id(), Kind: string(s.kind()), Desc: s.describe(u.e), Undo: rec}
		u.j.Steps = append(u.j.Steps, ent)
		return &applied{ent: ent, s: s, before: before}, nil
	}
	old, err := decodeEntry(ent, u.pf.TotalVFs)
	if err != nil {
		return nil, err
	}
	if err := s.keep(old, u.e); err != nil {
		return nil, err
	}
	a := &applied{ent: ent, s: s, prev: old, was: *ent, before: before}
	ent.Undo, _ = json.Marshal(s)
	ent.Desc = s.describe(u.e)
	return a, nil
}

// rollback puts this run's entries back in reverse after cause: a step
// this run journaled first is undone; an entry an earlier run made gets
// that run's value again. It returns cause as a Failed error, or as
// RollbackIncomplete naming what is left.
func (u *upRun) rollback(done []*applied, cause error) error {
	ctx := context.Background()
	u.table = nil // an undo may reset the PF: each read from here is afresh
	left := u.putRulesBack()
	var saveErr error
	if u.j != nil {
		u.j.Request = u.prevReq
	}
	for i := len(done) - 1; i >= 0; i-- {
		a := done[i]
		if err := a.putBack(ctx, u.e); err != nil {
			left = append(left, fmt.Sprintf("%s (%s): %v", a.ent.ID, a.ent.Desc, err))
			continue
		}
		if a.prev == nil && !a.tornDown {
			// This run made the entry: it goes, so that the journal is
			// as it was too.
			u.j.Steps = slices.DeleteFunc(u.j.Steps, func(e *journal.Entry) bool { return e == a.ent })
		}
		markRolledBack(u.res, a.ent.ID)
		// A journal that cannot be saved (a full state file system) is
		// not left applied: the last save or removal below settles it.
		saveErr = keepGoing(saveErr, u.store.Save(u.j))
	}
	left = append(left, u.reinstallOld()...)
	left = append(left, u.restoreAfterRollback()...)
	pf := u.pf.Name
	if len(left) > 0 {
		if saveErr != nil {
			left = append(left, fmt.Sprintf("(the journal could not be updated: %v; it still lists changes rolled back since, which down undoes again)", saveErr))
		}
		return &outcome.RollbackIncomplete{
			Err: fmt.Errorf("%w; rollback incomplete, still applied: %s", cause, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("run 'vfbypass down %s' to retry the undo (journal %s), or restore those settings by hand", pf, u.store.Path(pf))}
	}
	if u.newJournal && !u.j.Active() {
		if err := u.store.Remove(pf); err != nil {
			return &outcome.RollbackIncomplete{Err: fmt.Errorf("%w; rolled back, but %v", cause, err)}
		}
	} else if err := u.store.Save(u.j); err != nil && !u.onDisk(u.j) {
		return &outcome.RollbackIncomplete{Err: fmt.Errorf("%w; rolled back, but %v", cause, err)}
	}
	u.res.Changed = false
	return outcome.Failed(fmt.Errorf("%w (rolled back: %s is as it was)", cause, pf))
}

// onDisk reports whether the journal on disk is j already (no save of
// this run got through): then a save that fails leaves nothing behind.
func (u *upRun) onDisk(j *journal.Journal) bool {
	cur, err := u.store.Load(u.pf.Name)
	if err != nil || cur == nil {
		return false
	}
	a, aerr := json.Marshal(cur)
	b, berr := json.Marshal(j)
	return aerr == nil && berr == nil && string(a) == string(b)
}

// putBack undoes a's change in the kernel and in its entry.
func (a *applied) putBack(ctx context.Context, e *env) error {
	if a.tornDown {
		if err := a.prev.apply(ctx, e); err != nil {
			return err
		}
		a.ent.RollBack(a.was)
		return nil
	}
	if a.before != nil {
		if _, err := undo(ctx, a.before, e); err != nil {
			return err
		}
		if a.prev == nil {
			a.ent.State.Undo()
		} else {
			a.ent.RollBack(a.was)
		}
		return nil
	}
	if a.prev == nil {
		if a.ent.State != journal.Undone {
			if _, err := undo(ctx, a.s, e); err != nil {
				return err
			}
		}
		a.ent.State.Undo()
		return nil
	}
	var err error
	switch {
	case a.was.State == journal.Applied && a.ent.State == journal.Undone:
		_, err = undo(ctx, a.s, e) // a release: bind again
	case a.was.State == journal.Applied:
		err = a.prev.apply(ctx, e)
	default:
		_, err = undo(ctx, a.s, e)
	}
	if err != nil {
		return err
	}
	a.ent.RollBack(a.was)
	return nil
}

func markRolledBack(res *UpResult, id string) {
	for i := range res.Steps {
		if res.Steps[i].ID == id && res.Steps[i].Status != StepFailed {
			res.Steps[i].Status = StepRolledBack
		}
	}
}

// sameJSON reports whether two JSON texts are the same but for
// whitespace: a journal read back holds its request indented.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
