package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
)

// ErrNotUp is RepairDrift's answer when the PF's journal holds no request to
// repair to: 'vfbypass down' ran (or up never did).
var ErrNotUp = errors.New("not up: the PF has no journal with a request")

// ErrRequestChanged is RepairDrift's answer when another up changed the
// journal's request while RepairDrift waited for the PF's lock: the caller
// reads the request again.
var ErrRequestChanged = errors.New("the journal's request changed while the repair waited for the lock")

// ErrNotRepairable marks drift a repair leaves alone because only up
// with --recreate could change it (the VF count).
var ErrNotRepairable = errors.New("not repairable in place")

// RepairDrift brings the PF back to the request its journal holds, with up's
// own phases (lock, journal, resume, plan, apply, rules): the drift status
// reports is what it repairs. It is up without its choices: it never
// changes the VF count (ErrNotRepairable) and never recreates, and it
// refuses to start a journal (ErrNotUp), so a repair that runs after a
// down changes nothing.
//
// hold names drifted fields (Drift.Field) the repair leaves as they are
// (a watcher's fields in backoff): a step is applied without them, a step
// with nothing else to change is reported "held", and a held rule is not
// installed again ("rules" holds every rule). The journal's own rules that
// went missing come back at their recorded locations, so a held rule's
// location stays free.
func RepairDrift(ctx context.Context, h *host.Host, pf string, hold []string, opts Options) (*UpResult, error) {
	store := journal.Store{Dir: opts.StateDir}
	j, err := store.Load(pf)
	if err != nil {
		return &UpResult{}, err
	}
	if j == nil || j.Request == nil || !j.Active() {
		return &UpResult{}, ErrNotUp
	}
	var req Request
	if err := json.Unmarshal(j.Request, &req); err != nil {
		return &UpResult{}, outcome.Failed(fmt.Errorf("journal %s: request: %w", store.Path(pf), err))
	}
	opts.Recreate, opts.DryRun = false, false
	opts.repairOf = j.Request
	opts.hold = map[string]bool{}
	for _, f := range hold {
		opts.hold[f] = true
	}
	return Up(ctx, h, req, opts)
}

// checkRepairOf holds RepairDrift's request against the journal up loaded
// under the lock.
func (u *upRun) checkRepairOf(j *journal.Journal) error {
	switch {
	case u.opts.repairOf == nil:
		return nil
	case j == nil || j.Request == nil:
		return ErrNotUp
	case !bytes.Equal(j.Request, u.opts.repairOf):
		return ErrRequestChanged
	}
	return nil
}

// holds reports whether a repair leaves field alone.
func (o *Options) holds(field string) bool {
	return o.hold[field] || strings.HasPrefix(field, "rule@") && o.hold["rules"]
}

// holdsRules reports whether a repair leaves some rule alone.
func (o *Options) holdsRules() bool {
	for f := range o.hold {
		if f == "rules" || strings.HasPrefix(f, "rule@") {
			return true
		}
	}
	return false
}

// narrower is a step that can be applied without some of its fields.
type narrower interface {
	// without is the step changing none of the fields in held.
	without(held func(string) bool) step
}

// repairView is what a repair applies of s, whose changes are c: s itself
// when no field of c is held, s without its held fields, or nil when it
// has nothing else to change (or cannot be applied without them).
func (u *upRun) repairView(s step, c []report.Change) step {
	held := slices.ContainsFunc(c, func(x report.Change) bool { return u.opts.holds(x.Field) })
	if !held {
		return s
	}
	if slices.ContainsFunc(c, func(x report.Change) bool { return !u.opts.holds(x.Field) }) {
		if n, ok := s.(narrower); ok {
			return n.without(u.opts.holds)
		}
	}
	return nil
}

// heldStep reports a step a repair leaves alone.
func heldStep(id, desc string, c []report.Change) StepResult {
	fields := make([]string, 0, len(c))
	for _, x := range c {
		fields = append(fields, x.Field)
	}
	return StepResult{ID: id, Action: desc + " (left drifted: " + strings.Join(fields, " ") + ")", Status: StepHeld}
}

// without is the VF's settings without the held ones; the VLAN and its QoS
// are one netlink attribute and go together.
func (s *vfConfigStep) without(held func(string) bool) step {
	n := *s
	k := s.Index
	if held(vfField(k, "mac")) {
		n.Want.MAC = ""
	}
	if held(vfField(k, "vlan")) || held(vfField(k, "qos")) {
		n.Want.VLAN, n.Want.QoS = nil, 0
	}
	if held(vfField(k, "trust")) {
		n.Want.Trust = nil
	}
	if held(vfField(k, "spoofchk")) {
		n.Want.Spoofchk = nil
	}
	return &n
}

// without is the probe of the VFs whose driver is not held.
func (s *probeVFsStep) without(held func(string) bool) step {
	n := &probeVFsStep{}
	for _, k := range s.VFs {
		if !held(vfField(k, "driver")) {
			n.VFs = append(n.VFs, k)
		}
	}
	return n
}

// repairRules is a repair's part of the rule plan: the journal's rules
// that went missing come back at their recorded locations (the request is
// the journal's own, so its rules are the records), and held rules stay as
// they are.
func (u *upRun) repairRules(p *rulePlan) {
	if u.opts.repairOf == nil {
		return
	}
	p.reinstall = append(p.reinstall, p.forget...)
	p.forget = nil
	held := func(r journal.Rule) bool { return u.opts.holds(ruleField(r.Location)) }
	p.reinstall = slices.DeleteFunc(p.reinstall, held)
	p.remove = slices.DeleteFunc(p.remove, held)
}
