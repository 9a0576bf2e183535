package setup

// Drift: where the kernel differs from what a PF's journal asked for. It is
// the diff up repairs (each step's changes, planned from the journal's
// request and original state), read without changing anything; status
// shows it and a watcher repairs it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// Drift is one managed field that differs from the desired state.
type Drift struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Have  string `json:"have"`
}

func (d Drift) String() string {
	return fmt.Sprintf("%s: have %s, want %s", d.Field, report.OrNone(d.Have), report.OrNone(d.Want))
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

// DriftOf is status's drift of one PF without the rest of its status (no
// PCI names, no VFs, no routes): what a watcher reads at every event. up
// reports whether the PF's journal holds a request (up ran, down did not).
func DriftOf(h *host.Host, name, stateDir string) (drift []Drift, up bool, err error) {
	js, drift, err := JournalDrift(h, name, stateDir)
	if err != nil {
		return nil, false, err
	}
	return drift, js != nil && js.Request != "", nil
}

// JournalDrift loads PF name's journal and holds the kernel against it, as
// status shows both: the journal (nil when there is none) and each field
// that differs from what its request asked for. An error is not the
// journal's fault (a state directory others can write, an I/O error) and
// says what to fix.
func JournalDrift(h *host.Host, name, stateDir string) (*JournalSummary, []Drift, error) {
	store := journal.Store{Dir: stateDir}
	pf, pfErr := sriov.LookupPF(h.FS, name)
	total := totalVFsOf(pf, pfErr)
	j, err := store.Load(name)
	if err != nil && !errors.Is(err, journal.ErrCorrupt) {
		// Not the journal's fault (a state directory others can write, an
		// I/O error): the error says what to fix, and nothing is drift.
		return nil, nil, err
	}
	if err != nil {
		// Not "none": a journal is there, and down will refuse it.
		js := &JournalSummary{Path: store.Path(name), Steps: []StepResult{}, Rules: []journal.Rule{}, Damaged: err.Error()}
		return js, []Drift{{Field: "journal", Want: "readable", Have: err.Error()}}, nil
	}
	if j == nil {
		return nil, []Drift{}, nil
	}
	var req Request
	_ = json.Unmarshal(j.Request, &req)
	js := &JournalSummary{Path: store.Path(name), Request: req.Args(), Rules: append([]journal.Rule{}, j.Rules...), Steps: []StepResult{}}
	for _, ent := range j.Steps {
		js.Steps = append(js.Steps, StepResult{ID: ent.ID, Action: ent.Desc, Status: StepStatus(ent.State)})
	}
	if err := checkRecords(j, total); err != nil {
		// down refuses such a journal as a whole.
		js.Damaged = err.Error()
		return js, []Drift{{Field: "journal", Want: "readable", Have: js.Damaged}}, nil
	}
	out := []Drift{}
	for _, ent := range j.Steps {
		if ent.State == journal.Pending {
			out = append(out, Drift{Field: "step " + ent.ID, Want: "applied", Have: "pending: an interrupted run ('vfbypass up' finishes it, 'vfbypass down' undoes it)"})
		}
	}
	if (pfErr == nil || req.queueMode() && errors.Is(pfErr, sriov.ErrNoSRIOV)) && j.Request != nil {
		drift, derr := stepDrift(h, pf, req, j)
		if derr != nil {
			return nil, nil, derr
		}
		out = append(out, drift...)
	}
	rd, err := ruleDrift(h, store, name)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, rd...)
	out = append(out, originalDrift(h, name, pf, pfErr, j)...)
	return js, out, nil
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
	missing, err := missingOriginal(h, name, orig.Rules, nil)
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
	_, ntuple, _, err := NtupleSupport(h, pf.Name)
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
	states, err := steer.Inspect(h, store, pf, nil)
	if err != nil {
		if outcome.Is[*outcome.BadInput](err) {
			// No table to compare with (the PF is gone, or ntuple fixed off).
			return []Drift{{Field: "rules", Want: "the journal's rules", Have: outcome.MessageOf(err)}}, nil
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
