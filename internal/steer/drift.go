package steer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// RecordStanding is how a journaled rule stands in the PF's table.
type RecordStanding string

// The standings of a journaled rule.
const (
	// RecordInPlace: the rule at the record's location is the one recorded.
	RecordInPlace RecordStanding = "in-place"
	// RecordMissing: no rule at the record's location, nor anywhere else.
	RecordMissing RecordStanding = "missing"
	// RecordChanged: another rule holds the record's location.
	RecordChanged RecordStanding = "changed"
	// RecordMoved: the recorded rule is gone from its location but the
	// same match and target sit at another one.
	RecordMoved RecordStanding = "moved"
	// RecordClaimed: the rule at the record's location is one another
	// state directory installed (journal.Claims); it is never this
	// journal's to change.
	RecordClaimed RecordStanding = "claimed"
)

// RecordState is one journaled rule held against the PF's table.
type RecordState struct {
	Rule  journal.Rule
	State RecordStanding
	// Have is the rule at the record's location now, in ethtool's words
	// ("" when there is none).
	Have string
	// MovedTo is the location of the recorded rule when State is
	// RecordMoved.
	MovedTo uint32
	// ClaimedBy is the state directory that claims the location when
	// State is RecordClaimed.
	ClaimedBy string
}

// Inspect holds every rule the PF's journal records against the table, for
// drift reports: the table t holds (read into t when it is empty; nil:
// read it). It changes nothing and takes no lock.
func Inspect(h *host.Host, store journal.Store, pf string, t *Table) ([]RecordState, error) {
	j, err := loadJournal(store, pf)
	if err != nil || j == nil || len(j.Rules) == 0 {
		return nil, err
	}
	e, err := open(h, pf, false, nil, t)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.loadClaims(store); err != nil {
		return nil, err
	}
	out := make([]RecordState, 0, len(j.Rules))
	for _, r := range j.Rules {
		out = append(out, e.inspect(r))
	}
	return out, nil
}

// Settle settles the rule records of j that a run killed between its
// write-ahead save and its confirmation left pending, from pf's table
// (taken from t when t holds it; nil: read it), as every steer command
// does (settle): each becomes applied, goes back to the record it
// replaces, or goes. It returns how many it settled; the caller saves j.
func Settle(h *host.Host, store journal.Store, pf string, j *journal.Journal, t *Table) (int, error) {
	n := 0
	if j != nil {
		for _, r := range j.Rules {
			if r.State == journal.Pending {
				n++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	e, err := open(h, pf, false, nil, t)
	if err != nil {
		return 0, err
	}
	defer e.close()
	if err := e.loadClaims(store); err != nil {
		return 0, err
	}
	e.settle(j)
	return n, nil
}

func (e *env) inspect(r journal.Rule) RecordState {
	st := RecordState{Rule: r, State: RecordMissing}
	if x, ok := e.table[r.Location]; ok {
		if o := e.claimedBy(r.Location); o != "" {
			st.State, st.Have, st.ClaimedBy = RecordClaimed, strings.Join(flows.Words(x.fs, x.rss), " "), o
			return st
		}
		if e.ours(x, &r) {
			st.State = RecordInPlace
			return st
		}
		st.State, st.Have = RecordChanged, strings.Join(flows.Words(x.fs, x.rss), " ")
		return st
	}
	for _, l := range e.locs {
		if e.ours(e.table[l], &r) {
			st.State, st.MovedTo = RecordMoved, l
			return st
		}
	}
	return st
}

// Reinstall puts the journaled rules that went missing back at their
// locations, journaled as before (write ahead, all or nothing). Rules
// whose location another rule holds, or that moved, are left as they are.
// What is installed is each record's spec, never its words (the journal
// checked that they agree when it was loaded).
func Reinstall(h *host.Host, store journal.Store, pf string, missing []journal.Rule, opts Options) (*Result, error) {
	bySource := map[journal.Source][]Request{}
	var order []journal.Source
	for _, r := range missing {
		fs, err := r.FlowSpec()
		if err != nil {
			return &Result{Rules: []RuleInfo{}}, fmt.Errorf("reinstall the missing rules of %s: %w", pf, err)
		}
		fs.Location = r.Location
		words := flows.Words(fs, r.RSSContext)
		if !slices.Contains(words, "loc") {
			words = append(words, "loc", strconv.FormatUint(uint64(r.Location), 10))
		}
		if _, ok := bySource[r.Source]; !ok {
			order = append(order, r.Source)
		}
		bySource[r.Source] = append(bySource[r.Source], Request{Words: words})
	}
	res := &Result{Rules: []RuleInfo{}}
	res.PF = pf
	for _, src := range order {
		o := opts
		o.Source = src
		r, err := AddMany(h, store, pf, bySource[src], o)
		if r != nil {
			res.Rules = append(res.Rules, r.Rules...)
			res.Warnings = append(res.Warnings, r.Warnings...)
			res.Changed = res.Changed || r.Changed
		}
		if err != nil {
			return res, fmt.Errorf("reinstall the missing rules of %s: %w", pf, err)
		}
	}
	return res, nil
}
