package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// env is what steps act on.
type env struct {
	h       *host.Host
	pf      sriov.PF
	timeout time.Duration
}

// refresh re-reads the PF (its VF count changes as steps run).
func (e *env) refresh() error {
	p, err := sriov.LookupPF(e.h.FS, e.pf.Name)
	if err != nil {
		return err
	}
	e.pf = p
	return nil
}

// StepKind names a kind of step: the "kind" of its journal entries
// (docs/journal.md), from which its record is decoded (a release is never
// journaled: it marks the bind it undoes).
type StepKind string

// The step kinds. A kind with one step per PF is also that step's id.
const (
	KindNumVFs   StepKind = "numvfs"
	KindProbeVFs StepKind = "probe-vfs"
	KindVFConfig StepKind = "vf-config"
	KindModule   StepKind = "module"
	KindNoIOMMU  StepKind = "noiommu"
	KindBind     StepKind = "bind"
	KindRelease  StepKind = "release"
	KindNtuple   StepKind = "ntuple"
	KindRSSIndir StepKind = "rss-indir"
	KindLRO      StepKind = "lro"
)

// target is a state of some of the host's fields, reached by one
// read/compare/write path: changes reads the fields and compares them
// with the target, apply writes it. A step is the target up converges to;
// its back is the target down (and a rollback) converges to.
type target interface {
	describe(e *env) string
	// changes lists the managed fields in which the kernel differs from
	// the target (Before: the kernel's, After: the target's); none means
	// the host is there.
	changes(e *env) ([]report.Change, error)
	apply(ctx context.Context, e *env) error
}

// step is one change of the plan: the target up converges to, and the
// target that takes it back.
type step interface {
	target
	id() string
	kind() StepKind
	// back is the state before the step: for a journaled step, the
	// journaled original (the state before the first up).
	back() target
}

// journaled is a step with a journal record of its own: its JSON form is
// the wanted state and the state it replaced, so that a journal alone is
// enough to verify and undo it in a later process. (A release has none:
// it marks the bind record it undoes.)
type journaled interface {
	step
	validator
	// record captures the state the step is about to replace.
	record(e *env) error
	// keep takes the recorded state from old, the same step's record of an
	// earlier run, so that undo restores the value before the first up
	// rather than an intermediate one; it records what old did not cover.
	keep(old journaled, e *env) error
}

// holder is a target with an explicit guard: hold reports, just before
// the write, a reason to leave the host as it is (a module another device
// is bound to).
type holder interface {
	hold(e *env) (bool, error)
}

// resetter is a target written even when its fields read as the target
// already: the write also resets state no read shows (the RSS table's
// configured-by-user flag).
type resetter interface {
	resets() bool
}

// converge takes the host to t: it reads and compares t's fields and
// writes t when they differ, unless t holds. It is idempotent and reports
// whether the fields differed.
func converge(ctx context.Context, t target, e *env) (bool, error) {
	c, err := t.changes(e)
	if err != nil {
		return false, err
	}
	if h, ok := t.(holder); ok && len(c) > 0 {
		if held, err := h.hold(e); err != nil || held {
			return false, err
		}
	}
	if r, ok := t.(resetter); len(c) == 0 && !(ok && r.resets()) {
		return false, nil
	}
	return len(c) > 0, t.apply(ctx, e)
}

// undo converges the host back to the state before s.
func undo(ctx context.Context, s step, e *env) (bool, error) {
	return converge(ctx, s.back(), e)
}

// restores lists the fields undo would change, for down's diff (none when
// they cannot be read).
func restores(s step, e *env) []report.Change {
	c, err := s.back().changes(e)
	if err != nil {
		return nil
	}
	return c
}

// describeUndo says what undo does, in the words of that action ("switch
// ntuple filters off"), for down's progress and result; the journal's
// Desc says what the step did.
func describeUndo(s step, e *env) string { return s.back().describe(e) }

// leave is the back of a step whose state goes with something else (the
// settings of a VF up created go with the VF): nothing to write.
type leave string

func (l leave) describe(*env) string                  { return string(l) }
func (l leave) changes(*env) ([]report.Change, error) { return nil, nil }
func (l leave) apply(context.Context, *env) error     { return nil }

// decodeStep rebuilds a step from its journal record and refuses values no
// vfbypass writes (each kind's validate, with the checks of validate.go).
// totalVFs is the PF's sriov_totalvfs; a negative one (unknown: the PF is
// gone or shows no SR-IOV) bounds VF indexes at 255.
func decodeStep(kind StepKind, rec json.RawMessage, totalVFs int) (journaled, error) {
	var s journaled
	switch kind {
	case KindNumVFs:
		s = &numVFsStep{}
	case KindProbeVFs:
		s = &probeVFsStep{}
	case KindVFConfig:
		s = &vfConfigStep{}
	case KindModule:
		s = &moduleStep{}
	case KindNoIOMMU:
		s = &noIOMMUStep{}
	case KindBind:
		s = &bindStep{}
	case KindNtuple:
		s = &ntupleStep{}
	case KindRSSIndir:
		s = &rssIndirStep{}
	case KindLRO:
		s = &lroStep{}
	default:
		return nil, fmt.Errorf("journal step kind %q is not known to this vfbypass", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("journal step %s: %w", kind, err)
	}
	if totalVFs < 0 {
		totalVFs = maxVFsUnknown
	}
	if err := s.validate(totalVFs); err != nil {
		return nil, fmt.Errorf("journal step %s: %w", kind, err)
	}
	return s, nil
}

// decodeEntry rebuilds the step of a journal entry (decodeStep) and
// refuses an entry whose id is not its record's: an entry "vf0-config" of
// kind "module" is not one vfbypass wrote, and every reader of the
// journal finds a step by its id and takes its type from its kind.
func decodeEntry(ent *journal.Entry, totalVFs int) (journaled, error) {
	s, err := decodeStep(StepKind(ent.Kind), ent.Undo, totalVFs)
	if err != nil {
		return nil, err
	}
	if s.id() != ent.ID {
		return nil, fmt.Errorf("journal step %s: its record (kind %s) is that of step %s", ent.ID, ent.Kind, s.id())
	}
	return s, nil
}

// earlier is old, the same step's record of an earlier run, as the type
// of the step keeping it; decodeEntry makes another type impossible, and
// this makes it an error rather than a panic.
func earlier[T journaled](old journaled) (T, error) {
	o, ok := old.(T)
	if !ok {
		var s T
		return o, fmt.Errorf("journal step %s: the earlier record is of kind %s, not %s", old.id(), old.kind(), s.kind())
	}
	return o, nil
}

// done reports whether the kernel is already in s's wanted state.
func done(s step, e *env) (bool, error) {
	c, err := s.changes(e)
	return err == nil && len(c) == 0, err
}

// change is one field's difference, for the steps' changes methods.
func change(field, have, want string) []report.Change {
	if have == want {
		return nil
	}
	return []report.Change{{Field: field, Before: have, After: want}}
}

// vfField names a VF's managed field in diffs: vf0.mac.
func vfField(k int, name string) string { return "vf" + strconv.Itoa(k) + "." + name }

// kernelDriver is the wanted driver of a VF left to the kernel, in diffs.
const kernelDriver = "kernel driver"
