// Package steer installs, lists and removes the ntuple rules that steer
// chosen flows from a PF to a VF (or a PF queue), with the checks that turn
// the kernel's bare EINVAL/EOPNOTSUPP into an explanation before anything is
// touched, and with every rule it adds recorded in the PF's journal so that
// `vfbypass down` removes it.
//
// Crash safety: rules are recorded in the journal before they are inserted
// (write-ahead, one save for a whole batch), inserted, then the records are
// confirmed with the rule as the kernel reports it back. A record whose
// insert never happened is harmless: undo checks the rule at the location
// first and treats an empty location as already gone. A batch is all or
// nothing: when an insert fails, the rules this batch inserted are deleted
// again and their records dropped.
package steer

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Request is one rule to add: ethtool's words, and the target when the
// words carry no `action`/`vf`.
type Request struct {
	// Words is the rule in ethtool's words, from "flow-type" on.
	Words []string
	// VF is the target VF index (virtfnK); nil when Words carry the target
	// or when PFQueue is set.
	VF *int
	// Queue is the queue of the VF (or of the PF with PFQueue).
	Queue uint32
	// PFQueue steers to the PF's queue Queue instead of a VF.
	PFQueue bool
	// Default makes VF/Queue/PFQueue apply only when Words carry no target
	// (a rules file with --vf); otherwise giving both is refused.
	Default bool
}

// Options are the knobs of the steer operations.
type Options struct {
	// StateDir holds the journals.
	StateDir string
	// DryRun checks and reports, and changes nothing.
	DryRun bool
	// Force replaces a rule at an explicitly given location that vfbypass
	// did not record, and adds a rule whose match an installed rule with
	// another target already has.
	Force bool
	// Source is recorded with each rule in the journal ("steer" or "up").
	Source journal.Source
	// LockHeld says the caller holds the PF's journal lock (setup.Up).
	LockHeld bool
	// LockTimeout bounds the wait for the PF's lock (default 60 s).
	LockTimeout time.Duration
	// Table, with LockHeld, is the PF's table as the caller's run last
	// read it: taken instead of reading the table again when it holds
	// it, filled when it is empty, emptied when the call changes the
	// table (see Table).
	Table *Table
}

func (o *Options) defaults() {
	if o.Source == "" {
		o.Source = journal.SourceSteer
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 60 * time.Second
	}
}

// Target is a rule's destination in JSON.
type Target struct {
	// VF is the 0-based VF index (virtfnK), -1 for the PF.
	VF    int    `json:"vf"`
	Queue uint32 `json:"queue"`
	Drop  bool   `json:"drop"`
}

// RuleInfo is one rule as the commands report it.
type RuleInfo struct {
	Location uint32 `json:"location"`
	// Words is the rule in ethtool's words as the kernel reports it back.
	Words []string `json:"words"`
	// Text is the rule as `ethtool -n` prints it.
	Text   string `json:"-"`
	Target Target `json:"target"`
	// VFAddress is the target VF's PCI address.
	VFAddress string `json:"vf_address,omitempty"`
	// Spec is the hex of the struct ethtool_rx_flow_spec.
	Spec string `json:"spec"`
	// Journaled is true for rules vfbypass recorded (down removes them).
	Journaled bool `json:"journaled"`
	// Source is the journal's source of the rule: steer or up.
	Source journal.Source `json:"source,omitempty"`
	// Status is what the command did to the rule; empty in a listing.
	Status RuleStatus `json:"status,omitempty"`
}

// RuleStatus says what a command did to a rule, or would in a dry run
// (docs/json.md).
type RuleStatus string

// The rule statuses.
const (
	RuleAdded       RuleStatus = "added"
	RuleExists      RuleStatus = "exists"
	RuleWouldAdd    RuleStatus = "would-add"
	RuleDeleted     RuleStatus = "deleted"
	RuleWouldDelete RuleStatus = "would-delete"
	// RuleForgotten: the journal's record of a rule no longer installed
	// is dropped (would-be-forgotten in a dry run).
	RuleForgotten RuleStatus = "forgotten"
)

// Result is the report of every steer operation.
type Result struct {
	report.Common
	DryRun bool `json:"dry_run"`
	// TableSize is the number of locations of the PF's rule table.
	TableSize uint32 `json:"table_size"`
	// RxRings is the PF's RX ring count (ETHTOOL_GRXRINGS), which list
	// reports as ethtool -n does.
	RxRings uint32     `json:"rx_rings,omitempty"`
	Rules   []RuleInfo `json:"rules"`
	Message string     `json:"message,omitempty"`
	// clear: the result of Clear, which also forgets stale records.
	clear bool
	// list: the result of List, printed as ethtool -n prints the table.
	list bool
}

// Text implements report.Result: the rules as `ethtool -n` prints them,
// each with its decoded target.
func (r *Result) Text(w io.Writer) {
	if r.list {
		r.listText(w)
		return
	}
	if r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
	for _, x := range r.Rules {
		if x.Status != "" {
			fmt.Fprintf(w, "%s: ", x.Status)
		}
		fmt.Fprint(w, strings.TrimRight(x.Text, "\n"))
		fmt.Fprintf(w, "\n\tSteers to: %s", targetText(x))
		if x.Journaled {
			fmt.Fprintf(w, " (added by vfbypass %s)", x.Source)
		}
		fmt.Fprintln(w)
	}
}

// listText prints List's result as ethtool -n prints the table (its
// header, a blank line, each rule followed by a blank line), so scripts
// written for ethtool keep working; each rule gains a "Steers to" line.
func (r *Result) listText(w io.Writer) {
	fmt.Fprintf(w, "%d RX rings available\nTotal %d rules\n\n", r.RxRings, len(r.Rules))
	for _, x := range r.Rules {
		fmt.Fprint(w, strings.TrimRight(x.Text, "\n"))
		fmt.Fprintf(w, "\n\tSteers to: %s", targetText(x))
		if x.Journaled {
			fmt.Fprintf(w, " (added by vfbypass %s)", x.Source)
		}
		fmt.Fprint(w, "\n\n")
	}
}

// Brief prints one line per rule: location, the rule in ethtool's words,
// the target, and who added it (steer list --brief).
func (r *Result) Brief(w io.Writer) {
	for _, x := range r.Rules {
		by := "-"
		if x.Journaled {
			by = "vfbypass " + string(x.Source)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", x.Location, strings.Join(x.Words, " "), targetText(x), by)
	}
}

func targetText(x RuleInfo) string {
	t := flows.Target{Drop: x.Target.Drop, VF: x.Target.VF, Queue: x.Target.Queue}
	if !t.Drop && t.VF >= 0 && x.VFAddress != "" {
		return fmt.Sprintf("VF %d (%s) queue %d", t.VF, x.VFAddress, t.Queue)
	}
	return t.String()
}

// installed is a rule in the table.
type installed struct {
	loc  uint32
	fs   flows.FlowSpec
	rss  uint32
	from *journal.Rule // the journal record, if vfbypass added it
	key  string        // matchKey, once computed
}

// withMatch returns the locations, in order, of the table's rules whose
// matchKey is key.
func (e *env) withMatch(key string) []uint32 {
	if e.byMatch == nil {
		e.byMatch = map[string][]uint32{}
		for _, l := range e.locs {
			k := e.keyOf(e.table[l])
			e.byMatch[k] = append(e.byMatch[k], l)
		}
	}
	return e.byMatch[key]
}

// keyOf is x's matchKey, computed once.
func (e *env) keyOf(x *installed) string {
	if x.key == "" {
		x.key = matchKey(x.fs, e.ixgbe)
	}
	return x.key
}

// env is the PF and its rule table as they are now.
type env struct {
	h        *host.Host
	pf       string
	driver   string
	ixgbe    bool
	numVFs   int
	ntuple   bool
	dev      flows.Device
	size     uint32
	special  bool
	rxRings  uint32 // ETHTOOL_GRXRINGS: min(num_rx_queues, 16) on ixgbe
	pfQueues uint32 // num_rx_queues: the PF's rings a rule may target
	qpp      uint32 // queues per VF pool
	table    map[uint32]*installed
	// locs: the table's locations in order; byMatch: them by matchKey
	// (withMatch); refWords: the mask reference's words (maskReference).
	locs     []uint32
	byMatch  map[string][]uint32
	refWords string
	// snap: the table as read, shared with the caller (Options.Table),
	// emptied when this env inserts or deletes a rule.
	snap *Table
	vfs  map[int]sriov.VF
	// claims: which state directory installed the rule at each location
	// (journal.Claims); a rule another one claims is never this
	// journal's.
	claims *journal.Claims
}

// loadClaims reads the PF's rule claims for the state directory store.
func (e *env) loadClaims(store journal.Store) error {
	c, err := store.LoadClaims(e.h.FS, e.pf)
	if err != nil {
		return err
	}
	e.claims = c
	return nil
}

// claimedBy returns the other state directory that claims loc, or "".
func (e *env) claimedBy(loc uint32) string {
	if e.claims == nil {
		return ""
	}
	return e.claims.Other(loc)
}

func (e *env) close() {
	if e.dev != nil {
		e.dev.Close()
	}
}

// isNotSupported reports whether err is the kernel's "this device has no
// such operation".
func isNotSupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, flows.ErrNotSupported)
}

func noNtuple(pf, driver string) error {
	if driver != "" {
		driver = " (driver " + driver + ")"
	}
	return outcome.Invalid(fmt.Sprintf("steer on a port with flow-director filters (e.g. an Intel 82599/X520 on ixgbe); 'vfbypass doctor %s' shows what this port can do", pf),
		"%s cannot steer flows: the device has no ntuple (flow director) filters%s", pf, driver)
}

// assume describes the PF as `up` will leave it, for checking rules before
// up's steps run.
type assume struct {
	numVFs int
	ntuple bool
	// removed: locations whose rules are deleted before the check's rules
	// are added, so their rules neither hold a location nor set a mask.
	removed []uint32
}

// open reads the PF and its rule table (taken from snap when that holds
// it; read into snap when snap is empty). It returns bad-input errors for a
// PF that does not exist or cannot steer, and (with needOn) for ntuple off.
func open(h *host.Host, pf string, needOn bool, as *assume, snap *Table) (*env, error) {
	if err := sriov.CheckIfname(pf); err != nil {
		return nil, err
	}
	e := &env{h: h, pf: pf, table: map[uint32]*installed{}, vfs: map[int]sriov.VF{}, snap: snap}
	p, err := sriov.LookupPF(h.FS, pf)
	switch {
	case errors.Is(err, sriov.ErrNoInterface):
		return nil, outcome.Invalid("check the name with 'ip link' (or 'vfbypass doctor')", "PF %s: no such network interface under %s", pf, h.FS.Path("/sys/class/net"))
	case err == nil:
		e.numVFs = p.NumVFs
	case errors.Is(err, sriov.ErrNotPCI), errors.Is(err, sriov.ErrNoSRIOV):
	default:
		return nil, err
	}
	e.driver = p.Driver
	e.ixgbe = p.Driver == "ixgbe"
	if err := e.checkNtuple(needOn, as); err != nil {
		return nil, err
	}
	dev, err := h.Rules(pf)
	if err != nil {
		if isNotSupported(err) {
			return nil, noNtuple(pf, e.driver)
		}
		return nil, fmt.Errorf("open the rule table of %s: %w", pf, err)
	}
	e.dev = dev
	if what, err := e.readTable(as); err != nil {
		e.close()
		if isNotSupported(err) {
			return nil, noNtuple(pf, e.driver)
		}
		return nil, fmt.Errorf("%s of %s: %w", what, pf, err)
	}
	return e, nil
}

// checkNtuple refuses a PF whose ntuple feature is off for good, or off
// when needOn (as may say up will have switched it on).
func (e *env) checkNtuple(needOn bool, as *assume) error {
	pf := e.pf
	on, fixed, ferr := e.h.Ethtool.Feature(pf, host.NtupleFeature)
	if ferr == nil && fixed && !on {
		return noNtuple(pf, e.driver)
	}
	e.ntuple = ferr == nil && on
	if as != nil {
		e.ntuple = e.ntuple || as.ntuple
	}
	if needOn && ferr == nil && !e.ntuple {
		return outcome.Invalid(fmt.Sprintf("switch ntuple filters on: 'vfbypass up %s --vfs N ...' does it (journaled), or 'ethtool -K %s ntuple on'", pf, pf),
			"%s has ntuple filters off (feature %s), so the driver refuses rules", pf, host.NtupleFeature)
	}
	return nil
}

// readTable reads the rule table through e.dev, or takes it from e.snap
// when that holds it (less the rules as says are removed), and counts the
// RX queues; on an error it says what it was doing.
func (e *env) readTable(as *assume) (what string, err error) {
	if e.snap == nil {
		e.snap = &Table{}
	}
	if what, err := e.snap.load(e.dev); err != nil {
		return what, err
	}
	e.size, e.special = e.snap.size, e.snap.special
	for l, x := range e.snap.rules {
		e.table[l] = &installed{loc: l, fs: x.fs, rss: x.rss}
	}
	if as != nil {
		for _, l := range as.removed {
			delete(e.table, l)
		}
	}
	e.locs = sortedLocs(e.table)
	if err := e.countQueues(as); err != nil {
		return "count the RX queues", err
	}
	return "", nil
}

// countQueues reads the PF's RX rings (ETHTOOL_GRXRINGS) and queues, and
// predicts them for the VF count up will leave (as).
func (e *env) countQueues(as *assume) error {
	rings, err := e.dev.RxRings()
	if err != nil {
		return err
	}
	e.rxRings, e.pfQueues = uint32(rings), uint32(rings)
	if e.ixgbe {
		// ixgbe_add_ethtool_fdir_entry bounds a PF rule's ring by
		// num_rx_queues (the channel count, up to min(63, CPUs)), not by
		// ETHTOOL_GRXRINGS, which ixgbe_get_rxnfc caps at 16.
		q, err := e.h.Ethtool.RxQueues(e.pf)
		if err != nil {
			return err
		}
		e.pfQueues = max(e.pfQueues, uint32(q))
	}
	e.qpp = e.pfQueues
	if as != nil && as.numVFs != e.numVFs {
		e.numVFs = as.numVFs
		e.qpp = PoolQueues(e.rxRings, as.numVFs)
		if as.numVFs > 0 {
			e.pfQueues = e.qpp // with SR-IOV the PF keeps one pool
		}
	}
	return nil
}

// PoolQueues predicts ixgbe's queues per pool with n VFs from the PF's RX
// ring count without VFs (the RSS limit), as ixgbe_set_sriov_queues
// (ixgbe_lib.c) computes rss_i: 2 at most in 64-pool mode (more than 32
// pools), else 4, 2 or 1. With SR-IOV on, the PF keeps one pool, so its
// ring count is that pool size, which every VF pool shares.
func PoolQueues(rings uint32, n int) uint32 {
	if n == 0 {
		return rings
	}
	if n+1 > 32 {
		return min(rings, 2)
	}
	switch {
	case rings > 3:
		return 4
	case rings > 1:
		return 2
	}
	return 1
}

// markJournaled links the table's rules to the journal's records.
func (e *env) markJournaled(j *journal.Journal) {
	if j == nil {
		return
	}
	for i := range j.Rules {
		r := j.Rules[i]
		if x, ok := e.table[r.Location]; ok && e.ours(x, &r) {
			x.from = &r
		}
	}
}

// journaledLocs are the locations of the table's rules linked to a record
// (markJournaled).
func (e *env) journaledLocs() []uint32 {
	var locs []uint32
	for l, x := range e.table {
		if x.from != nil {
			locs = append(locs, l)
		}
	}
	return locs
}

// ours is the one definition of "this installed rule is the one vfbypass
// recorded": its match and target are the record's, or, for a record not
// yet confirmed, those of the rule it replaces. The comparison is in the
// masked form the driver keeps (matchKey), so a record in the requested
// form (older journals) and one in the stored form both match. A rule
// another state directory claims is never ours, whatever the record says.
func (e *env) ours(x *installed, r *journal.Rule) bool {
	if e.claimedBy(x.loc) != "" {
		return false
	}
	return e.recordMatches(x, r.Spec) || (r.Replaces != nil && e.recordMatches(x, r.Replaces.Spec))
}

// recordMatches reports whether the installed rule is the one a record's
// spec describes: same match and target.
func (e *env) recordMatches(x *installed, specHex string) bool {
	b, err := hex.DecodeString(specHex)
	if err != nil {
		return false
	}
	var rec flows.FlowSpec
	if err := rec.UnmarshalBinary(b); err != nil {
		return false
	}
	return e.keyOf(x) == matchKey(rec, e.ixgbe) && x.fs.RingCookie == rec.RingCookie
}

// settle resolves the records an add killed between its write-ahead save
// and its confirmation left pending, from what the table holds: the new
// rule (the insert happened: confirm the record), the rule it replaces (it
// did not: the old record stands again), or neither (nothing of vfbypass's
// is there: forget the record). The caller saves j when it saves anyway.
func (e *env) settle(j *journal.Journal) {
	if j == nil {
		return
	}
	kept := j.Rules[:0]
	for _, r := range j.Rules {
		x, ok := e.table[r.Location]
		switch {
		case r.State != journal.Pending:
		case e.claimedBy(r.Location) != "":
			// The claim is written before the insert: another state
			// directory's rule is there, this record's insert never was.
			continue
		case ok && e.recordMatches(x, r.Spec):
			r.Confirm(x.fs, x.rss)
		case ok && r.Replaces != nil && e.recordMatches(x, r.Replaces.Spec):
			r, _ = r.RollBack()
		default:
			continue
		}
		kept = append(kept, r)
	}
	j.Rules = kept
}

// stored is a rule in the form the driver keeps and reports back: for
// ixgbe as ixgbe_get_ethtool_fdir_entry reports it (ixgbeReported), for
// other drivers with every value ANDed with its mask. A record in this form
// matches the installed rule even when the process is killed before it
// can confirm the record with the rule read back.
func (e *env) stored(fs flows.FlowSpec) flows.FlowSpec {
	if e.ixgbe {
		if r, ok := ixgbeReported(fs); ok {
			return r
		}
	}
	for i := range fs.HU {
		fs.HU[i] &= fs.MU[i]
	}
	and := func(v, m []byte) {
		for i := range v {
			v[i] &= m[i]
		}
	}
	and(fs.HExt.HDest[:], fs.MExt.HDest[:])
	and(fs.HExt.VlanEtype[:], fs.MExt.VlanEtype[:])
	and(fs.HExt.VlanTCI[:], fs.MExt.VlanTCI[:])
	and(fs.HExt.Data[:], fs.MExt.Data[:])
	return fs
}

// isGone reports whether a rule command's error says there is no rule at
// the location (ixgbe and most drivers: EINVAL; others ENOENT): the one
// set of "already gone" answers for down, del, clear and rollbacks.
func isGone(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT)
}

// ErrNotOurs marks a journaled rule whose location holds another rule.
var ErrNotOurs = errors.New("the rule is no longer the one vfbypass installed")

// Removal is the outcome of removing one journaled rule: Deleted is false
// when the rule was gone already, or when its record was never confirmed
// and its location holds someone else's rule (the insert never happened);
// ClaimedBy names the other state directory that installed the rule at the
// record's location, which is left alone (the record is not this state
// directory's to act on); Err wraps ErrNotOurs when a confirmed record's
// location holds another rule, which is left alone.
type Removal struct {
	Deleted   bool
	ClaimedBy string
	Err       error
}

// RemoveRecords removes, in the order given, the rules the journal records
// rs describe from pf's table, each only if it is still vfbypass's (ours)
// and no other state directory than store's claims it: the removal path
// of `down`, with the table opened once. The claims of the locations it
// empties go. The error is the table's or the claims' own (they cannot be
// read): then nothing was removed.
func RemoveRecords(h *host.Host, store journal.Store, pf string, rs []journal.Rule) ([]Removal, error) {
	e := &env{h: h, pf: pf}
	if p, err := sriov.LookupPF(h.FS, pf); err == nil || errors.Is(err, sriov.ErrNoSRIOV) || errors.Is(err, sriov.ErrNotPCI) {
		e.ixgbe = p.Driver == "ixgbe"
	}
	if err := e.loadClaims(store); err != nil {
		return nil, err
	}
	dev, err := h.Rules(pf)
	if err != nil {
		return nil, fmt.Errorf("open the rule table of %s: %w", pf, err)
	}
	defer dev.Close()
	out := make([]Removal, len(rs))
	var empty []uint32
	for i, r := range rs {
		var gone bool
		out[i], gone = e.removeRecorded(dev, r)
		if gone {
			empty = append(empty, r.Location)
		}
	}
	// A claim left behind (the release failed) is of an empty location:
	// the next run of this state directory drops it (Claims.Reconcile),
	// and an insert there claims it anew.
	_ = e.claims.Release(empty)
	return out, nil
}

// removeRecorded deletes the rule record r describes when it is ours;
// gone says the location is empty afterwards.
func (e *env) removeRecorded(dev flows.Device, r journal.Rule) (rm Removal, gone bool) {
	fs, rss, err := dev.Rule(r.Location)
	if isGone(err) {
		return rm, true
	}
	if err != nil {
		rm.Err = fmt.Errorf("read rule %d of %s: %w", r.Location, e.pf, err)
		return rm, false
	}
	if o := e.claimedBy(r.Location); o != "" {
		rm.ClaimedBy = o
		return rm, false
	}
	if !e.ours(&installed{loc: r.Location, fs: fs, rss: rss}, &r) {
		if r.State != journal.Pending {
			rm.Err = fmt.Errorf("%w: location %d of %s holds %s; left alone (delete it with 'vfbypass steer del %s %d' if it should go)",
				ErrNotOurs, r.Location, e.pf, strings.Join(flows.Words(fs, rss), " "), e.pf, r.Location)
		}
		return rm, false
	}
	if err := dev.Delete(r.Location); err != nil {
		if isGone(err) {
			return rm, true
		}
		rm.Err = fmt.Errorf("delete rule %d of %s: %w", r.Location, e.pf, err)
		return rm, false
	}
	rm.Deleted = true
	return rm, true
}

func (e *env) info(x *installed) RuleInfo {
	t := flows.DecodeCookie(x.fs.RingCookie)
	b, _ := x.fs.MarshalBinary()
	ri := RuleInfo{Location: x.loc, Words: flows.Words(x.fs, x.rss), Text: flows.Format(x.fs, x.rss),
		Target: Target{VF: t.VF, Queue: t.Queue, Drop: t.Drop}, Spec: hex.EncodeToString(b)}
	if x.from != nil {
		ri.Journaled, ri.Source = true, x.from.Source
	}
	if !t.Drop && t.VF >= 0 {
		if v, ok := e.vfs[t.VF]; ok {
			ri.VFAddress = v.Address
		} else if v, err := sriov.LookupVF(e.h.FS, e.pf, t.VF); err == nil {
			e.vfs[t.VF] = v
			ri.VFAddress = v.Address
		}
	}
	return ri
}

// matchKey is what a rule matches, with values ANDed with their masks and an
// absent extension read as zero, so that a rule as inserted and as a driver
// reports it back compare equal. For ixgbe it is what the driver keeps
// (ixgbeKey).
func matchKey(fs flows.FlowSpec, ixgbe bool) string {
	if ixgbe {
		if k, ok := ixgbeKey(fs); ok {
			return k
		}
	}
	b := make([]byte, 0, 4+2*len(fs.HU)+2*20)
	base := fs.BaseType()
	b = append(b, byte(base>>24), byte(base>>16), byte(base>>8), byte(base))
	for i := 0; i < len(fs.HU); i++ {
		b = append(b, fs.HU[i]&fs.MU[i], fs.MU[i])
	}
	var h, m flows.FlowSpecExt
	if fs.FlowType&flows.FlowExt != 0 {
		h.VlanEtype, h.VlanTCI, h.Data = fs.HExt.VlanEtype, fs.HExt.VlanTCI, fs.HExt.Data
		m.VlanEtype, m.VlanTCI, m.Data = fs.MExt.VlanEtype, fs.MExt.VlanTCI, fs.MExt.Data
	}
	if fs.FlowType&flows.FlowMACExt != 0 {
		h.HDest, m.HDest = fs.HExt.HDest, fs.MExt.HDest
	}
	and := func(x, y []byte) {
		for i := range x {
			b = append(b, x[i]&y[i], y[i])
		}
	}
	and(h.HDest[:], m.HDest[:])
	and(h.VlanEtype[:], m.VlanEtype[:])
	and(h.VlanTCI[:], m.VlanTCI[:])
	and(h.Data[:], m.Data[:])
	return string(b)
}

// lock takes the PF's journal lock unless the caller holds it.
// The lock comes first: it refuses a PF that does not exist before the
// state directory is made.
func lock(h *host.Host, store journal.Store, pf string, opts Options) (func(), error) {
	if opts.DryRun || opts.LockHeld {
		return func() {}, nil
	}
	l, err := store.Lock(h.FS, pf, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	if err := store.CheckWritable(); err != nil {
		l.Unlock()
		if outcome.FixOf(err) != "" {
			return nil, err // the state directory's own fix (chmod 700)
		}
		return nil, outcome.Invalid("pass a writable --state-dir (default /run/vfbypass)", "%v", err)
	}
	return func() { l.Unlock() }, nil
}

// loadJournal reads the PF's journal, refusing a damaged one.
func loadJournal(store journal.Store, pf string) (*journal.Journal, error) {
	j, err := store.Load(pf)
	if errors.Is(err, journal.ErrCorrupt) {
		return nil, outcome.Invalid(fmt.Sprintf("inspect the PF with 'vfbypass status %s', restore it by hand, then remove %s", pf, store.Path(pf)), "%v", err)
	}
	return j, err
}

// saveJournal writes j, or removes it when nothing in it needs undoing.
func saveJournal(store journal.Store, j *journal.Journal) error {
	if !j.Active() && len(j.Steps) == 0 && j.Request == nil {
		return store.Remove(j.PF)
	}
	return store.Save(j)
}

func sortedLocs(t map[uint32]*installed) []uint32 {
	locs := make([]uint32, 0, len(t))
	for l := range t {
		locs = append(locs, l)
	}
	sort.Slice(locs, func(i, j int) bool { return locs[i] < locs[j] })
	return locs
}

// List reports every rule in the PF's table, decoded, with the ones vfbypass
// added marked.
func List(h *host.Host, store journal.Store, pf string) (*Result, error) {
	res := &Result{Rules: []RuleInfo{}}
	res.PF = pf
	e, err := open(h, pf, false, nil, nil)
	if err != nil {
		return res, err
	}
	defer e.close()
	j, err := loadJournal(store, pf)
	if err != nil {
		return res, err
	}
	if err := e.loadClaims(store); err != nil {
		return res, err
	}
	e.settle(j)
	e.markJournaled(j)
	res.TableSize, res.RxRings, res.list = e.size, e.pfQueues, true
	for _, l := range e.locs {
		res.Rules = append(res.Rules, e.info(e.table[l]))
	}
	res.Message = fmt.Sprintf("%s: %s in a table of %d locations", pf, report.Count(len(res.Rules), "rule"), e.size)
	if !e.ntuple {
		res.Warn("%s has ntuple filters off: the driver refuses new rules until 'ethtool -K %s ntuple on' (vfbypass up does it)", pf, pf)
	}
	return res, nil
}
