package steer

import (
	"fmt"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Del removes the rules at locs (any rule, whether vfbypass added it or
// not) and forgets their journal records. Every location is checked first:
// one beyond the table or without a rule is a bad-input error and nothing
// is deleted.
func Del(h *host.Host, store journal.Store, pf string, locs []uint32, opts Options) (*Result, error) {
	opts.defaults()
	res := &Result{DryRun: opts.DryRun, Rules: []RuleInfo{}}
	res.PF = pf
	if len(locs) == 0 {
		return res, outcome.Invalid("name the locations, as 'vfbypass steer list "+pf+"' shows them", "no location given")
	}
	e, j, end, err := begin(h, store, pf, false, nil, opts, res)
	if err != nil {
		return res, err
	}
	defer end()
	seen := map[uint32]bool{}
	var xs []*installed
	for _, l := range locs {
		if l >= e.size {
			return res, outcome.Invalid(fmt.Sprintf("give a location from 0 to %d ('vfbypass steer list %s' shows the rules)", e.size-1, pf),
				"location %d is beyond %s's rule table (%d locations)", l, pf, e.size)
		}
		x, ok := e.table[l]
		if !ok {
			return res, outcome.Invalid(fmt.Sprintf("'vfbypass steer list %s' shows the rules and their locations", pf), "%s has no rule at location %d", pf, l)
		}
		if !seen[l] {
			seen[l] = true
			xs = append(xs, x)
		}
	}
	return e.remove(store, j, xs, res, opts)
}

// Clear removes the rules vfbypass added to pf (those its journal records
// and that are still as installed), or with all every rule of the table,
// and forgets the journal's rule records.
func Clear(h *host.Host, store journal.Store, pf string, all bool, opts Options) (*Result, error) {
	opts.defaults()
	res := &Result{DryRun: opts.DryRun, Rules: []RuleInfo{}, clear: true}
	res.PF = pf
	e, j, end, err := begin(h, store, pf, false, nil, opts, res)
	if err != nil {
		return res, err
	}
	defer end()
	var xs []*installed
	for _, l := range e.locs {
		if x := e.table[l]; all || x.from != nil {
			xs = append(xs, x)
		}
	}
	// Records whose rule is gone or was replaced by someone else.
	if j != nil {
		for _, r := range j.Rules {
			x, ok := e.table[r.Location]
			switch {
			case !ok:
				res.Rules = append(res.Rules, RuleInfo{Location: r.Location, Words: strings.Fields(r.Words), Text: fmt.Sprintf("Filter: %d (not installed any more) %s", r.Location, r.Words), Journaled: true, Source: r.Source, Status: statusWord(opts.DryRun, RuleForgotten)})
			case x.from == nil && !all:
				res.Warn("the rule at location %d is no longer the one vfbypass installed (%s); left alone and forgotten (delete it with 'vfbypass steer del %s %d' if it should go)", r.Location, r.Words, pf, r.Location)
			}
		}
	}
	return e.remove(store, j, xs, res, opts)
}

func statusWord(dry bool, s RuleStatus) RuleStatus {
	if dry {
		return "would-be-" + s
	}
	return s
}

// remove deletes xs and forgets the journal's records of them (and, for
// Clear, of rules already gone).
func (e *env) remove(store journal.Store, j *journal.Journal, xs []*installed, res *Result, opts Options) (*Result, error) {
	for _, x := range xs {
		ri := e.info(x)
		ri.Status = RuleWouldDelete
		if opts.DryRun {
			res.Rules = append(res.Rules, ri)
		}
	}
	if opts.DryRun {
		res.Message = fmt.Sprintf("%s: %s would be deleted (dry run, nothing changed)", e.pf, report.Count(len(xs), "rule"))
		return res, nil
	}
	e.snap.Forget()
	gone := map[uint32]bool{}
	var deleted []*installed // deleted by this call, to put back on failure
	for _, x := range xs {
		ri := e.info(x)
		err := e.dev.Delete(x.loc)
		if err != nil && !isGone(err) {
			res.Rules, res.Changed = []RuleInfo{}, false
			return res, e.undelete(deleted, fmt.Errorf("delete the rule at location %d on %s: %w", x.loc, e.pf, err))
		}
		if err == nil {
			deleted = append(deleted, x)
		}
		gone[x.loc] = true
		ri.Status = RuleDeleted
		res.Rules = append(res.Rules, ri)
		res.Changed = true
	}
	var empty []uint32
	for l := range gone {
		empty = append(empty, l)
	}
	if err := e.claims.Release(empty); err != nil {
		// An empty location's claim is harmless: the next insert there
		// claims it anew, the next run of this state directory drops it.
		res.Warn("the rules are deleted but their claims stay (%v)", err)
	}
	if j != nil {
		kept := j.Rules[:0]
		for _, r := range j.Rules {
			x, installed := e.table[r.Location]
			forget := gone[r.Location] || (res.clear && (!installed || x.from == nil))
			if !forget {
				kept = append(kept, r)
			}
		}
		if len(kept) != len(j.Rules) {
			res.Changed = true
		}
		j.Rules = kept
		if err := saveJournal(store, j); err != nil {
			// The rules are gone from the kernel; a record left behind is
			// harmless ('down' finds its location empty and skips it).
			res.Warn("the rules are deleted but the journal still lists them (%v); 'vfbypass down %s' or 'vfbypass steer clear %s' tidies it", err, e.pf, e.pf)
		}
	}
	res.Message = fmt.Sprintf("%s: %s deleted", e.pf, report.Count(len(gone), "rule"))
	return res, nil
}

// undelete puts back the rules a failed del or clear had deleted (in
// reverse, at their locations), so that a *outcome.RolledBack leaves the table as it was;
// what cannot be put back makes it *outcome.RollbackIncomplete, naming the rules.
func (e *env) undelete(deleted []*installed, cause error) error {
	var left []string
	for i := len(deleted) - 1; i >= 0; i-- {
		x := deleted[i]
		fs := x.fs
		fs.Location = x.loc
		if _, err := e.dev.Insert(fs, x.rss); err != nil {
			left = append(left, fmt.Sprintf("location %d (%s): %v", x.loc, strings.Join(flows.Words(fs, x.rss), " "), err))
		}
	}
	if len(left) > 0 {
		return &outcome.RollbackIncomplete{
			Err: fmt.Errorf("%w; putting back the rules deleted before it failed too, these are gone: %s", cause, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("re-add them with 'vfbypass steer add %s ...' if they should stay ('vfbypass down %s' skips rules that are gone)", e.pf, e.pf)}
	}
	return outcome.Failed(fmt.Errorf("%w (rolled back: the rules deleted before it are back, the table of %s is as it was)", cause, e.pf))
}

// begin takes pf's lock, opens its rule table (for adding when forAdd) and
// loads its journal, marking the installed rules vfbypass recorded. end
// closes the table and releases the lock.
func begin(h *host.Host, store journal.Store, pf string, forAdd bool, as *assume, opts Options, res *Result) (e *env, j *journal.Journal, end func(), err error) {
	unlock, err := lock(h, store, pf, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	e, err = open(h, pf, forAdd, as, opts.Table)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	end = func() { e.close(); unlock() }
	res.TableSize = e.size
	if j, err = loadJournal(store, pf); err != nil {
		end()
		return nil, nil, nil, err
	}
	if err := e.loadClaims(store); err != nil {
		end()
		return nil, nil, nil, err
	}
	e.settle(j)
	e.markJournaled(j)
	if !opts.DryRun {
		if err := e.claims.Reconcile(e.journaledLocs()); err != nil {
			end()
			return nil, nil, nil, err
		}
	}
	return e, j, end, nil
}
