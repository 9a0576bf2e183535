package inspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

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
	RSSIndir     string                `json:"rss_indir,omitempty"`
	DefaultRoute bool                  `json:"default_route"`
	VFs          []report.VF           `json:"vfs"`
	Journal      *setup.JournalSummary `json:"journal"`
	// Drift lists, field by field, where the kernel differs from what
	// the journal's request asked for.
	Drift []setup.Drift `json:"drift"`
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
		fmt.Fprintf(w, "%s  %s  driver %s", p.Name, p.Address, report.OrNone(p.Driver))
		if p.Model != "" {
			fmt.Fprintf(w, "  (%s)", p.Model)
		}
		fmt.Fprintln(w)
		nt := "unsupported"
		if p.Ntuple != nil {
			nt = report.OnOff(*p.Ntuple)
		}
		fmt.Fprintf(w, "  VFs %d of %d, drivers_autoprobe %d, ntuple %s, RX queues %d", p.NumVFs, p.TotalVFs, report.Bit(p.Autoprobe), nt, p.RxQueues)
		if p.DefaultRoute {
			fmt.Fprint(w, ", carries the default route")
		}
		fmt.Fprintln(w)
		if p.RSSIndir != "" {
			fmt.Fprintf(w, "  RSS indirection table (queue*entries): %s\n", p.RSSIndir)
		}
		for _, v := range p.VFs {
			report.WriteVF(w, v)
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
		if _, err := setup.CheckPF(h, pf); err != nil && outcome.Is[*outcome.BadInput](err) {
			// A PF that is gone may still have a journal worth showing.
			if j, jerr := store.Load(pf); jerr != nil || j == nil {
				return res, err
			}
		}
	}
	for _, n := range names {
		st, err := pfStatus(h, n, stateDir)
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

// readDir lists dir's entries by name.
func readDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, nil
}

// pfStatus is PF name as the kernel has it, with its journal in stateDir and
// the drift from it.
func pfStatus(h *host.Host, name, stateDir string) (PFStatus, error) {
	st := PFStatus{Name: name, TotalVFs: -1, Drift: []setup.Drift{}}
	pf, pfErr := sriov.LookupPF(h.FS, name)
	if pfErr == nil || errors.Is(pfErr, sriov.ErrNoSRIOV) {
		st.Address, st.Driver, st.TotalVFs, st.NumVFs, st.Autoprobe = pf.Address, pf.Driver, pf.TotalVFs, pf.NumVFs, pf.Autoprobe
		st.Model = sriov.Describe(h.FS.Root(), pf.Address)
		if on, ok, _, _ := setup.NtupleSupport(h, name); ok {
			st.Ntuple = &on
		}
		if q, err := h.Ethtool.RxQueues(name); err == nil {
			st.RxQueues = q
		}
		if t, err := h.Ethtool.Indir(name); err == nil {
			st.RSSIndir = setup.IndirWords(t)
		}
		st.VFs = setup.VFReports(h, name)
	}
	if ifs, err := sriov.DefaultRouteInterfaces(h.FS); err == nil {
		for _, i := range ifs {
			st.DefaultRoute = st.DefaultRoute || i == name
		}
	}
	if st.VFs == nil {
		st.VFs = []report.VF{}
	}
	js, drift, err := setup.JournalDrift(h, name, stateDir)
	st.Journal, st.Drift = js, append(st.Drift, drift...)
	return st, err
}
