package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/pkg/flows"
	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/journal"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/report"
	"github.com/vfbypass/vfbypass/pkg/sriov"
	"github.com/vfbypass/vfbypass/pkg/steer"
	"github.com/vfbypass/vfbypass/pkg/vfio"
)

// Options are the knobs of Up and Down.
type Options struct {
	StateDir string
	DryRun   bool
	// Force allows a PF that carries the default route, and replacing VFs
	// that vfbypass did not create.
	Force bool
	// MissingOK makes Down succeed without a journal (for scripts).
	MissingOK   bool
	Timeout     time.Duration
	LockTimeout time.Duration
	// Progress, when set, is told about each step as it starts.
	Progress func(string)
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
	ID     string `json:"id"`
	Action string `json:"action"`
	// Status: applied, already, would-apply, rolled-back, failed, undone,
	// unchanged, would-undo, left.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Original is the PF's state before the first `up`, kept in the journal.
type Original struct {
	NumVFs    int    `json:"num_vfs"`
	Autoprobe bool   `json:"drivers_autoprobe"`
	Driver    string `json:"driver"`
	Ntuple    *bool  `json:"ntuple,omitempty"`
	RxQueues  int    `json:"rx_queues,omitempty"`
}

// UpResult is the report of Up.
type UpResult struct {
	report.Common
	Request      Request      `json:"request"`
	DryRun       bool         `json:"dry_run"`
	Steps        []StepResult `json:"steps"`
	RxQueuesPrev int          `json:"rx_queues_before,omitempty"`
	RxQueuesNow  int          `json:"rx_queues_after,omitempty"`
	Journal      string       `json:"journal,omitempty"`
}

// Text implements report.Result.
func (r *UpResult) Text(w io.Writer) {
	if r.DryRun {
		fmt.Fprintf(w, "plan for %s (dry run, nothing changed):\n", r.Request.Args())
	} else if r.Changed {
		fmt.Fprintf(w, "%s is up: %s\n", r.PF, r.Request.Args())
	} else if r.Error == nil {
		fmt.Fprintf(w, "%s is already up as requested: nothing changed\n", r.PF)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "  %-12s %s\n", s.Status, s.Action)
	}
	for _, v := range r.VFs {
		writeVF(w, v)
	}
	if r.Journal != "" && !r.DryRun {
		fmt.Fprintf(w, "journal: %s (\"vfbypass down %s\" undoes it)\n", r.Journal, r.PF)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// checkPF resolves and vets the PF for a change, returning bad-input errors.
func checkPF(h *host.Host, name string) (sriov.PF, error) {
	if !sriov.ValidIfname(name) {
		return sriov.PF{}, outcome.Invalid("give the PF's interface name, e.g. eth3 (see 'ip link')", "interface name %q is not valid", name)
	}
	pf, err := sriov.LookupPF(h.FS, name)
	switch {
	case errors.Is(err, sriov.ErrNoInterface):
		return pf, outcome.Invalid("check the name with 'ip link' (or 'vfbypass doctor')", "PF %s: no such network interface under %s", name, h.FS.Path("/sys/class/net"))
	case errors.Is(err, sriov.ErrNotPCI):
		return pf, outcome.Invalid("choose the interface of a physical SR-IOV NIC port (see 'vfbypass doctor')", "PF %s is not a PCI network device, so it has no VFs", name)
	case errors.Is(err, sriov.ErrNoSRIOV):
		return pf, outcome.Invalid("choose an SR-IOV capable port (e.g. an Intel 82599 on ixgbe); 'vfbypass doctor' lists them", "PF %s (%s, driver %s) has no SR-IOV capability (no sriov_totalvfs)", name, pf.Address, orNone(pf.Driver))
	case err != nil:
		return pf, err
	}
	if pf.Driver == "" {
		return pf, outcome.Invalid(fmt.Sprintf("bind %s to its driver first (e.g. 'modprobe ixgbe')", pf.Address), "PF %s (%s) has no driver bound; the kernel cannot enable VFs without one", name, pf.Address)
	}
	if pf.TotalVFs < 1 {
		return pf, outcome.Invalid("enable SR-IOV in the BIOS/firmware, or check the driver's max_vfs setting", "PF %s (%s) reports sriov_totalvfs 0", name, pf.Address)
	}
	return pf, nil
}

// guardDefaultRoute refuses a PF that carries a default route unless forced.
func guardDefaultRoute(h *host.Host, pf string, force bool, what string) (bool, error) {
	ifs, err := sriov.DefaultRouteInterfaces(h.FS)
	if err != nil {
		return false, err
	}
	for _, i := range ifs {
		if i == pf {
			if force {
				return true, nil
			}
			return true, outcome.Invalid("run it from a console that does not depend on "+pf+", or pass --force", "%s carries the default route: %s resets it and its link drops, which can cut this session off", pf, what)
		}
	}
	return false, nil
}

func checkRoot(h *host.Host) error {
	if !h.Simulated && os.Geteuid() != 0 {
		return outcome.Invalid("run it as root (sudo vfbypass ...)", "vfbypass must run as root to change sysfs, rtnetlink and ethtool settings (effective uid %d)", os.Geteuid())
	}
	return nil
}

// ntupleSupport reports whether the PF's ntuple feature can be switched on.
func ntupleSupport(h *host.Host, pf string) (on, ok bool, why string) {
	on, fixed, err := h.Ethtool.Feature(pf, NtupleFeature)
	if err != nil {
		return false, false, err.Error()
	}
	if fixed && !on {
		return false, false, "the driver has no ntuple filters (feature fixed off)"
	}
	return on, true, ""
}

// buildPlan turns a validated request into steps for the PF as it is now.
func buildPlan(h *host.Host, pf sriov.PF, req Request, r *report.Common) []step {
	var steps []step
	creating := pf.NumVFs != req.NumVFs
	toVFIO := req.Driver == vfio.Driver
	chosen := map[int]bool{}
	for _, v := range req.VFs {
		chosen[v.Index] = true
	}
	steps = append(steps, &numVFsStep{Want: req.NumVFs, Unbound: creating && toVFIO && pf.Autoprobe})
	if creating && toVFIO && pf.Autoprobe {
		var rest []int
		for k := 0; k < req.NumVFs; k++ {
			if !chosen[k] {
				rest = append(rest, k)
			}
		}
		if len(rest) > 0 {
			steps = append(steps, &probeVFsStep{VFs: rest})
		}
	}
	for _, v := range req.VFs {
		if !v.configures() {
			continue
		}
		steps = append(steps, &vfConfigStep{Index: v.Index, Created: creating, Want: vfSettings{
			MAC: v.MAC, VLAN: v.VLAN, QoS: v.QoS, Trust: v.Trust, Spoofchk: v.Spoofchk}})
	}
	if toVFIO {
		steps = append(steps, &moduleStep{Name: vfio.Driver})
		if iommu, _ := vfio.IOMMUPresent(h.FS); req.NoIOMMU && !iommu { // read errors were refused above
			steps = append(steps, &noIOMMUStep{})
		}
		for _, v := range req.VFs {
			steps = append(steps, &bindStep{Index: v.Index, Driver: vfio.Driver})
		}
	}
	if _, ok, why := ntupleSupport(h, pf.Name); ok {
		steps = append(steps, &ntupleStep{})
	} else {
		r.Warn("%s (driver %s) cannot steer flows: %s; traffic reaches the VFs only by their MAC/VLAN", pf.Name, pf.Driver, why)
	}
	return steps
}

// Up brings the PF to the requested state, journaling every change.
func Up(ctx context.Context, h *host.Host, req Request, opts Options) (*UpResult, error) {
	opts.defaults()
	res := &UpResult{Request: req, DryRun: opts.DryRun, Steps: []StepResult{}}
	res.PF = req.PF
	pf, err := checkPF(h, req.PF)
	if err != nil {
		return res, err
	}
	req.Normalize()
	res.Request = req
	if err := req.Validate(pf); err != nil {
		return res, err
	}
	var rules *steer.Result
	if len(req.Rules) > 0 {
		// Every rule is checked against the PF before anything changes.
		if rules, err = steer.Check(h, journal.Store{Dir: opts.StateDir}, pf.Name, req.steerRequests(), req.NumVFs); err != nil {
			return res, err
		}
	}
	if carries, err := guardDefaultRoute(h, pf.Name, opts.Force, "enabling SR-IOV"); err != nil {
		return res, err
	} else if carries {
		res.Warn("%s carries the default route; going ahead because of --force", pf.Name)
	}
	if !opts.DryRun {
		if err := checkRoot(h); err != nil {
			return res, err
		}
	}
	iommu, err := vfio.IOMMUPresent(h.FS)
	if err != nil && req.Driver == vfio.Driver {
		return res, outcome.WithCode(outcome.Failed, err)
	}
	if req.Driver == vfio.Driver && !iommu && !req.NoIOMMU && !vfio.NoIOMMUEnabled(h.FS) {
		return res, outcome.Invalid("boot with intel_iommu=on iommu=pt (or amd_iommu=on), or pass --noiommu to use vfio's unsafe no-IOMMU mode", "%s has no IOMMU groups (%s is empty): vfio-pci needs an IOMMU to give %s's VFs to userspace safely", hostName(h), h.FS.Path("/sys/kernel/iommu_groups"), pf.Name)
	}
	store := journal.Store{Dir: opts.StateDir}
	if !opts.DryRun {
		if err := store.CheckWritable(); err != nil {
			return res, outcome.Invalid("pass a writable --state-dir (default /run/vfbypass)", "%v", err)
		}
		lock, err := store.Lock(pf.Name, opts.LockTimeout)
		if err != nil {
			return res, err
		}
		defer lock.Unlock()
		// Another run may have finished while this one waited for the lock.
		if pf, err = checkPF(h, req.PF); err != nil {
			return res, err
		}
	}
	j, err := store.Load(pf.Name)
	if err != nil {
		if errors.Is(err, journal.ErrCorrupt) {
			return res, outcome.Invalid(fmt.Sprintf("inspect the PF with 'vfbypass status %s', put it back by hand, then remove %s", pf.Name, store.Path(pf.Name)), "%v", err)
		}
		return res, err
	}
	if j != nil && !j.Active() {
		j = nil
	}
	if j != nil {
		var prev Request
		if err := json.Unmarshal(j.Request, &prev); err == nil && prev.key() != req.key() {
			return res, outcome.Invalid(fmt.Sprintf("run 'vfbypass down %s' first, then 'vfbypass up' with the new settings", pf.Name),
				"%s is already up with different settings: journal has %q, requested %q (%s)", pf.Name, prev.Args(), req.Args(), diffRequests(prev, req))
		}
	}
	if j == nil && pf.NumVFs != 0 && pf.NumVFs != req.NumVFs && !opts.Force {
		return res, outcome.Invalid(fmt.Sprintf("use them with --vfs %d, or pass --force to replace them", pf.NumVFs),
			"%s already has %d VFs that vfbypass did not create; --vfs %d would remove them first", pf.Name, pf.NumVFs, req.NumVFs)
	}

	e := &env{h: h, pf: pf, timeout: opts.Timeout}
	steps := buildPlan(h, pf, req, &res.Common)
	if q, err := h.Ethtool.RxQueues(pf.Name); err == nil {
		res.RxQueuesPrev = q
	}
	if opts.DryRun {
		for _, s := range steps {
			st := "would-apply"
			if d, err := s.done(e); err == nil && d {
				st = "already"
			}
			res.Steps = append(res.Steps, StepResult{ID: s.id(), Action: s.describe(e), Status: st})
		}
		if rules != nil {
			for _, r := range rules.Rules {
				st := "would-apply"
				if r.Status == "exists" {
					st = "already"
				}
				res.Steps = append(res.Steps, ruleStep(r, st))
			}
		}
		warnReset(res, pf, steps, e)
		return res, nil
	}

	newJournal := j == nil
	if newJournal {
		j = &journal.Journal{PF: pf.Name, Created: time.Now().UTC()}
	}
	if j.Request == nil {
		// A new journal, or one that holds only rules added by steer.
		j.PFAddress = pf.Address
		j.Request, _ = json.Marshal(req)
		orig := Original{NumVFs: pf.NumVFs, Autoprobe: pf.Autoprobe, Driver: pf.Driver, RxQueues: res.RxQueuesPrev}
		if on, ok, _ := ntupleSupport(h, pf.Name); ok {
			orig.Ntuple = &on
		}
		j.Original, _ = json.Marshal(orig)
	}
	var mine []*journal.Entry // entries this run created, for rollback
	saved := !newJournal
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return res, rollback(e, store, j, mine, saved && newJournal, res, fmt.Errorf("interrupted before %s: %w", s.id(), err))
		}
		d, err := s.done(e)
		if err != nil {
			return res, rollback(e, store, j, mine, saved && newJournal, res, fmt.Errorf("check %s: %w", s.id(), err))
		}
		desc := s.describe(e)
		if d {
			res.Steps = append(res.Steps, StepResult{ID: s.id(), Action: desc, Status: "already"})
			continue
		}
		ent := j.Entry(s.id())
		if ent == nil {
			if err := s.record(e); err != nil {
				return res, rollback(e, store, j, mine, saved && newJournal, res, fmt.Errorf("record state before %s: %w", s.id(), err))
			}
			rec, _ := json.Marshal(s)
			ent = &journal.Entry{ID: s.id(), Kind: s.kind(), Desc: desc, Undo: rec}
			j.Steps = append(j.Steps, ent)
			mine = append(mine, ent)
		}
		ent.State = journal.Pending
		if err := store.Save(j); err != nil {
			ent.State = journal.Undone
			// A failed save may still have left the file (renamed, then
			// the directory's fsync failed): a journal this run created goes.
			return res, rollback(e, store, j, mine, newJournal, res, err)
		}
		saved = true
		opts.Progress(desc)
		if err := s.apply(ctx, e); err != nil {
			res.Steps = append(res.Steps, StepResult{ID: s.id(), Action: desc, Status: "failed", Error: err.Error()})
			return res, rollback(e, store, j, mine, newJournal, res, fmt.Errorf("%s: %w", s.id(), err))
		}
		ent.State = journal.Applied
		if err := store.Save(j); err != nil {
			return res, rollback(e, store, j, mine, newJournal, res, err)
		}
		res.Steps = append(res.Steps, StepResult{ID: s.id(), Action: desc, Status: "applied"})
		res.Changed = true
	}
	if len(req.Rules) > 0 {
		// The last step: the config's rules, journaled by steer (write
		// ahead, all or nothing) under the lock this run holds.
		opts.Progress(fmt.Sprintf("install %d ntuple rules", len(req.Rules)))
		sr, err := steer.AddMany(h, store, pf.Name, req.steerRequests(), steer.Options{StateDir: opts.StateDir, Source: "up", LockHeld: true, LockTimeout: opts.LockTimeout})
		if err != nil {
			res.Steps = append(res.Steps, StepResult{ID: "rules", Action: fmt.Sprintf("install %d ntuple rules", len(req.Rules)), Status: "failed", Error: err.Error()})
			return res, rollback(e, store, j, mine, newJournal, res, fmt.Errorf("rules: %w", err))
		}
		// steer saved the journal with the rules: keep them in ours.
		if cur, lerr := store.Load(pf.Name); lerr == nil && cur != nil {
			j.Rules = cur.Rules
		}
		for _, r := range sr.Rules {
			st := "applied"
			if r.Status == "exists" {
				st = "already"
			}
			res.Steps = append(res.Steps, ruleStep(r, st))
		}
		if sr.Changed {
			res.Changed, saved = true, true
		}
		res.Warnings = append(res.Warnings, sr.Warnings...)
	}
	if saved {
		res.Journal = store.Path(pf.Name)
	}
	warnReset(res, pf, steps, e)
	if q, err := h.Ethtool.RxQueues(pf.Name); err == nil {
		res.RxQueuesNow = q
		if res.RxQueuesPrev != 0 && q != res.RxQueuesPrev {
			res.Warn("%s now spreads received traffic over %d RX queues instead of %d: with SR-IOV on, the PF's RSS shrinks (ixgbe: 4 queues per pool, 2 with more than 32 pools)", pf.Name, q, res.RxQueuesPrev)
		}
	}
	res.VFs = vfReports(h, pf.Name)
	return res, nil
}

// warnReset tells the operator about the PF reset when VFs are enabled.
func warnReset(res *UpResult, pf sriov.PF, steps []step, e *env) {
	for _, r := range res.Steps {
		if r.ID == "numvfs" && (r.Status == "applied" || r.Status == "would-apply") {
			res.Warn("enabling SR-IOV resets %s (driver %s): its link dropped for a moment and the kernel's traffic on it was interrupted", pf.Name, pf.Driver)
			if r.Status == "would-apply" {
				res.Warnings[len(res.Warnings)-1] = fmt.Sprintf("enabling SR-IOV will reset %s (driver %s): its link drops for a moment", pf.Name, pf.Driver)
			}
		}
	}
}

// ruleStep reports one config rule as a step of up's plan.
func ruleStep(r steer.RuleInfo, status string) StepResult {
	target := flows.Target{Drop: r.Target.Drop, VF: r.Target.VF, Queue: r.Target.Queue}.String()
	if r.VFAddress != "" {
		target = fmt.Sprintf("VF %d (%s) queue %d", r.Target.VF, r.VFAddress, r.Target.Queue)
	}
	return StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("ntuple rule at location %d: %s -> %s", r.Location, strings.Join(r.Words, " "), target), Status: status}
}

func hostName(h *host.Host) string {
	if h.Simulated {
		return "the simulated host " + h.FS.Root()
	}
	return "this host"
}

// diffRequests names the fields in which two requests differ.
func diffRequests(a, b Request) string {
	var d []string
	if a.NumVFs != b.NumVFs {
		d = append(d, fmt.Sprintf("vfs %d -> %d", a.NumVFs, b.NumVFs))
	}
	if a.Driver != b.Driver {
		d = append(d, fmt.Sprintf("driver %s -> %s", a.Driver, b.Driver))
	}
	if a.NoIOMMU != b.NoIOMMU {
		d = append(d, fmt.Sprintf("noiommu %v -> %v", a.NoIOMMU, b.NoIOMMU))
	}
	ja, _ := json.Marshal(a.VFs)
	jb, _ := json.Marshal(b.VFs)
	if string(ja) != string(jb) {
		d = append(d, fmt.Sprintf("vf settings %s -> %s", ja, jb))
	}
	ra, _ := json.Marshal(a.Rules)
	rb, _ := json.Marshal(b.Rules)
	if string(ra) != string(rb) {
		d = append(d, "rules differ")
	}
	return strings.Join(d, "; ")
}

// rollback undoes this run's entries in reverse after cause; it returns
// cause as a Failed error, or as RollbackIncomplete listing what is left.
func rollback(e *env, store journal.Store, j *journal.Journal, mine []*journal.Entry, removeJournal bool, res *UpResult, cause error) error {
	ctx := context.Background()
	var left []string
	for i := len(mine) - 1; i >= 0; i-- {
		ent := mine[i]
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeStep(ent.Kind, ent.Undo, e.pf.TotalVFs)
		if err == nil {
			_, err = s.undo(ctx, e)
		}
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%s): %v", ent.ID, ent.Desc, err))
			continue
		}
		ent.State = journal.Undone
		markRolledBack(res, ent.ID)
		if serr := store.Save(j); serr != nil {
			left = append(left, fmt.Sprintf("journal: %v", serr))
		}
	}
	if len(left) > 0 {
		return &outcome.Error{Code: outcome.RollbackIncomplete,
			Err: fmt.Errorf("%w; rollback incomplete, still applied: %s", cause, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("run 'vfbypass down %s' to retry the undo (journal %s), or restore those settings by hand", j.PF, store.Path(j.PF))}
	}
	if removeJournal && !j.Active() {
		if err := store.Remove(j.PF); err != nil {
			return &outcome.Error{Code: outcome.RollbackIncomplete, Err: fmt.Errorf("%w; rolled back, but %v", cause, err)}
		}
	}
	res.Changed = false
	return outcome.WithCode(outcome.Failed, fmt.Errorf("%w (rolled back: %s is as it was)", cause, j.PF))
}

func markRolledBack(res *UpResult, id string) {
	for i := range res.Steps {
		if res.Steps[i].ID == id && res.Steps[i].Status != "failed" {
			res.Steps[i].Status = "rolled-back"
		}
	}
}
