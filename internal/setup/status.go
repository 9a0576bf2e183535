package setup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// vfReports describes the PF's current VFs, with their rtnetlink settings.
func vfReports(h *host.Host, pf string) []report.VF {
	vfs, err := sriov.ListVFs(h.FS, pf)
	if err != nil {
		return nil
	}
	infos := map[int]host.VFInfo{}
	if l, err := h.Links.VFs(pf); err == nil {
		for _, i := range l {
			infos[i.Index] = i
		}
	}
	out := make([]report.VF, 0, len(vfs))
	for _, v := range vfs {
		r := report.VF{Index: v.Index, Address: v.Address, Driver: v.Driver, IOMMUGroup: v.IOMMUGroup, Netdev: v.Netdev}
		if v.Driver == vfio.Driver && v.IOMMUGroup != "" {
			r.VFIODevice = vfio.DeviceNode(h.FS, v.IOMMUGroup)
		}
		if i, ok := infos[v.Index]; ok {
			if i.MAC != nil {
				r.MAC = i.MAC.String()
			}
			r.VLAN, r.QoS, r.Trust, r.Spoofchk = i.VLAN, i.QoS, i.Trust, i.Spoofchk
		}
		out = append(out, r)
	}
	return out
}

// PFStatus is the state of one PF.
type PFStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Model     string `json:"model,omitempty"`
	Driver    string `json:"driver"`
	TotalVFs  int    `json:"total_vfs"`
	NumVFs    int    `json:"num_vfs"`
	Autoprobe bool   `json:"drivers_autoprobe"`
	Ntuple    *bool  `json:"ntuple"`
	RxQueues  int    `json:"rx_queues,omitempty"`
	// RSSIndir is the RSS indirection table (queue mode hides a queue in
	// it), each run of one queue as Q*N; "" when the driver has none.
	RSSIndir     string          `json:"rss_indir,omitempty"`
	DefaultRoute bool            `json:"default_route"`
	VFs          []report.VF     `json:"vfs"`
	Journal      *JournalSummary `json:"journal"`
	// Drift lists, field by field, where the kernel differs from what
	// the journal's request asked for.
	Drift []Drift `json:"drift"`
	// Watcher is what the PF's watcher (vfbypass watch) last wrote in
	// the state directory; null when none ever ran.
	Watcher *Watcher `json:"watcher"`
}

// Watcher is the state a watcher keeps beside the PF's journal.
type Watcher struct {
	// Running: the watcher holds its lock now.
	Running       bool      `json:"running"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	LastReconcile time.Time `json:"last_reconcile"`
	// Drift is how many fields drifted after the last reconcile.
	Drift      int            `json:"drift"`
	LastRepair *WatcherRepair `json:"last_repair"`
}

// WatcherRepair is the watcher's last repair.
type WatcherRepair struct {
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger"`
	Fields  []string  `json:"fields"`
	Error   string    `json:"error,omitempty"`
}

// writeWatcher prints the watcher's line of status.
func writeWatcher(w io.Writer, x *Watcher) {
	if x == nil {
		return
	}
	state := "not running"
	if x.Running {
		state = fmt.Sprintf("running (pid %d, since %s)", x.PID, x.Started.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  watcher: %s, last reconcile %s", state, x.LastReconcile.Format(time.RFC3339))
	if r := x.LastRepair; r != nil {
		fmt.Fprintf(w, ", last repair %s after %s: %s", r.Time.Format(time.RFC3339), r.Trigger, strings.Join(r.Fields, " "))
		if r.Error != "" {
			fmt.Fprintf(w, " (%s)", r.Error)
		}
	}
	fmt.Fprintln(w)
}

// Drift is one managed field that differs from the desired state.
type Drift struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Have  string `json:"have"`
}

func (d Drift) String() string {
	return fmt.Sprintf("%s: have %s, want %s", d.Field, orNone(d.Have), orNone(d.Want))
}

// JournalSummary is what status shows of a journal.
type JournalSummary struct {
	Path    string       `json:"path"`
	Request string       `json:"request"`
	Steps   []StepResult `json:"steps"`
	// Rules are the rules vfbypass recorded, as the journal has them.
	Rules []journal.Rule `json:"rules"`
	// Damaged says why down would refuse the journal at Path (a record
	// it cannot read).
	Damaged string `json:"damaged,omitempty"`
}

// StatusResult is the report of Status.
type StatusResult struct {
	report.Common
	PFs []PFStatus `json:"pfs"`
}

// Text implements report.Result.
func (r *StatusResult) Text(w io.Writer) {
	if len(r.PFs) == 0 && r.Error == nil {
		fmt.Fprintln(w, "no SR-IOV capable interfaces and no journals found")
	}
	for _, p := range r.PFs {
		fmt.Fprintf(w, "%s  %s  driver %s", p.Name, p.Address, orNone(p.Driver))
		if p.Model != "" {
			fmt.Fprintf(w, "  (%s)", p.Model)
		}
		fmt.Fprintln(w)
		nt := "unsupported"
		if p.Ntuple != nil {
			nt = onOff(*p.Ntuple)
		}
		fmt.Fprintf(w, "  VFs %d of %d, drivers_autoprobe %d, ntuple %s, RX queues %d", p.NumVFs, p.TotalVFs, b2i(p.Autoprobe), nt, p.RxQueues)
		if p.DefaultRoute {
			fmt.Fprint(w, ", carries the default route")
		}
		fmt.Fprintln(w)
		if p.RSSIndir != "" {
			fmt.Fprintf(w, "  RSS indirection table (queue*entries): %s\n", p.RSSIndir)
		}
		for _, v := range p.VFs {
			writeVF(w, v)
		}
		switch {
		case p.Journal == nil:
			fmt.Fprintln(w, "  journal: none (vfbypass has not changed this PF)")
		case p.Journal.Damaged != "":
			fmt.Fprintf(w, "  journal: %s is damaged: %s\n", p.Journal.Path, p.Journal.Damaged)
		default:
			fmt.Fprintf(w, "  journal: %s: up %s, %s, %s\n", p.Journal.Path, p.Journal.Request, report.Count(len(p.Journal.Steps), "step"), report.Count(len(p.Journal.Rules), "rule"))
		}
		writeWatcher(w, p.Watcher)
		for _, d := range p.Drift {
			fmt.Fprintf(w, "  drift: %s\n", d)
		}
		if len(p.Drift) > 0 && (p.Journal == nil || p.Journal.Damaged == "") {
			fmt.Fprintf(w, "  ('vfbypass up' with the same request repairs the drift)\n")
		}
	}
}

// DriftError is an exit-4 error naming the drifted fields, or nil.
func (r *StatusResult) DriftError() error {
	var d []string
	var pfs []string
	for _, p := range r.PFs {
		for _, x := range p.Drift {
			d = append(d, p.Name+" "+x.String())
		}
		if len(p.Drift) > 0 {
			pfs = append(pfs, p.Name)
		}
	}
	if len(d) == 0 {
		return nil
	}
	return &outcome.Drift{Err: fmt.Errorf("drift: %s", strings.Join(d, "; ")),
		Fix: fmt.Sprintf("run 'vfbypass up' with the request of %s to repair it (the journal keeps it), or 'vfbypass down' to undo it", strings.Join(pfs, ", "))}
}

// Status reports one PF, or every SR-IOV capable PF and every PF with a
// journal when pf is "".
func Status(h *host.Host, pf, stateDir string) (*StatusResult, error) {
	res := &StatusResult{}
	store := journal.Store{Dir: stateDir}
	names := []string{pf}
	if pf == "" {
		names = candidates(h, stateDir)
	} else {
		res.PF = pf
		if _, err := checkPF(h, pf); err != nil && outcome.Is[*outcome.BadInput](err) {
			// A PF that is gone may still have a journal worth showing.
			if j, jerr := store.Load(pf); jerr != nil || j == nil {
				return res, err
			}
		}
	}
	for _, n := range names {
		st, err := pfStatus(h, store, n)
		if err != nil {
			return res, err
		}
		res.PFs = append(res.PFs, st)
		if len(st.Drift) > 0 {
			res.Warn("%s has drifted from what vfbypass set up: %s", n, report.Count(len(st.Drift), "field"))
		}
	}
	if pf != "" && len(res.PFs) == 1 {
		res.VFs = res.PFs[0].VFs
	}
	return res, nil
}

// candidates lists SR-IOV capable interfaces and PFs with journals.
func candidates(h *host.Host, stateDir string) []string {
	seen := map[string]bool{}
	if ents, err := h.FS.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			if _, err := h.FS.Stat(sriov.NetDir(e.Name()) + "/device/sriov_totalvfs"); err == nil {
				seen[e.Name()] = true
			}
		}
	}
	if ents, err := readDir(stateDir); err == nil {
		for _, n := range ents {
			if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
				seen[strings.TrimSuffix(n, ".json")] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func pfStatus(h *host.Host, store journal.Store, name string) (PFStatus, error) {
	st := PFStatus{Name: name, TotalVFs: -1, Drift: []Drift{}}
	pf, pfErr := sriov.LookupPF(h.FS, name)
	if pfErr == nil || errors.Is(pfErr, sriov.ErrNoSRIOV) {
		st.Address, st.Driver, st.TotalVFs, st.NumVFs, st.Autoprobe = pf.Address, pf.Driver, pf.TotalVFs, pf.NumVFs, pf.Autoprobe
		st.Model = sriov.Describe(h.FS.Root(), pf.Address)
		if on, ok, _, _ := ntupleSupport(h, name); ok {
			st.Ntuple = &on
		}
		if q, err := h.Ethtool.RxQueues(name); err == nil {
			st.RxQueues = q
		}
		if t, err := h.Ethtool.Indir(name); err == nil {
			st.RSSIndir = indirWords(t)
		}
		st.VFs = vfReports(h, name)
	}
	if ifs, err := sriov.DefaultRouteInterfaces(h.FS); err == nil {
		for _, i := range ifs {
			st.DefaultRoute = st.DefaultRoute || i == name
		}
	}
	if st.VFs == nil {
		st.VFs = []report.VF{}
	}
	return st, st.addJournal(h, store, pf, pfErr)
}

// DriftOf is status's drift of one PF without the rest of its status (no
// PCI names, no VFs, no routes): what a watcher reads at every event. up
// reports whether the PF's journal holds a request (up ran, down did not).
func DriftOf(h *host.Host, name, stateDir string) (drift []Drift, up bool, err error) {
	st := PFStatus{Name: name, Drift: []Drift{}}
	pf, pfErr := sriov.LookupPF(h.FS, name)
	if err := st.addJournal(h, journal.Store{Dir: stateDir}, pf, pfErr); err != nil {
		return nil, false, err
	}
	return st.Drift, st.Journal != nil && st.Journal.Request != "", nil
}

// addJournal adds the PF's journal and the drift from it to st; pf and
// pfErr are the PF as sriov.LookupPF found it.
func (st *PFStatus) addJournal(h *host.Host, store journal.Store, pf sriov.PF, pfErr error) error {
	name, total := st.Name, totalVFsOf(pf, pfErr)
	j, err := store.Load(name)
	if err != nil && !errors.Is(err, journal.ErrCorrupt) {
		// Not the journal's fault (a state directory others can write, an
		// I/O error): the error says what to fix, and nothing is drift.
		return err
	}
	if err != nil {
		// Not "none": a journal is there, and down will refuse it.
		st.Journal = &JournalSummary{Path: store.Path(name), Steps: []StepResult{}, Rules: []journal.Rule{}, Damaged: err.Error()}
		st.Drift = append(st.Drift, Drift{Field: "journal", Want: "readable", Have: err.Error()})
		return nil
	}
	if j == nil {
		return nil
	}
	var req Request
	_ = json.Unmarshal(j.Request, &req)
	js := &JournalSummary{Path: store.Path(name), Request: req.Args(), Rules: append([]journal.Rule{}, j.Rules...), Steps: []StepResult{}}
	st.Journal = js
	for _, ent := range j.Steps {
		js.Steps = append(js.Steps, StepResult{ID: ent.ID, Action: ent.Desc, Status: StepStatus(ent.State)})
	}
	if err := checkRecords(j, total); err != nil {
		// down refuses such a journal as a whole.
		js.Damaged = err.Error()
		st.Drift = append(st.Drift, Drift{Field: "journal", Want: "readable", Have: js.Damaged})
		return nil
	}
	for _, ent := range j.Steps {
		if ent.State == journal.Pending {
			st.Drift = append(st.Drift, Drift{Field: "step " + ent.ID, Want: "applied", Have: "pending: an interrupted run ('vfbypass up' finishes it, 'vfbypass down' undoes it)"})
		}
	}
	if (pfErr == nil || req.queueMode() && errors.Is(pfErr, sriov.ErrNoSRIOV)) && j.Request != nil {
		drift, derr := stepDrift(h, pf, req, j)
		if derr != nil {
			return derr
		}
		st.Drift = append(st.Drift, drift...)
	}
	rd, err := ruleDrift(h, store, name)
	if err != nil {
		return err
	}
	st.Drift = append(st.Drift, rd...)
	st.Drift = append(st.Drift, originalDrift(h, name, pf, pfErr, j)...)
	return nil
}

// originalDrift lists the rules that were on the PF before the first up,
// that a reset took away and that nothing put back, where the PF's layout
// would take them now ('vfbypass rx --queue' and down put them back).
func originalDrift(h *host.Host, name string, pf sriov.PF, pfErr error, j *journal.Journal) []Drift {
	if pfErr != nil && !errors.Is(pfErr, sriov.ErrNoSRIOV) {
		return nil
	}
	orig, err := originalOf(j)
	if err != nil {
		return []Drift{{Field: "journal", Want: "readable", Have: err.Error()}}
	}
	missing, err := missingOriginal(h, name, orig.Rules)
	if err != nil {
		return nil // ruleDrift says why the table cannot be read
	}
	var out []Drift
	for _, r := range missing {
		if orig.NumVFs == 0 && orig.RxQueues > 0 && refusedAfter(r, uint32(orig.RxQueues), pf.NumVFs) != "" {
			continue // the VFs' queue layout refuses it; down installs it
		}
		out = append(out, Drift{Field: ruleField(r.Location), Want: ruleValue(strings.Fields(r.Words)), Have: ""})
	}
	return out
}

// stepDrift holds the kernel against the steps that the journal's request
// plans, from the journal's original state.
func stepDrift(h *host.Host, pf sriov.PF, req Request, j *journal.Journal) ([]Drift, error) {
	orig, _, err := decodeOriginal(j, pf.TotalVFs)
	if err != nil {
		return []Drift{{Field: "journal", Want: "readable", Have: err.Error()}}, nil
	}
	iommu, _ := vfio.IOMMUPresent(h.FS)
	_, ntuple, _, err := ntupleSupport(h, pf.Name)
	if err != nil {
		return nil, err
	}
	e := &env{h: h, pf: pf}
	d := desired{req: req, orig: orig, j: j, iommu: iommu, ntuple: ntuple}
	if req.queueMode() {
		var err error
		if d.queue, err = queueSteps(probeQueue(h, pf), req, j, orig); err != nil {
			return []Drift{{Field: "rss.indir", Want: fmt.Sprintf("queue %d out of RSS", req.Queue), Have: err.Error()}}, nil
		}
	}
	var out []Drift
	for _, s := range planSteps(d) {
		c, err := s.changes(e)
		if err != nil {
			return nil, fmt.Errorf("check %s of %s: %w", s.id(), pf.Name, err)
		}
		for _, x := range c {
			out = append(out, Drift{Field: x.Field, Want: x.After, Have: x.Before})
		}
	}
	return out, nil
}

// ruleDrift holds the journal's rule records against the table.
func ruleDrift(h *host.Host, store journal.Store, pf string) ([]Drift, error) {
	states, err := steer.Inspect(h, store, pf)
	if err != nil {
		if outcome.Is[*outcome.BadInput](err) {
			// No table to compare with (the PF is gone, or ntuple fixed off).
			return []Drift{{Field: "rules", Want: "the journal's rules", Have: errorText(err)}}, nil
		}
		return nil, err
	}
	var out []Drift
	for _, st := range states {
		f, want := ruleField(st.Rule.Location), ruleValue(strings.Fields(st.Rule.Words))
		switch st.State {
		case steer.RecordMissing:
			out = append(out, Drift{Field: f, Want: want, Have: ""})
		case steer.RecordChanged:
			out = append(out, Drift{Field: f, Want: want, Have: ruleValue(strings.Fields(st.Have))})
		case steer.RecordMoved:
			out = append(out, Drift{Field: f, Want: want, Have: fmt.Sprintf("moved to location %d", st.MovedTo)})
		case steer.RecordClaimed:
			out = append(out, Drift{Field: f, Want: want, Have: fmt.Sprintf("%s, installed from state directory %s", ruleValue(strings.Fields(st.Have)), st.ClaimedBy)})
		}
	}
	return out, nil
}

// writeVF prints one VF on a line, as status and up show it.
func writeVF(w io.Writer, v report.VF) {
	fmt.Fprintf(w, "  VF %d  %s  driver %-9s", v.Index, v.Address, orNone(v.Driver))
	if v.IOMMUGroup != "" {
		fmt.Fprintf(w, "  iommu group %s", v.IOMMUGroup)
	}
	if v.VFIODevice != "" {
		fmt.Fprintf(w, "  %s", v.VFIODevice)
	}
	if v.Netdev != "" {
		fmt.Fprintf(w, "  netdev %s", v.Netdev)
	}
	if v.MAC != "" {
		fmt.Fprintf(w, "  mac %s", v.MAC)
	}
	if v.VLAN != 0 {
		fmt.Fprintf(w, "  vlan %d", v.VLAN)
	}
	fmt.Fprintf(w, "  trust %s  spoofchk %s\n", onOff(v.Trust), onOff(v.Spoofchk))
}
