package setup

// Queue mode: the hidden RX queue. Every RX queue stays with the kernel;
// queue Q is taken out of the PF's RSS indirection table, so the hash sends
// the kernel's traffic to the other queues only, ntuple rules steer the
// chosen flows to Q, and a userspace program receives from Q alone
// (AF_XDP, `vfbypass rx --queue Q`). Its steps are ntuple (shared with VF
// mode), lro and rss-indir, in that order: on ixgbe an ntuple or LRO change
// resets the PF, and ixgbe_setup_reta then fills the table in again, so the
// table is written last (and, undone in reverse, restored first).

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Bypass modes and the XDP modes queue mode's receive path can use.
const (
	ModeVF    = "vf"
	ModeQueue = "queue"
	// XDPNative is a driver-mode XDP program (zero-copy AF_XDP where the
	// driver supports it); XDPGeneric the SKB (copy) mode every driver has.
	XDPNative  = "native"
	XDPGeneric = "generic"
)

// maxQueueIndex bounds queue numbers in requests and journal records: no
// driver has this many RX queues (ETHTOOL_GCHANNELS counts are far lower).
const maxQueueIndex = 4096

func (r Request) queueMode() bool { return r.Mode == ModeQueue }

// validateQueue checks a queue-mode request by itself (the PF's side is
// checkQueueHost's): no VFs are asked for, the queue and XDP mode are
// sane, and rules go to PF queues.
func (r *Request) validateQueue() error {
	if r.NumVFs != 0 || len(r.VFs) != 0 || r.NoIOMMU || (r.Driver != "" && r.Driver != DriverNone) {
		return at("mode", outcome.Invalid("leave --vfs, --vf, --driver and --noiommu out with --mode queue (they are VF mode's)", "--mode queue takes no VFs (--vfs %d, %d --vf)", r.NumVFs, len(r.VFs)))
	}
	if r.Queue < 0 || r.Queue >= maxQueueIndex {
		return at("queue", outcome.Invalid("give --queue Q with Q a queue of the PF (see 'ethtool -l PF')", "--queue %d is not a queue number", r.Queue))
	}
	switch r.XDPMode {
	case "", XDPNative, XDPGeneric:
	default:
		return at("xdp_mode", outcome.Invalid("use --xdp-mode native (default) or --xdp-mode generic", "--xdp-mode %q is not known", r.XDPMode))
	}
	for i, rr := range r.Rules {
		if rr.VF != nil || rr.Queue != 0 {
			return at(fmt.Sprintf("rules[%d]", i), outcome.Invalid("leave vf: and queue: out: in queue mode a rule goes to the hidden queue (or to 'action N' in its flow)", "rule %d names a VF or queue in queue mode", i+1))
		}
	}
	return nil
}

// CheckQueuePF resolves the PF for queue mode, which needs a bound network
// driver but no SR-IOV.
func CheckQueuePF(h *host.Host, name string) (sriov.PF, error) {
	pf, err := sriov.LookupPF(h.FS, name)
	if (err == nil || errors.Is(err, sriov.ErrNoSRIOV)) && pf.Driver != "" && sriov.ValidIfname(name) {
		return pf, nil
	}
	return CheckPF(h, name)
}

// queueProbe is what queue mode needs to know of the PF.
type queueProbe struct {
	driver    string
	numVFs    int
	table     []uint32
	tableErr  error
	queues    int // the PF's receiving queues: channels, else RX rings
	queuesErr error
	// rings is ETHTOOL_GRXRINGS, the queues an indirection entry may name
	// (ixgbe: min(num_rx_queues, 16), below the channels on a large host).
	rings     int
	ringsErr  error
	ntuple    bool
	ntupleWhy string
	lroOn     bool
	lroFixed  bool
	// featErr: a feature could not be read (every netdev has both).
	featErr error
}

func probeQueue(h *host.Host, pf sriov.PF) queueProbe {
	p := queueProbe{driver: pf.Driver, numVFs: pf.NumVFs}
	p.table, p.tableErr = h.Ethtool.Indir(pf.Name)
	p.rings, p.ringsErr = h.Ethtool.RxRings(pf.Name)
	if ch, err := h.Ethtool.Channels(pf.Name); err == nil && ch.RxQueues() > 0 {
		p.queues = ch.RxQueues()
	} else {
		p.queues, p.queuesErr = p.rings, p.ringsErr
	}
	on, fixed, err := h.Ethtool.Feature(pf.Name, host.NtupleFeature)
	p.ntuple, p.featErr = on || !fixed, err
	if fixed && !on {
		p.ntupleWhy = "the driver has no ntuple filters (feature fixed off)"
	}
	if p.lroOn, p.lroFixed, err = h.Ethtool.Feature(pf.Name, host.LROFeature); err != nil {
		p.featErr = err
	}
	return p
}

// readErr is the first error met reading the PF, other than the driver
// having no indirection table.
func (p queueProbe) readErr() error {
	for _, err := range []error{p.tableErr, p.queuesErr, p.ringsErr, p.featErr} {
		if err != nil && (err != p.tableErr || !p.noTable()) {
			return err
		}
	}
	return nil
}

// noTable reports whether the table could not be read because the driver
// has none (EOPNOTSUPP).
func (p queueProbe) noTable() bool {
	return errors.Is(p.tableErr, flows.ErrNotSupported) || errors.Is(p.tableErr, syscall.EOPNOTSUPP)
}

// nativeXDPBlockers lists what makes the driver refuse a native XDP
// program now: ixgbe_xdp_setup returns EINVAL while SR-IOV is on and
// while any ring has RSC (LRO) on.
func (p queueProbe) nativeXDPBlockers() []string {
	if p.driver != "ixgbe" {
		return nil
	}
	var b []string
	if p.numVFs > 0 {
		b = append(b, fmt.Sprintf("SR-IOV is on (%d VFs)", p.numVFs))
	}
	if p.lroOn {
		b = append(b, "LRO (RSC) is on")
	}
	return b
}

// checkQueueHost refuses (*outcome.BadInput) a PF that cannot give queue q up: no
// indirection table, a single queue, q outside the channels, or VFs while
// native XDP is asked for.
func checkQueueHost(pf sriov.PF, p queueProbe, req Request) error {
	switch {
	case p.noTable():
		return outcome.Invalid("use a PF whose driver has an RSS indirection table (ixgbe, igb, i40e, ice, mlx5_core...), or --mode vf",
			"%s (driver %s) has no RSS indirection table to take queue %d out of: %v", pf.Name, pf.Driver, req.Queue, p.tableErr)
	case p.readErr() != nil:
		return outcome.Failed(p.readErr())
	case p.queues < 2:
		return outcome.Invalid(fmt.Sprintf("give %s at least 2 RX queues (ethtool -L %s combined 2; a guest needs as many vCPUs)", pf.Name, pf.Name),
			"%s has %d RX queue: hiding it would leave the kernel none", pf.Name, p.queues)
	case req.Queue >= p.queues:
		return outcome.Invalid(fmt.Sprintf("choose --queue from 0 to %d (ethtool -l %s shows the channels)", p.queues-1, pf.Name),
			"--queue %d: %s has %d RX queues", req.Queue, pf.Name, p.queues)
	case pf.NumVFs > 0 && req.XDPMode != XDPGeneric:
		why := "queue mode with VFs on the same PF is supported with generic XDP only"
		if pf.Driver == "ixgbe" {
			why = "ixgbe_xdp_setup refuses a native XDP program while SR-IOV is on, and 'vfbypass rx --queue' needs one"
		}
		return outcome.Invalid(fmt.Sprintf("run 'vfbypass down %s' (or remove the VFs) first, or pass --xdp-mode generic to accept generic (SKB, copy) XDP", pf.Name),
			"%s has %d VFs: %s", pf.Name, pf.NumVFs, why)
	}
	return nil
}

// queueSteps plans queue mode: ntuple on where the driver can, LRO off
// where it is on and can be switched, and the indirection table without
// queue q. The table to write comes from the journal's record when it is
// for the same queue (so the plan does not depend on how far an earlier
// run got), else from the PF's table size and queue count.
func queueSteps(p queueProbe, req Request, j *journal.Journal, orig Original) ([]step, error) {
	if err := p.readErr(); err != nil {
		return nil, err
	}
	if p.noTable() {
		return nil, p.tableErr
	}
	var steps []step
	if p.ntuple {
		steps = append(steps, &ntupleStep{})
	}
	if p.lroOn && !p.lroFixed || activeEntry(j, string(KindLRO)) {
		steps = append(steps, &lroStep{})
	}
	q := uint32(req.Queue)
	if old := journaledIndir(j); old != nil && old.Queue == q && len(old.Want) == len(p.table) {
		return append(steps, &rssIndirStep{Queue: q, Want: old.Want, orig: orig.RSSIndir}), nil
	}
	want, needed, err := steer.HiddenQueueIndir(len(p.table), p.rings, q)
	if err != nil {
		return nil, err
	}
	if !needed {
		return steps, nil // a queue at or above GRXRINGS is outside RSS already
	}
	return append(steps, &rssIndirStep{Queue: q, Want: want, orig: orig.RSSIndir}), nil
}

// activeEntry reports whether the journal has the step id in effect.
func activeEntry(j *journal.Journal, id string) bool {
	if j == nil {
		return false
	}
	ent := j.Entry(id)
	return ent != nil && ent.State != journal.Undone
}

// journaledIndir is the journal's rss-indir record still in effect.
func journaledIndir(j *journal.Journal) *rssIndirStep {
	if !activeEntry(j, string(KindRSSIndir)) {
		return nil
	}
	ent := j.Entry(string(KindRSSIndir))
	s, err := decodeEntry(ent, maxVFsUnknown)
	if err != nil {
		return nil
	}
	r, _ := s.(*rssIndirStep)
	return r
}

// queueWarnings says what queue mode leaves to the operator.
func queueWarnings(pf sriov.PF, p queueProbe, req Request, res *report.Common) {
	if !p.ntuple {
		res.Warn("%s (driver %s) cannot steer flows into queue %d: %s; the queue is taken out of RSS and receives nothing", pf.Name, pf.Driver, req.Queue, p.ntupleWhy)
	}
	if req.XDPMode == XDPGeneric {
		res.Warn("generic XDP: 'vfbypass rx --queue %d' receives copies through the kernel's SKB path, slower than native XDP", req.Queue)
	}
	if pf.Driver == "ixgbe" {
		res.Warn("starting 'vfbypass rx --queue %d' on %s attaches an XDP program, which resets the PF (its link drops for a moment); an ixgbe that refills its indirection table at every reset (ixgbe_setup_reta) puts queue %d back into RSS, which 'vfbypass status %s' shows as drift and 'vfbypass up' again repairs", req.Queue, pf.Name, req.Queue, pf.Name)
	}
}

// checkModeChange refuses to switch a PF that is up in one mode to the
// other in place: the two share the PF's journal, and the steps of the old
// mode would stay applied under the new request.
func checkModeChange(pf string, j *journal.Journal, req Request) error {
	if j == nil || j.Request == nil {
		return nil
	}
	var prev Request
	if err := json.Unmarshal(j.Request, &prev); err != nil || prev.queueMode() == req.queueMode() {
		return nil
	}
	return outcome.Invalid(fmt.Sprintf("run 'vfbypass down %s' first, then 'vfbypass up' in the other mode", pf),
		"%s is up in %s mode (%s); %s cannot be done in place", pf, modeName(prev), prev.Args(), req.Args())
}

func modeName(r Request) string {
	if r.queueMode() {
		return ModeQueue
	}
	return ModeVF
}

// checkPFFor resolves the PF as the request's mode needs it.
func checkPFFor(h *host.Host, req Request) (sriov.PF, error) {
	if req.queueMode() {
		return CheckQueuePF(h, req.PF)
	}
	return CheckPF(h, req.PF)
}
