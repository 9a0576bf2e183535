package setup

// The operator's state that a PF reset takes away. On ixgbe (Linux 6.1 and
// 6.12 alike) every reset of the close class deletes every ntuple rule of
// the port (ixgbe_close → ixgbe_fdir_filter_exit): sriov_numvfs on a
// running PF (ixgbe_pci_sriov_enable → ixgbe_sriov_reinit → ixgbe_setup_tc
// → ixgbe_close), link down, ethtool -L, attaching or detaching a native
// XDP program. Every configure (ixgbe_configure → ixgbe_setup_mrqc →
// ixgbe_setup_reta) fills the RSS indirection table in again, also after
// the reinit resets an ntuple or LRO switch causes. __ixgbe_enable_sriov
// clears RSC, which stays off until the driver is loaded again.
//
// So up reads the rules vfbypass did not install, a table someone
// configured and LRO before its first step, as part of the original state
// the journal keeps (saved with the journal's first record, before any
// step resets the PF); it installs those rules again after a reset it
// causes, and down installs them and writes the table back after its last
// reset.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// OriginalRule is an ntuple rule that was on the PF before the first up and
// that vfbypass did not install, as the driver reported it.
type OriginalRule struct {
	Location uint32 `json:"location"`
	// Words is the rule in ethtool's words (the display of Spec).
	Words string `json:"words"`
	// Spec is the hex of the struct ethtool_rx_flow_spec the driver
	// reported, which is what is installed again.
	Spec       string `json:"spec"`
	RSSContext uint32 `json:"rss_context,omitempty"`
}

// flowSpec decodes the record and refuses one no vfbypass writes: a spec
// that is not one struct ethtool_rx_flow_spec, of another location, or
// whose words are not its display.
func (r OriginalRule) flowSpec() (flows.FlowSpec, error) {
	var fs flows.FlowSpec
	b, err := hex.DecodeString(r.Spec)
	if err != nil || len(b) != flows.FlowSpecSize {
		return fs, fmt.Errorf("original rule at %d: spec is not the hex of a %d-byte struct ethtool_rx_flow_spec", r.Location, flows.FlowSpecSize)
	}
	if err := fs.UnmarshalBinary(b); err != nil {
		return fs, fmt.Errorf("original rule at %d: %w", r.Location, err)
	}
	if fs.Location != r.Location {
		return fs, fmt.Errorf("original rule at %d: the spec is of location %d", r.Location, fs.Location)
	}
	if w := strings.Join(flows.Words(fs, r.RSSContext), " "); w != r.Words {
		return fs, fmt.Errorf("original rule at %d: words %q are not its spec (%s)", r.Location, r.Words, w)
	}
	return fs, nil
}

// checkOriginal refuses an original state no vfbypass writes (the journal
// is input: down installs these rules and writes this table).
func checkOriginal(o Original) error {
	for _, r := range o.Rules {
		if _, err := r.flowSpec(); err != nil {
			return err
		}
	}
	if t := o.RSSIndir; t != nil {
		if len(t) == 0 || len(t) > 1<<16 || slices.Max(t) >= maxQueueIndex {
			return fmt.Errorf("original rss_indir: %d entries up to queue %d (1..65536 entries below %d)", len(t), slices.Max(append(t, 0)), maxQueueIndex)
		}
	}
	return nil
}

// originalOf decodes the journal's original state (the zero state when
// it records none) and refuses one no vfbypass writes.
func originalOf(j *journal.Journal) (Original, error) {
	var o Original
	if j == nil || len(j.Original) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(j.Original, &o); err != nil {
		return o, fmt.Errorf("original state: %w", err)
	}
	return o, checkOriginal(o)
}

// readOriginalExtras reads what a reset takes away: the indirection table
// when someone configured it (it is not the driver's i % rings), the rules
// no journal record claims, and LRO.
func readOriginalExtras(h *host.Host, pf string, j *journal.Journal, o *Original) {
	if t, err := h.Ethtool.Indir(pf); err == nil {
		if rings, err := h.Ethtool.RxRings(pf); err == nil && !slices.Equal(t, flows.DefaultIndir(len(t), rings)) {
			o.RSSIndir = t
		}
	}
	if on, fixed, err := h.Ethtool.Feature(pf, host.LROFeature); err == nil && (on || !fixed) {
		o.LRO = &on
	}
	o.Rules = foreignRules(h, pf, j)
}

// foreignRules lists the PF's rules at locations no journal record claims
// (none when the PF has no readable rule table).
func foreignRules(h *host.Host, pf string, j *journal.Journal) []OriginalRule {
	dev, err := h.Rules(pf)
	if err != nil {
		return nil
	}
	defer dev.Close()
	locs, _, err := dev.RuleLocations()
	if err != nil {
		return nil
	}
	ours := map[uint32]bool{}
	if j != nil {
		for _, r := range j.Rules {
			ours[r.Location] = true
		}
	}
	var out []OriginalRule
	for _, l := range locs {
		if ours[l] {
			continue
		}
		fs, rss, err := dev.Rule(l)
		if err != nil {
			continue
		}
		b, _ := fs.MarshalBinary()
		out = append(out, OriginalRule{Location: l, Words: strings.Join(flows.Words(fs, rss), " "), Spec: hex.EncodeToString(b), RSSContext: rss})
	}
	return out
}

// missingOriginal lists the original rules whose location is free in the
// table t holds (read into t when it is empty; nil: read it).
func missingOriginal(h *host.Host, pf string, rules []OriginalRule, t *steer.Table) ([]OriginalRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if t == nil {
		t = &steer.Table{}
	}
	if err := t.Load(h, pf); err != nil {
		return nil, err
	}
	var out []OriginalRule
	for _, r := range rules {
		if !t.Has(r.Location) {
			out = append(out, r)
		}
	}
	return out, nil
}

// putBackRules installs the original rules that are missing, each at its
// location as the driver reported it. A rule the driver refuses now is in
// left with the driver's reason; a location another rule took is left
// alone (that rule is someone's since).
func putBackRules(h *host.Host, pf string, rules []OriginalRule) (done []OriginalRule, left []string, err error) {
	missing, err := missingOriginal(h, pf, rules, nil)
	if err != nil || len(missing) == 0 {
		return nil, nil, err
	}
	dev, err := h.Rules(pf)
	if err != nil {
		return nil, nil, fmt.Errorf("open the rule table of %s: %w", pf, err)
	}
	defer dev.Close()
	for _, r := range missing {
		fs, err := r.flowSpec()
		if err == nil {
			_, err = dev.Insert(fs, r.RSSContext)
		}
		if err != nil {
			left = append(left, fmt.Sprintf("ntuple rule %d (%s): %v", r.Location, r.Words, err))
			continue
		}
		done = append(done, r)
	}
	return done, left, nil
}

// restoreTable writes the original indirection table back when the
// kernel's differs (nil: the table was the driver's own, which every reset
// writes again).
func restoreTable(h *host.Host, pf string, t []uint32) (bool, error) {
	if t == nil {
		return false, nil
	}
	cur, err := h.Ethtool.Indir(pf)
	if err != nil {
		return false, fmt.Errorf("read the RSS indirection table of %s: %w", pf, err)
	}
	if slices.Equal(cur, t) {
		return false, nil
	}
	if err := h.Ethtool.SetIndir(pf, t); err != nil {
		return true, fmt.Errorf("write back the RSS indirection table of %s (%s): %w", pf, IndirWords(t), err)
	}
	return true, nil
}

// refusedAfter says why the driver will refuse rule r once the PF has
// numVFs VFs ("" when it will take it): a PF queue beyond the PF's pool
// (ixgbe_set_sriov_queues) or a VF that will not exist.
func refusedAfter(r OriginalRule, rings uint32, numVFs int) string {
	fs, err := r.flowSpec()
	if err != nil {
		return err.Error()
	}
	t := flows.DecodeCookie(fs.RingCookie)
	switch {
	case t.Drop:
		return ""
	case t.VF >= numVFs:
		return fmt.Sprintf("VF %d will not exist with %s", t.VF, report.Count(numVFs, "VF"))
	case t.VF < 0:
		if q := steer.PoolQueues(rings, numVFs); t.Queue >= q {
			return fmt.Sprintf("with %s the PF has %s (ixgbe_set_sriov_queues), so ixgbe refuses queue %d", report.Count(numVFs, "VF"), report.Count(int(q), "RX queue"), t.Queue)
		}
	}
	return ""
}

// lroLeftOff is down's warning when LRO was on before the first up and is
// off now: ixgbe clears RSC when it enables SR-IOV (__ixgbe_enable_sriov)
// and only probing the PF again (ixgbe_sw_init) makes it possible again;
// ixgbe_fix_features drops a request to switch it on meanwhile.
func lroLeftOff(h *host.Host, pf, driver, address string, o Original) string {
	if o.LRO == nil || !*o.LRO {
		return ""
	}
	on, _, err := h.Ethtool.Feature(pf, host.LROFeature)
	if err != nil || on {
		return ""
	}
	why := ""
	if driver == "ixgbe" {
		why = ": ixgbe switches RSC off when it enables SR-IOV (__ixgbe_enable_sriov) and keeps it off until the driver probes the PF again"
	}
	return fmt.Sprintf("LRO (large receive offload) of %s was on before up and is off now%s; to get it back, bind the PF to its driver again (echo %s > /sys/bus/pci/drivers/%s/unbind; echo %s > /sys/bus/pci/drivers/%s/bind: its link drops and its settings return to the driver's defaults), then 'ethtool -K %s lro on'",
		pf, why, address, driver, address, driver, pf)
}

// isNoTable reports whether err is a PF without a rule table.
func isNoTable(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, flows.ErrNotSupported)
}

// flushPlan is what up does for the operator's rules: on an ixgbe PF the
// numvfs step's reset flushes every rule; the operator's come back after
// the steps (again), and so does one a reset took away earlier (status
// shows it as drift), unless the VFs' queue layout refuses it (refused,
// with the reason: down installs those after numvfs returns to 0).
type flushPlan struct {
	again   []OriginalRule
	refused map[uint32]string
	// present: the operator's rules on the PF when this run planned, which
	// a rollback puts back after its last reset.
	present []OriginalRule
}

// planFlush names, in up's diff and before anything changes, the rules the
// numvfs step flushes and the operator's rules up installs again;
// vfbypass's own rules come back through applyRules.
func (u *upRun) planFlush() error {
	flushes := false
	for _, s := range u.steps {
		if s.kind() == KindNumVFs && u.pf.Driver == "ixgbe" {
			c, err := s.changes(u.e)
			if err != nil {
				return err
			}
			flushes = len(c) > 0
		}
	}
	missing, err := missingOriginal(u.h, u.pf.Name, u.orig.Rules, u.table)
	if err != nil && !isNoTable(err) {
		return err
	}
	u.flush = flushPlan{refused: map[uint32]string{}}
	for _, r := range u.orig.Rules {
		gone := slices.ContainsFunc(missing, func(m OriginalRule) bool { return m.Location == r.Location })
		if !gone {
			u.flush.present = append(u.flush.present, r)
		}
		if !gone && !flushes {
			continue
		}
		why := ""
		if u.orig.NumVFs == 0 && u.orig.RxQueues > 0 {
			why = refusedAfter(r, uint32(u.orig.RxQueues), u.req.NumVFs)
		}
		c := report.Change{Field: ruleField(r.Location), After: "installed again after sriov_numvfs flushes it"}
		if gone {
			c.After = ruleValue(strings.Fields(r.Words))
		} else {
			c.Before = ruleValue(strings.Fields(r.Words))
		}
		if why != "" {
			u.flush.refused[r.Location] = why
			c.After = ""
			u.res.Warn("ntuple rule %d (%s) that was on %s before up cannot be installed while the VFs exist: %s; 'vfbypass down %s' installs it again", r.Location, r.Words, u.pf.Name, why, u.pf.Name)
		} else {
			u.flush.again = append(u.flush.again, r)
		}
		if !gone || why == "" {
			u.res.Diff = append(u.res.Diff, c)
		}
	}
	if flushes && u.j != nil {
		for _, r := range u.j.Rules {
			u.res.Diff = append(u.res.Diff, report.Change{Field: ruleField(r.Location), Before: ruleValue(strings.Fields(r.Words)), After: "installed again after sriov_numvfs flushes it"})
		}
	}
	return nil
}

// putBackFlushed installs the operator's rules that the numvfs step
// flushed or an earlier reset took away, before the config's rules go in.
func (u *upRun) putBackFlushed() {
	again := slices.DeleteFunc(slices.Clone(u.flush.again), func(r OriginalRule) bool { return u.opts.holds(ruleField(r.Location)) })
	if len(again) == 0 {
		return
	}
	u.table.Forget()
	done, left, err := putBackRules(u.h, u.pf.Name, again)
	if err != nil {
		u.res.Warn("the ntuple rules that were on %s before up are not installed again: %v", u.pf.Name, err)
		return
	}
	for _, r := range done {
		u.res.Steps = append(u.res.Steps, StepResult{ID: fmt.Sprintf("rule-%d", r.Location), Action: fmt.Sprintf("install ntuple rule %d (%s) again: it was on %s before up and a reset flushed it", r.Location, r.Words, u.pf.Name), Status: StepApplied})
		u.res.Changed = true
	}
	for _, l := range left {
		u.res.Warn("%s: it was on %s before up, but the driver refuses it now; 'vfbypass down %s' installs it again", l, u.pf.Name, u.pf.Name)
	}
}

// restoreAfterRollback puts back, after a rollback's last reset, the
// operator's rules this run found on the PF and, when this run was the
// first up, a table the operator had configured: a rolled-back up leaves
// the PF as it was. It returns what it could not put back.
func (u *upRun) restoreAfterRollback() []string {
	var left []string
	if u.newJournal {
		if _, err := restoreTable(u.h, u.pf.Name, u.orig.RSSIndir); err != nil {
			left = append(left, err.Error())
		}
	}
	_, refused, err := putBackRules(u.h, u.pf.Name, u.flush.present)
	if err != nil && !isNoTable(err) {
		left = append(left, err.Error())
	}
	for _, r := range refused {
		u.res.Warn("%s: it was on %s before this up, but the driver refuses it now, so it is not installed again", r, u.pf.Name)
	}
	return left
}
