package setup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/journal"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/report"
	"github.com/vfbypass/vfbypass/pkg/sriov"
	"github.com/vfbypass/vfbypass/pkg/vfio"
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
	Name         string          `json:"name"`
	Address      string          `json:"address"`
	Model        string          `json:"model,omitempty"`
	Driver       string          `json:"driver"`
	TotalVFs     int             `json:"total_vfs"`
	NumVFs       int             `json:"num_vfs"`
	Autoprobe    bool            `json:"drivers_autoprobe"`
	Ntuple       *bool           `json:"ntuple"`
	RxQueues     int             `json:"rx_queues,omitempty"`
	DefaultRoute bool            `json:"default_route"`
	VFs          []report.VF     `json:"vfs"`
	Journal      *JournalSummary `json:"journal"`
	Drift        []string        `json:"drift"`
}

// JournalSummary is what status shows of a journal.
type JournalSummary struct {
	Path    string       `json:"path"`
	Request string       `json:"request"`
	Steps   []StepResult `json:"steps"`
	Rules   int          `json:"rules"`
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
		for _, v := range p.VFs {
			writeVF(w, v)
		}
		switch {
		case p.Journal == nil:
			fmt.Fprintln(w, "  journal: none (vfbypass has not changed this PF)")
		case p.Journal.Damaged != "":
			fmt.Fprintf(w, "  journal: %s is damaged: %s\n", p.Journal.Path, p.Journal.Damaged)
		default:
			fmt.Fprintf(w, "  journal: %s: up %s, %d steps, %d rules\n", p.Journal.Path, p.Journal.Request, len(p.Journal.Steps), p.Journal.Rules)
		}
		for _, d := range p.Drift {
			fmt.Fprintf(w, "  drift: %s\n", d)
		}
	}
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
		if _, err := checkPF(h, pf); err != nil && outcome.Code(err) == outcome.BadInput {
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
			res.Warn("%s has drifted from its journal: %s", n, strings.Join(st.Drift, "; "))
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
	st := PFStatus{Name: name, TotalVFs: -1, Drift: []string{}}
	pf, err := sriov.LookupPF(h.FS, name)
	total := totalVFsOf(pf, err)
	if err == nil || errors.Is(err, sriov.ErrNoSRIOV) {
		st.Address, st.Driver, st.TotalVFs, st.NumVFs, st.Autoprobe = pf.Address, pf.Driver, pf.TotalVFs, pf.NumVFs, pf.Autoprobe
		st.Model = sriov.Describe(h.FS.Root(), pf.Address)
		if on, ok, _ := ntupleSupport(h, name); ok {
			st.Ntuple = &on
		}
		if q, err := h.Ethtool.RxQueues(name); err == nil {
			st.RxQueues = q
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
	j, err := store.Load(name)
	if err != nil {
		// Not "none": a journal is there, and down will refuse it.
		st.Journal = &JournalSummary{Path: store.Path(name), Steps: []StepResult{}, Damaged: err.Error()}
		st.Drift = append(st.Drift, err.Error())
		return st, nil
	}
	if j == nil {
		return st, nil
	}
	var req Request
	_ = json.Unmarshal(j.Request, &req)
	js := &JournalSummary{Path: store.Path(name), Request: req.Args(), Rules: len(j.Rules)}
	e := &env{h: h, pf: pf}
	for _, ent := range j.Steps {
		js.Steps = append(js.Steps, StepResult{ID: ent.ID, Action: ent.Desc, Status: ent.State})
		if ent.State == journal.Undone {
			continue
		}
		s, err := decodeStep(ent.Kind, ent.Undo, total)
		if err != nil {
			// down refuses such a journal as a whole.
			js.Damaged = fmt.Sprintf("step %s: %v", ent.ID, err)
			st.Drift = append(st.Drift, err.Error())
			continue
		}
		if ent.State == journal.Pending {
			st.Drift = append(st.Drift, fmt.Sprintf("step %s was interrupted (pending): run 'vfbypass down %s' to undo, or 'vfbypass up' again to finish", ent.ID, name))
			continue
		}
		if ok, err := s.done(e); err != nil || !ok {
			st.Drift = append(st.Drift, fmt.Sprintf("step %s (%s) is no longer in effect", ent.ID, ent.Desc))
		}
	}
	st.Journal = js
	return st, nil
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
