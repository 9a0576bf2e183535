package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// Options are the knobs of Up and Down.
type Options struct {
	StateDir string
	DryRun   bool
	// Force allows a PF that carries the default route, and replacing VFs
	// that vfbypass did not create.
	Force bool
	// Recreate accepts a change of the VF count on a PF vfbypass set up:
	// every VF is removed and the PF resets.
	Recreate bool
	// MissingOK makes Down succeed without a journal (for scripts).
	MissingOK   bool
	Timeout     time.Duration
	LockTimeout time.Duration
	// Progress, when set, is told about each step as it starts.
	Progress func(string)
	// repairOf is the journal's request RepairDrift brings the PF back to
	// (nil: a plain up); hold are the fields it leaves drifted. See
	// repairdrift.go.
	repairOf []byte
	hold     map[string]bool
}

func (o *Options) defaults() {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 60 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// StepResult is what happened to one step.
type StepResult struct {
	ID     string     `json:"id"`
	Action string     `json:"action"`
	Status StepStatus `json:"status"`
	Error  string     `json:"error,omitempty"`
}

// StepStatus says what happened to a step, or would in a dry run
// (docs/json.md); status reports a journal entry's state with the same
// words (pending, applied, undone).
type StepStatus string

// The step statuses.
const (
	StepApplied    StepStatus = "applied"
	StepAlready    StepStatus = "already"
	StepWouldApply StepStatus = "would-apply"
	StepWouldUndo  StepStatus = "would-undo"
	StepRolledBack StepStatus = "rolled-back"
	StepFailed     StepStatus = "failed"
	StepUndone     StepStatus = "undone"
	StepUnchanged  StepStatus = "unchanged"
	StepRepaired   StepStatus = "repaired"
	// StepHeld: RepairDrift left the field as it is (held in backoff).
	StepHeld StepStatus = "held"
)

// Original is the PF's state before the first `up`, kept in the journal.
type Original struct {
	NumVFs    int    `json:"num_vfs"`
	Autoprobe bool   `json:"drivers_autoprobe"`
	Driver    string `json:"driver"`
	Ntuple    *bool  `json:"ntuple,omitempty"`
	RxQueues  int    `json:"rx_queues,omitempty"`
	// RSSIndir is the RSS indirection table when someone had configured
	// it (nil: it was the driver's own), read before any step resets the
	// PF; down writes it back after its last reset (original.go).
	RSSIndir []uint32 `json:"rss_indir,omitempty"`
	// Rules are the PF's ntuple rules that vfbypass did not install: a
	// reset vfbypass causes flushes them on ixgbe, and up and down
	// install them again.
	Rules []OriginalRule `json:"rules,omitempty"`
	// LRO is large receive offload (nil: the PF has none).
	LRO *bool `json:"lro,omitempty"`
}

// UpResult is the report of Up.
type UpResult struct {
	report.Common
	Request Request      `json:"request"`
	DryRun  bool         `json:"dry_run"`
	Steps   []StepResult `json:"steps"`
	// Repaired lists what this run finished or rolled back of an
	// interrupted run before planning its own steps.
	Repaired     []string `json:"repaired"`
	RxQueuesPrev int      `json:"rx_queues_before,omitempty"`
	RxQueuesNow  int      `json:"rx_queues_after,omitempty"`
	Journal      string   `json:"journal,omitempty"`
}

// Text implements report.Result.
func (r *UpResult) Text(w io.Writer) {
	switch {
	case r.Error != nil:
		// The error says what happened; the steps below show how far it got.
	case r.DryRun && r.Changed:
		fmt.Fprintf(w, "plan for %s (dry run, nothing changed):\n", r.Request.Args())
	case r.DryRun:
		fmt.Fprintf(w, "%s is already up as requested: a real run would change nothing\n", r.PF)
	case r.Changed:
		fmt.Fprintf(w, "%s is up: %s\n", r.PF, r.Request.Args())
	default:
		fmt.Fprintf(w, "%s is already up as requested: nothing changed\n", r.PF)
	}
	for _, s := range r.Repaired {
		fmt.Fprintf(w, "  %-12s %s\n", "repaired", s)
	}
	for _, c := range r.Diff {
		fmt.Fprintf(w, "  %-12s %s: %s -> %s\n", "change", c.Field, report.OrNone(c.Before), report.OrNone(c.After))
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %-12s %s\n", s.Status, s.Action)
	}
	for _, v := range r.VFs {
		report.WriteVF(w, v)
	}
	if r.Journal != "" && !r.DryRun && r.Error == nil {
		fmt.Fprintf(w, "journal: %s (\"vfbypass down %s\" undoes it)\n", r.Journal, r.PF)
	}
}

// upRun is one `up`: the request, the PF as observed, the journal, and the
// report being built. Its methods are up's phases, in the order Up calls them.
type upRun struct {
	h     *host.Host
	opts  Options
	store journal.Store
	req   Request
	pf    sriov.PF
	res   *UpResult
	e     *env
	// j is the PF's journal (nil: none yet); newJournal: this run made it.
	j          *journal.Journal
	newJournal bool
	orig       Original
	// rules: the config's rules checked against the table (nil: none).
	rules *steer.Result
	// table: the PF's rule table as this run last read it, which every
	// phase takes rather than reading it again; emptied (Forget) when
	// something changes the table, nil once a rollback starts.
	table *steer.Table
	// recreate: the VF count changes on a PF vfbypass set up.
	recreate bool
	// rulePlan: the rules' plan as plan found it (the diff, a dry run).
	rulePlan rulePlan
	// tornDown: --recreate took the PF down in this run; oldRules are the
	// journal's rule records before that, which a rollback installs again.
	tornDown bool
	oldRules []journal.Rule
	// flush: the operator's rules the numvfs step flushes (original.go).
	flush flushPlan
	steps []step
	// applied: the entries this run changed, for a rollback.
	applied []*applied
	// prevReq: the journal's request before this run, which a rollback
	// puts back; ruleUndo: what the rules phase changed.
	prevReq  json.RawMessage
	ruleUndo *ruleUndo
}

// Up brings the PF to the requested state: it observes the PF, finishes
// any run the journal shows interrupted, diffs the request against the
// kernel, and applies the smallest plan, journaling every change. A
// request the kernel already meets changes nothing.
func Up(ctx context.Context, h *host.Host, req Request, opts Options) (*UpResult, error) {
	opts.defaults()
	u := &upRun{h: h, opts: opts, store: journal.Store{Dir: opts.StateDir, Waiting: opts.Progress}, table: &steer.Table{}}
	u.res = &UpResult{Request: req, DryRun: opts.DryRun, Steps: []StepResult{}, Repaired: []string{}}
	u.res.PF = req.PF
	if err := u.validate(req); err != nil {
		return u.res, err
	}
	unlock, err := u.lock()
	if err != nil {
		return u.res, err
	}
	defer unlock()
	phases := []func(context.Context) error{u.loadJournal, u.checkMode, u.resume, u.checkCount, u.plan, u.recreateFirst}
	for _, phase := range phases {
		if err := phase(ctx); err != nil {
			return u.res, err
		}
	}
	if opts.DryRun {
		return u.res, u.dryRun()
	}
	if err := u.apply(ctx); err != nil {
		return u.res, err
	}
	if len(u.applied) > 0 {
		u.table.Forget() // a step may have reset the PF
	}
	u.putBackFlushed()
	if err := u.applyRules(ctx); err != nil {
		return u.res, err
	}
	if err := u.saveRequest(); err != nil {
		return u.res, err
	}
	u.finish()
	return u.res, nil
}

// validate checks the request and the host before anything is touched:
// every refusal is bad input (*outcome.BadInput). The config's rules are
// checked against the table under the lock (checkRules).
func (u *upRun) validate(req Request) error {
	pf, err := checkPFFor(u.h, req)
	if err != nil {
		return err
	}
	req.Normalize()
	u.req, u.pf, u.res.Request = req, pf, req
	if err := req.Validate(pf); err != nil {
		return err
	}
	if req.queueMode() {
		if err := checkQueueHost(pf, probeQueue(u.h, pf), req); err != nil {
			return err
		}
	}
	what := "enabling SR-IOV"
	if req.queueMode() {
		what = "switching ntuple or LRO (ixgbe resets the PF for either)"
	}
	if carries, err := guardDefaultRoute(u.h, pf.Name, u.opts.Force, what); err != nil {
		return err
	} else if carries {
		u.res.Warn("%s carries the default route; going ahead because of --force", pf.Name)
	}
	if !u.opts.DryRun {
		if err := checkRoot(u.h); err != nil {
			return err
		}
	}
	return u.checkIOMMU()
}

// checkIOMMU refuses vfio-pci without an IOMMU unless no-IOMMU mode is
// asked for (or already on).
func (u *upRun) checkIOMMU() error {
	if u.req.Driver != vfio.Driver {
		return nil
	}
	iommu, err := vfio.IOMMUPresent(u.h.FS)
	if err != nil {
		return outcome.Failed(err)
	}
	if !iommu && !u.req.NoIOMMU && !vfio.NoIOMMUEnabled(u.h.FS) {
		return outcome.Invalid("boot with intel_iommu=on iommu=pt (or amd_iommu=on), or pass --noiommu to use vfio's unsafe no-IOMMU mode", "%s has no IOMMU groups (%s is empty): vfio-pci needs an IOMMU to give %s's VFs to userspace safely", hostName(u.h), u.h.FS.Path("/sys/kernel/iommu_groups"), u.pf.Name)
	}
	return nil
}

// lock takes the PF's lock (not for a dry run), re-reads the PF, which
// another run may have changed while this one waited, checks the
// config's rules against the table, and then the state directory, which
// CheckWritable makes: a refused rule leaves nothing behind.
func (u *upRun) lock() (func(), error) {
	if u.opts.DryRun {
		return func() {}, u.checkRules()
	}
	l, err := u.store.Lock(u.h.FS, u.pf.Name, u.opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	if err := u.checkLocked(); err != nil {
		l.Unlock()
		return nil, err
	}
	return func() { l.Unlock() }, nil
}

// checkLocked is lock's checks once the lock is held.
func (u *upRun) checkLocked() error {
	var err error
	if u.pf, err = checkPFFor(u.h, u.req); err != nil {
		return err
	}
	if err := u.checkRules(); err != nil {
		return err
	}
	if err := u.store.CheckWritable(); err != nil {
		if outcome.FixOf(err) != "" {
			return err // the state directory's own fix (chmod 700)
		}
		return outcome.Invalid("pass a writable --state-dir (default /run/vfbypass)", "%v", err)
	}
	return nil
}

// checkRules checks every rule of the config against the PF's table before
// anything changes (*outcome.BadInput), reading the table into u.table for
// the phases after it.
func (u *upRun) checkRules() error {
	if len(u.req.Rules) == 0 {
		return nil
	}
	var err error
	u.rules, err = steer.Check(u.h, u.store, u.pf.Name, u.req.steerRequests(), u.req.NumVFs, nil, u.table)
	return err
}

// loadJournal reads the PF's journal and the original state it keeps; a
// PF without one is its own original.
func (u *upRun) loadJournal(context.Context) error {
	j, err := loadForUndo(u.store, u.pf.Name, u.pf.TotalVFs)
	if errors.Is(err, journal.ErrCorrupt) {
		return outcome.Invalid(fmt.Sprintf("inspect the PF with 'vfbypass status %s', put it back by hand, then remove %s", u.pf.Name, u.store.Path(u.pf.Name)), "%v", err)
	}
	if err != nil {
		return err
	}
	if j != nil && !j.Active() {
		j = nil
	}
	if err := u.checkRepairOf(j); err != nil {
		return err
	}
	if j != nil {
		// resume and the plan act on its records: they must name only
		// this PF's devices.
		if err := verifyJournal(u.h, u.pf, j, u.store.Path(u.pf.Name)); err != nil {
			return err
		}
	}
	u.j = j
	if q, err := u.h.Ethtool.RxQueues(u.pf.Name); err == nil {
		u.res.RxQueuesPrev = q
	}
	u.e = &env{h: u.h, pf: u.pf, timeout: u.opts.Timeout}
	if j != nil {
		// loadForUndo refused a damaged original.
		if orig, ok, err := decodeOriginal(j, u.pf.TotalVFs); err != nil || ok {
			u.orig = orig
			return err
		}
	}
	u.orig = Original{NumVFs: u.pf.NumVFs, Autoprobe: u.pf.Autoprobe, Driver: u.pf.Driver, RxQueues: u.res.RxQueuesPrev}
	on, ok, _, err := NtupleSupport(u.h, u.pf.Name)
	if err != nil {
		return outcome.Failed(err)
	}
	if ok {
		u.orig.Ntuple = &on
	}
	// Before any step: an ntuple or LRO switch or sriov_numvfs resets the
	// PF, which takes the table and the rules away.
	readOriginalExtras(u.h, u.pf.Name, j, &u.orig)
	return nil
}

// checkMode refuses a request in the other bypass mode than the journal's
// (*outcome.BadInput), before resume touches anything of the interrupted run.
func (u *upRun) checkMode(context.Context) error {
	return checkModeChange(u.pf.Name, u.j, u.req)
}

// checkCount refuses a VF count the PF cannot take in place: VFs that
// vfbypass did not create need --force, a count change on a PF vfbypass
// set up needs --recreate. Both messages say what would be disrupted.
func (u *upRun) checkCount(context.Context) error {
	have, want := u.pf.NumVFs, u.req.NumVFs
	if u.opts.repairOf != nil && have != want && !u.req.queueMode() {
		return fmt.Errorf("%w: %s has %d VFs, the request %d, and a repair never changes the VF count", ErrNotRepairable, u.pf.Name, have, want)
	}
	if have == 0 || have == want || u.req.queueMode() {
		return nil
	}
	owned := u.j != nil && u.j.Entry(string(KindNumVFs)) != nil && u.j.Entry(string(KindNumVFs)).State != journal.Undone
	if !owned {
		if u.opts.Force {
			return nil
		}
		return outcome.Invalid(fmt.Sprintf("use them with --vfs %d, or pass --force to replace them", have),
			"%s already has %d VFs that vfbypass did not create; --vfs %d would remove them first", u.pf.Name, have, want)
	}
	if u.opts.Recreate {
		u.recreate = true
		u.res.Warn("--recreate: %s", u.disruption())
		return nil
	}
	return outcome.Invalid(fmt.Sprintf("pass --recreate to accept that, or keep --vfs %d", have),
		"%s has %d VFs set up by vfbypass; --vfs %d cannot be done in place: %s", u.pf.Name, have, want, u.disruption())
}

// disruption says what removing the PF's VFs and re-creating them costs.
func (u *upRun) disruption() string {
	d := fmt.Sprintf("all %d VFs of %s are removed and the PF resets (its link drops for a moment)", u.pf.NumVFs, u.pf.Name)
	if err := checkNotInUse(u.h, u.pf.Name, u.j, u.pf.TotalVFs); err != nil {
		d += "; " + outcome.MessageOf(err)
	}
	if n := len(u.j.Rules); n > 0 {
		d += fmt.Sprintf("; %s removed and installed again where their VF still exists", report.Count(n, "ntuple rule"))
	}
	return d
}

// finish reports the VFs and the RSS queue count after the run.
func (u *upRun) finish() {
	if u.j != nil {
		u.res.Journal = u.store.Path(u.pf.Name)
	}
	warnReset(u.res, u.pf)
	if q, err := u.h.Ethtool.RxQueues(u.pf.Name); err == nil {
		u.res.RxQueuesNow = q
		if u.res.RxQueuesPrev != 0 && q != u.res.RxQueuesPrev {
			u.res.Warn("%s now spreads received traffic over %d RX queues instead of %d: with SR-IOV on, the PF's RSS shrinks (ixgbe: 4 queues per pool, 2 with more than 32 pools)", u.pf.Name, q, u.res.RxQueuesPrev)
		}
	}
	u.res.VFs = vfReports(u.h, u.pf.Name)
}

// warnReset tells the operator about the PF reset when VFs are enabled.
func warnReset(res *UpResult, pf sriov.PF) {
	for _, r := range res.Steps {
		switch {
		case r.ID == string(KindNumVFs) && r.Status == StepApplied:
			res.Warn("enabling SR-IOV resets %s (driver %s): its link dropped for a moment and the kernel's traffic on it was interrupted", pf.Name, pf.Driver)
		case r.ID == string(KindNumVFs) && r.Status == StepWouldApply:
			res.Warn("enabling SR-IOV will reset %s (driver %s): its link drops for a moment", pf.Name, pf.Driver)
		}
	}
}
