package setup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// ruleField names a rule location in diffs: rule@8191.
func ruleField(loc uint32) string { return "rule@" + strconv.FormatUint(uint64(loc), 10) }

// ruleValue is a rule's value in diffs: its words without the location,
// which the field names, and without "vlan 0 m 0xffff", a vlan match that
// matches every packet (ixgbe reports every rule with one).
func ruleValue(words []string) string {
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); i++ {
		if words[i] == "loc" && i+1 < len(words) {
			i++
			continue
		}
		if i+3 < len(words) && words[i] == "vlan" && words[i+1] == "0" && words[i+2] == "m" && words[i+3] == "0xffff" {
			i += 3
			continue
		}
		out = append(out, words[i])
	}
	return strings.Join(out, " ")
}

// rulePlan is what up does to the PF's rules: the config's rules are
// desired; a rule an earlier config installed and this one lacks goes; a
// rule added with steer that went missing comes back at its location;
// records of the config's rules that went missing are forgotten (the
// config's rule is installed again like a new one). Rules added with steer
// stay whatever the config says.
type rulePlan struct {
	remove    []journal.Rule
	reinstall []journal.Rule
	forget    []journal.Rule
	// add: the config's rules not installed yet (steer's dry-run report).
	add []steer.RuleInfo
	// left: records whose location another rule holds, or whose rule
	// moved; up leaves them alone and says so.
	left []steer.RecordState
}

// warnLeft tells about the records up leaves alone.
func (p rulePlan) warnLeft(res *report.Common) {
	for _, st := range p.left {
		r := st.Rule
		switch st.State {
		case steer.RecordMoved:
			res.Warn("ntuple rule %d (%s) that vfbypass installed is now at location %d; left alone", r.Location, r.Words, st.MovedTo)
			continue
		case steer.RecordClaimed:
			res.Warn("ntuple rule %d (%s) is claimed by state directory %s, which installed it; left alone", r.Location, st.Have, st.ClaimedBy)
			continue
		}
		res.Warn("ntuple rule %d (%s) that vfbypass installed has been replaced by another rule (%s); left alone: delete that rule to have it back", r.Location, r.Words, st.Have)
	}
}

// planRules holds the journal's rule records against the table and the
// config's rules (u.rules, checked by validate).
func (u *upRun) planRules() (rulePlan, error) {
	var p rulePlan
	if u.rules != nil {
		for _, r := range u.rules.Rules {
			if r.Status != steer.RuleExists {
				p.add = append(p.add, r)
			}
		}
	}
	if u.recreate && !u.tornDown {
		p.remove = u.recreateDrops()
		return p, nil
	}
	if u.j == nil {
		return p, nil
	}
	states, err := steer.Inspect(u.h, u.store, u.pf.Name, u.table)
	if err != nil {
		return p, err
	}
	wanted := map[uint32]bool{}
	if u.rules != nil {
		for _, r := range u.rules.Rules {
			if r.Status == steer.RuleExists {
				wanted[r.Location] = true
			}
		}
	}
	for _, st := range states {
		r := st.Rule
		switch {
		case st.State == steer.RecordInPlace && r.Source == journal.SourceUp && !wanted[r.Location]:
			p.remove = append(p.remove, r)
		case st.State == steer.RecordMissing && r.Source == journal.SourceUp:
			p.forget = append(p.forget, r)
		case st.State == steer.RecordMissing:
			p.reinstall = append(p.reinstall, r)
		case st.State == steer.RecordChanged, st.State == steer.RecordMoved, st.State == steer.RecordClaimed:
			p.left = append(p.left, st)
		}
	}
	u.repairRules(&p)
	return p, nil
}

// recheckRules checks the config's rules again against the table as up
// will leave it once the rules it deletes are gone, so the diff and the
// steps name the locations the kernel will hold: ethtool's highest free
// location is often one a deleted rule frees.
func (u *upRun) recheckRules() error {
	if u.rules == nil || u.recreate || len(u.rulePlan.remove) == 0 {
		return nil
	}
	locs := make([]uint32, 0, len(u.rulePlan.remove))
	for _, r := range u.rulePlan.remove {
		locs = append(locs, r.Location)
	}
	var err error
	if u.rules, err = steer.Check(u.h, u.store, u.pf.Name, u.req.steerRequests(), u.req.NumVFs, locs, u.table); err != nil {
		return err
	}
	u.rulePlan, err = u.planRules()
	return err
}

// diff is the rules' part of up's diff.
func (p rulePlan) diff() []report.Change {
	var c []report.Change
	for _, r := range p.remove {
		c = append(c, report.Change{Field: ruleField(r.Location), Before: ruleValue(strings.Fields(r.Words))})
	}
	for _, r := range p.reinstall {
		c = append(c, report.Change{Field: ruleField(r.Location), After: ruleValue(strings.Fields(r.Words))})
	}
	for _, r := range p.add {
		// A rule taking the location a deleted one frees is one change.
		if i := slices.IndexFunc(c, func(x report.Change) bool { return x.Field == ruleField(r.Location) && x.After == "" }); i >= 0 {
			c[i].After = ruleValue(r.Words)
			continue
		}
		c = append(c, report.Change{Field: ruleField(r.Location), After: ruleValue(r.Words)})
	}
	return c
}

// ruleSteps reports the rules' part of plan p (dry run).
func (u *upRun) ruleSteps(p rulePlan) []StepResult {
	var out []StepResult
	for _, r := range p.remove {
		out = append(out, deleteStep(r.Location, strings.Fields(r.Words), StepWouldUndo))
	}
	for _, r := range p.reinstall {
		out = append(out, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("install ntuple rule %d again (%s): it went missing", r.Location, r.Words), Status: StepWouldApply})
	}
	if u.rules != nil {
		for _, r := range u.rules.Rules {
			st := StepWouldApply
			if r.Status == steer.RuleExists && !u.recreate {
				st = StepAlready
			}
			out = append(out, ruleStep(r, st))
		}
	}
	return out
}

// recreateDrops is the diff's part of a --recreate's rules: the rules
// added with steer come back where their VF still exists; the others go.
func (u *upRun) recreateDrops() []journal.Rule {
	var steerRules []journal.Rule
	for _, r := range u.j.Rules {
		if r.Source != journal.SourceUp {
			steerRules = append(steerRules, r)
		}
	}
	_, drop := readdable(steerRules, u.req.NumVFs)
	return drop
}

// applyRules brings the rules to the plan, each change journaled by steer
// (write ahead, all or nothing) under the lock this run holds. The table
// is the one plan read unless something changed it since (a step that
// reset the PF, --recreate): then it is read again.
func (u *upRun) applyRules(ctx context.Context) error {
	p, err := u.planRules()
	if err != nil {
		// The steps before may have changed the host (the RSS table, the
		// VFs): they are rolled back.
		return u.rollback(u.applied, fmt.Errorf("rules: %w", err))
	}
	if u.j != nil && !u.tornDown {
		// (after a --recreate teardown, the rollback installs the
		// records as they were before it: reinstallOld)
		u.ruleUndo = &ruleUndo{records: slices.Clone(u.j.Rules)}
	}
	if err := u.forgetRules(p); err != nil {
		return err
	}
	if err := u.removeRules(p.remove); err != nil {
		return err
	}
	if err := u.reinstallRules(p.reinstall); err != nil {
		return err
	}
	opts := u.steerOptions()
	// A repair holding a rule leaves the config's rules to their records
	// (repairRules): adding them would install the held ones too.
	if len(u.req.Rules) > 0 && !u.opts.holdsRules() {
		if len(p.add) > 0 {
			u.opts.Progress(fmt.Sprintf("install %s", report.Count(len(p.add), "ntuple rule")))
		}
		opts.Source = journal.SourceUp
		sr, err := steer.AddMany(u.h, u.store, u.pf.Name, u.req.steerRequests(), opts)
		if err := u.took(sr, err, StepApplied, fmt.Sprintf("install %s", report.Count(len(u.req.Rules), "ntuple rule"))); err != nil {
			return err
		}
	}
	return nil
}

// forgetRules drops the records of the config's rules that went missing.
func (u *upRun) forgetRules(p rulePlan) error {
	if len(p.forget) == 0 {
		return nil
	}
	for _, r := range p.forget {
		u.j.DropRule(r.Location)
	}
	if err := u.store.Save(u.j); err != nil {
		return u.rollback(u.applied, fmt.Errorf("rules: %w", err))
	}
	return nil
}

// removeRules deletes the rules an earlier config installed and this one
// lacks.
func (u *upRun) removeRules(remove []journal.Rule) error {
	if len(remove) == 0 {
		return nil
	}
	locs := make([]uint32, 0, len(remove))
	for _, r := range remove {
		locs = append(locs, r.Location)
	}
	u.opts.Progress(fmt.Sprintf("delete %s the config no longer has", report.Count(len(locs), "ntuple rule")))
	sr, err := steer.Del(u.h, u.store, u.pf.Name, locs, u.steerOptions())
	if err := u.took(sr, err, StepUndone, "delete the rules the config no longer has"); err != nil {
		return err
	}
	if u.ruleUndo != nil {
		u.ruleUndo.removed = remove
	}
	return nil
}

// reinstallRules installs again the rules added with steer that went
// missing (or that a --recreate took out) where their VF exists; the
// records of the others go, with a warning.
func (u *upRun) reinstallRules(missing []journal.Rule) error {
	keep, drop := readdable(missing, u.req.NumVFs)
	for _, r := range drop {
		u.res.Warn("ntuple rule %d (%s) is not installed again: its VF does not exist with --vfs %d", r.Location, r.Words, u.req.NumVFs)
		u.j.DropRule(r.Location)
	}
	if len(drop) > 0 {
		if err := u.store.Save(u.j); err != nil {
			return u.rollback(u.applied, fmt.Errorf("rules: %w", err))
		}
	}
	if len(keep) == 0 {
		return nil
	}
	u.opts.Progress(fmt.Sprintf("install %s again", report.Count(len(keep), "ntuple rule")))
	sr, err := steer.Reinstall(u.h, u.store, u.pf.Name, keep, u.steerOptions())
	if err := u.took(sr, err, StepRepaired, "install the missing rules again"); err != nil {
		return err
	}
	if u.ruleUndo != nil {
		for _, r := range keep {
			u.ruleUndo.installed = append(u.ruleUndo.installed, r.Location)
		}
	}
	return nil
}

func (u *upRun) steerOptions() steer.Options {
	return steer.Options{StateDir: u.opts.StateDir, LockHeld: true, LockTimeout: u.opts.LockTimeout, Table: u.table}
}

// ruleUndo is what applyRules changed in the rule table and the journal's
// rule records, for a rollback: the records as they were, the rules it
// deleted and the locations it installed again.
type ruleUndo struct {
	records   []journal.Rule
	removed   []journal.Rule
	installed []uint32
}

// putRulesBack undoes applyRules's changes (steer's own batch is all or
// nothing already): the rules it installed again go, the rules it deleted
// come back, and the journal's rule records are as they were. It returns
// what it could not put back.
func (u *upRun) putRulesBack() []string {
	r := u.ruleUndo
	if r == nil {
		return nil
	}
	u.ruleUndo = nil
	var left []string
	if len(r.installed) > 0 {
		if _, err := steer.Del(u.h, u.store, u.pf.Name, r.installed, u.steerOptions()); err != nil {
			left = append(left, fmt.Sprintf("ntuple rules at %v installed again: %v", r.installed, err))
		}
	}
	if len(r.removed) > 0 {
		if _, err := steer.Reinstall(u.h, u.store, u.pf.Name, r.removed, u.steerOptions()); err != nil {
			var locs []uint32
			for _, x := range r.removed {
				locs = append(locs, x.Location)
			}
			left = append(left, fmt.Sprintf("ntuple rules at %v deleted: %v", locs, err))
		}
	}
	if len(left) == 0 {
		u.j.Rules = r.records
	} else if cur, err := u.store.Load(u.pf.Name); err == nil && cur != nil {
		u.j.Rules = cur.Rules // what steer journaled of the rules left
	}
	return left
}

// took reports one steer operation of up's and keeps the journal steer
// saved. A failed rule operation is steer's own all-or-nothing; up's steps
// stay (they are what was asked, and down undoes them).
func (u *upRun) took(sr *steer.Result, err error, status StepStatus, what string) error {
	if err != nil {
		u.res.Steps = append(u.res.Steps, StepResult{ID: "rules", Action: what, Status: StepFailed, Error: err.Error()})
		return u.rollback(u.applied, fmt.Errorf("rules: %w", err))
	}
	if cur, lerr := u.store.Load(u.pf.Name); lerr == nil && cur != nil {
		if u.j == nil {
			u.j = cur
		}
		u.j.Rules = cur.Rules
	}
	for _, r := range sr.Rules {
		switch {
		case status == StepUndone:
			u.res.Steps = append(u.res.Steps, deleteStep(r.Location, r.Words, status))
		case r.Status == steer.RuleExists:
			u.res.Steps = append(u.res.Steps, ruleStep(r, StepAlready))
		default:
			u.res.Steps = append(u.res.Steps, ruleStep(r, status))
		}
	}
	u.res.Changed = u.res.Changed || sr.Changed
	u.res.Warnings = append(u.res.Warnings, sr.Warnings...)
	return nil
}

// deleteStep reports the deletion of a rule an earlier config installed
// and this one lacks.
func deleteStep(loc uint32, words []string, status StepStatus) StepResult {
	return StepResult{ID: fmt.Sprintf("rule-%d", loc), Action: fmt.Sprintf("delete ntuple rule %d (%s): the config no longer has it", loc, ruleValue(words)), Status: status}
}

// ruleStep reports one rule as a step of up's plan.
func ruleStep(r steer.RuleInfo, status StepStatus) StepResult {
	target := flows.Target{Drop: r.Target.Drop, VF: r.Target.VF, Queue: r.Target.Queue}.String()
	if r.VFAddress != "" {
		target = fmt.Sprintf("VF %d (%s) queue %d", r.Target.VF, r.VFAddress, r.Target.Queue)
	}
	return StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("ntuple rule at location %d: %s -> %s", r.Location, strings.Join(r.Words, " "), target), Status: status}
}
