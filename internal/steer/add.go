package steer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vfbypass/vfbypass/internal/config"
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// item is one requested rule after its checks.
type item struct {
	n       int // 1-based position in the batch, for messages
	req     Request
	spec    flows.FlowSpec
	rss     uint32
	words   string // for the journal: the words as given, with the target
	exists  *installed
	replace *installed // the rule at the given location, replaced
	loc     uint32
}

// label names a rule of a batch in messages.
func (it *item) label(batch int) string {
	if batch == 1 {
		return "the rule"
	}
	return fmt.Sprintf("rule %d (%s)", it.n, strings.Join(it.req.Words, " "))
}

// parse reads the rule's words and its target (from the words or from
// --vf/--queue) into it, refusing what vfbypass does not take whatever the
// driver: a syntax error, ports without l4proto, no target or two, a
// ring_cookie with bits the kernel ignores.
func (it *item) parse(what string) (flows.Rule, error) {
	r, err := flows.ParseDecimal(it.req.Words)
	if err != nil {
		var se *flows.SyntaxError
		if errors.As(err, &se) {
			fix := se.Fix
			if strings.HasPrefix(se.Word, "--") {
				fix = "put flags before the rule: vfbypass steer add PF --vf K [--queue Q] flow-type ..."
			}
			if fix == "" {
				fix = "write the rule in ethtool's words: flow-type tcp4 dst-ip 10.0.0.1 dst-port 80"
			}
			return r, outcome.Invalid(fix, "%s: word %d %q: %s", what, se.Pos+1, se.Word, se.Reason)
		}
		return r, outcome.Invalid("write the rule in ethtool's words: flow-type tcp4 dst-ip 10.0.0.1 dst-port 80", "%s: %v", what, err)
	}
	if w := portsWithoutProto(r); w != "" {
		return r, outcome.Invalid("add l4proto 6 (TCP), 17 (UDP) or 132 (SCTP), or use flow-type tcp4, udp4 or sctp4 (tcp6, udp6 or sctp6)",
			"%s: %s in an %s rule without l4proto would compare the first 4 bytes after the IP header of every protocol", what, w, it.req.Words[1])
	}
	it.spec, it.rss = r.Spec, r.RSSContext
	it.words = strings.Join(it.req.Words, " ")
	if r.HasAction && it.req.Default {
		it.req.VF, it.req.PFQueue = nil, false
	}
	switch {
	case r.HasAction && (it.req.VF != nil || it.req.PFQueue):
		return r, outcome.Invalid("give the target once: either --vf K [--queue Q] or 'action N' / 'vf N queue M' in the rule",
			"%s names its target with 'action'/'vf' and --vf/--queue is given too", what)
	case it.req.VF != nil:
		if *it.req.VF < 0 || *it.req.VF > 254 {
			return r, outcome.Invalid("give --vf as the VF's sysfs index (virtfnK), 0 to 254", "--vf %d is not a VF index", *it.req.VF)
		}
		it.spec.RingCookie = flows.Cookie(*it.req.VF, it.req.Queue)
		it.words += fmt.Sprintf(" vf %d queue %d", *it.req.VF, it.req.Queue)
	case it.req.PFQueue:
		it.spec.RingCookie = flows.Cookie(-1, it.req.Queue)
		it.words += fmt.Sprintf(" action %d", it.req.Queue)
	case !r.HasAction:
		return r, outcome.Invalid("say where the flow goes: --vf K [--queue Q], or 'vf K queue Q', 'action N' or 'action -1' (drop) in the rule",
			"%s has no target", what)
	}
	if t := flows.DecodeCookie(it.spec.RingCookie); !t.Drop && it.spec.RingCookie&^(flows.RingVFMask|flows.RingQueueMask) != 0 {
		return r, outcome.Invalid("use 'vf K queue Q', --vf K --queue Q, or 'action N' with a queue below 2^32 (action -1 drops)",
			"%s: action %d sets ring_cookie bits the kernel ignores (%#x)", what, it.spec.RingCookie, it.spec.RingCookie)
	}
	return r, nil
}

// prepare parses and checks one rule against the table as it will be
// after the rules before it in the batch (taken). Every refusal is a
// bad-input error naming the word or value and the fix.
func (e *env) prepare(it *item, batch int, taken map[uint32]*item, opts Options) error {
	what := it.label(batch)
	r, err := it.parse(what)
	if err != nil {
		return err
	}
	locGiven := r.HasLoc && !r.NeedsLocation()
	if r.HasLoc && r.NeedsLocation() && !e.special {
		return specialLocRefusal(what, r.Spec.Location, e.pf)
	}
	if locGiven {
		it.loc = r.Spec.Location
		if o, ok := taken[it.loc]; ok {
			return outcome.Invalid("give each rule its own loc", "%s: loc %d is also given to rule %d", what, it.loc, o.n)
		}
	}
	spec := it.spec
	spec.Location = it.loc
	if err := e.driverRefusal(what, flowTypeWord(it.req.Words), spec, locGiven, taken); err != nil {
		return err
	}
	if err := e.ixgbeIgnored(what, it.spec); err != nil {
		return err
	}
	if done, err := e.sameMatch(it, r, what, opts); done || err != nil {
		return err
	}
	if r.HasLoc && !r.NeedsLocation() {
		if x, ok := e.table[it.loc]; ok {
			if x.from == nil && !opts.Force {
				return outcome.Invalid(fmt.Sprintf("leave loc out to use a free location, or pass --force to replace the rule at %d", it.loc),
					"%s: location %d holds another rule (%s), which vfbypass did not add", what, it.loc, strings.Join(flows.Words(x.fs, x.rss), " "))
			}
			it.replace = x
		}
		return nil
	}
	if e.special {
		it.loc = flows.RxClsLocAny
		return nil
	}
	return e.freeLocation(it, taken, what)
}

// sameMatch looks for an installed rule with it's match: done when that
// rule is it already (same target and location), an error when it steers
// the flow elsewhere and neither --force nor its location allows a second.
func (e *env) sameMatch(it *item, r flows.Rule, what string, opts Options) (done bool, err error) {
	for _, l := range e.withMatch(matchKey(it.spec, e.ixgbe)) {
		x := e.table[l]
		if x.rss != it.rss {
			continue
		}
		if x.fs.RingCookie == it.spec.RingCookie && (!r.HasLoc || r.NeedsLocation() || it.loc == x.loc) {
			it.exists, it.loc = x, x.loc
			return true, nil
		}
		if !opts.Force && (!r.HasLoc || it.loc != x.loc) {
			return false, outcome.Invalid(fmt.Sprintf("delete it first ('vfbypass steer del %s %d'), give 'loc %d' to replace it, or pass --force to add this one too (no location wins on ixgbe: the rule written last holds, and after a reset of the port the driver writes the rules back in location order, so then the highest location holds)", e.pf, x.loc, x.loc),
				"%s: the rule at location %d already matches this flow and steers it to %s", what, x.loc, flows.DecodeCookie(x.fs.RingCookie))
		}
	}
	return false, nil
}

// freeLocation gives it ethtool's choice (rxclass.c rmgr): the highest
// location free in the table and in the batch. On ixgbe a location is only
// the rule's software id (no priority).
func (e *env) freeLocation(it *item, taken map[uint32]*item, what string) error {
	for l := int64(e.size) - 1; l >= 0; l-- {
		if _, used := e.table[uint32(l)]; used {
			continue
		}
		if _, used := taken[uint32(l)]; used {
			continue
		}
		it.loc = uint32(l)
		return nil
	}
	return outcome.Invalid(fmt.Sprintf("delete rules first ('vfbypass steer list %s' shows them, 'vfbypass steer del %s LOC' removes one)", e.pf, e.pf),
		"%s: %s's rule table is full (%d of %d locations used)", what, e.pf, len(e.table)+len(taken), e.size)
}

// ixgbeIgnored refuses, on ixgbe, a rule giving what the driver would
// silently ignore, so that it would match more than it says: tos, and
// user-def bits beyond the low byte (the VM pool).
func (e *env) ixgbeIgnored(what string, fs flows.FlowSpec) error {
	if !e.ixgbe {
		return nil
	}
	if fs.MU[flows.OffIP4TOS] != 0 { // tcp_ip4_spec.tos / usr_ip4_spec.tos
		return outcome.Invalid("leave tos out: ixgbe's perfect filters cannot match it",
			"%s: %s (driver ixgbe) would ignore tos: ixgbe_add_ethtool_fdir_entry has no field for it, so the rule would match every tos", what, e.pf)
	}
	if v := ixgbeIgnoredUserDef(fs); v != 0 {
		return outcome.Invalid("give user-def only the VM pool, in its low byte (e.g. user-def 0x3)",
			"%s: %s (driver ixgbe) would ignore user-def bits %#x: ixgbe_add_ethtool_fdir_entry uses only the low byte of user-def (the VM pool), so the rule would match whatever those bits say", what, e.pf, v)
	}
	return nil
}

// driverRefusal is the driver's verdict on a rule (fs, with its location
// when locGiven) for the table as it will be after the rules of the batch
// before it (taken): what every driver checks in the ring_cookie and the
// location, and for ixgbe its flow types and its one mask per port. It
// refuses exactly what the driver's insert would refuse (EINVAL), with the
// reason; the refusals that are vfbypass's own policy come in prepare.
func (e *env) driverRefusal(what, flowType string, fs flows.FlowSpec, locGiven bool, taken map[uint32]*item) error {
	if t := flows.DecodeCookie(fs.RingCookie); !t.Drop {
		switch {
		case t.VF >= 0 && t.VF >= e.numVFs:
			fix := fmt.Sprintf("choose a VF from 0 to %d", e.numVFs-1)
			if e.numVFs == 0 {
				fix = fmt.Sprintf("enable VFs first: vfbypass up %s --vfs N", e.pf)
			}
			return outcome.Invalid(fix, "%s targets VF %d, but %s has %d VFs (sriov_numvfs)", what, t.VF, e.pf, e.numVFs)
		case t.VF >= 0 && t.Queue >= e.qpp:
			return outcome.Invalid(fmt.Sprintf("choose a queue from 0 to %d", e.qpp-1),
				"%s targets queue %d of VF %d, but each VF pool of %s has %d queues", what, t.Queue, t.VF, e.pf, e.qpp)
		case t.VF < 0 && t.Queue >= e.pfQueues:
			return outcome.Invalid(fmt.Sprintf("choose a PF queue from 0 to %d", e.pfQueues-1),
				"%s targets PF queue %d, but %s has %d RX queues", what, t.Queue, e.pf, e.pfQueues)
		case t.VF < 0 && e.ixgbe && int(t.Queue) == ixgbeDropRing(e.numVFs, e.qpp):
			return outcome.Invalid(fmt.Sprintf("choose another PF queue from 0 to %d", e.pfQueues-1),
				"%s targets PF queue %d, but with %d VFs that queue of %s is hardware queue %d, ixgbe's flow-director drop queue (IXGBE_FDIR_DROP_QUEUE): the driver takes the rule and the flow is dropped", what, t.Queue, e.numVFs, e.pf, ixgbeDropQueue)
		}
	}
	if locGiven && fs.Location >= e.size {
		return outcome.Invalid(fmt.Sprintf("give loc from 0 to %d, or leave loc out and vfbypass picks a free one", e.size-1),
			"%s: loc %d is beyond %s's rule table (%d locations)", what, fs.Location, e.pf, e.size)
	}
	if !e.ixgbe {
		return nil
	}
	ref, refWords := e.maskReference(taken)
	return e.ixgbeRefusal(what, flowType, fs, ref, refWords)
}

// maskReference returns a rule whose mask the port has: an installed one, or
// one this batch adds before it.
// ixgbe compares with the port mask even when the new rule replaces the
// only one.
func (e *env) maskReference(taken map[uint32]*item) (*flows.FlowSpec, string) {
	if len(e.locs) > 0 {
		x := e.table[e.locs[0]]
		if e.refWords == "" { // the same for every rule of the batch
			e.refWords = fmt.Sprintf("location %d: %s", x.loc, strings.Join(flows.Words(x.fs, x.rss), " "))
		}
		return &x.fs, e.refWords
	}
	first := -1
	var ref *item
	for _, o := range taken {
		if o.exists == nil && (first < 0 || o.n < first) {
			first, ref = o.n, o
		}
	}
	if ref != nil {
		return &ref.spec, fmt.Sprintf("rule %d: %s", ref.n, ref.words)
	}
	return nil, ""
}

func flowTypeWord(words []string) string {
	for i, w := range words {
		if w == "flow-type" && i+1 < len(words) {
			return words[i+1]
		}
	}
	return strings.Join(words, " ")
}

// Add installs one rule on pf; see AddMany.
func Add(h *host.Host, store journal.Store, pf string, req Request, opts Options) (*Result, error) {
	return AddMany(h, store, pf, []Request{req}, opts)
}

// AddMany installs rules on pf as one batch: every rule is checked against
// the PF and the table (and the rules before it) before anything changes;
// a rule whose match and target are installed already is left as it is
// (changed false); the others are recorded in the PF's journal, inserted,
// and confirmed. If an insert fails, the batch's rules are removed again
// (*outcome.RolledBack).
func AddMany(h *host.Host, store journal.Store, pf string, reqs []Request, opts Options) (*Result, error) {
	return addMany(h, store, pf, reqs, opts, nil)
}

// Check validates rules for `vfbypass up` before up changes anything: as
// if pf had numVFs VFs and ntuple on, against its table as it will be once
// the rules at the locations in removed are deleted (up deletes them
// before it adds). It changes nothing; its result lists where each rule
// would go. The table is taken from t when t holds it (nil: read it).
func Check(h *host.Host, store journal.Store, pf string, reqs []Request, numVFs int, removed []uint32, t *Table) (*Result, error) {
	return addMany(h, store, pf, reqs, Options{DryRun: true, StateDir: store.Dir, Table: t}, &assume{numVFs: numVFs, ntuple: true, removed: removed})
}

func addMany(h *host.Host, store journal.Store, pf string, reqs []Request, opts Options, as *assume) (*Result, error) {
	opts.defaults()
	res := &Result{DryRun: opts.DryRun, Rules: []RuleInfo{}}
	res.PF = pf
	if len(reqs) == 0 {
		return res, outcome.Invalid("give a rule: vfbypass steer add PF --vf 0 flow-type tcp4 dst-port 80", "no rule given")
	}
	e, j, end, err := begin(h, store, pf, true, as, opts, res)
	if err != nil {
		return res, err
	}
	defer end()
	items := make([]*item, len(reqs))
	taken := map[uint32]*item{}
	for i, rq := range reqs {
		it := &item{n: i + 1, req: rq}
		if err := e.prepare(it, len(reqs), taken, opts); err != nil {
			return res, err
		}
		if it.exists == nil {
			taken[it.loc] = it
		}
		items[i] = it
	}
	if as == nil {
		warnVFDrivers(h, pf, items, res)
		warnSharedQueues(h, pf, items, res)
		e.warnDropRules(items, res)
	}
	var todo []*item
	for _, it := range items {
		if it.exists != nil {
			ri := e.info(it.exists)
			ri.Status = RuleExists
			res.Rules = append(res.Rules, ri)
			continue
		}
		todo = append(todo, it)
	}
	if opts.DryRun || len(todo) == 0 {
		for _, it := range todo {
			it.spec.Location = it.loc
			ri := e.info(&installed{loc: it.loc, fs: it.spec, rss: it.rss})
			ri.Status = RuleWouldAdd
			res.Rules = append(res.Rules, ri)
		}
		switch {
		case opts.DryRun:
			res.Message = fmt.Sprintf("%s: %s would be added, %d installed already (dry run, nothing changed)", pf, report.Count(len(todo), "rule"), len(items)-len(todo))
		default:
			res.Message = fmt.Sprintf("%s: every rule is installed already, nothing changed", pf)
		}
		return res, nil
	}

	return e.install(store, j, todo, res, opts, len(items))
}

// install records todo in the journal (write ahead), claims its locations,
// inserts it and confirms the records: the changing half of addMany.
func (e *env) install(store journal.Store, j *journal.Journal, todo []*item, res *Result, opts Options, nItems int) (*Result, error) {
	pf := e.pf
	e.snap.Forget()
	if j == nil {
		j = &journal.Journal{PF: pf, Created: time.Now().UTC()}
	}
	mine := e.writeAhead(j, todo, opts.Source)
	if err := store.Save(j); err != nil {
		return res, outcome.Failed(fmt.Errorf("record the rules in the journal: %w", err))
	}
	// Claimed before inserted: no other state directory's record can
	// make a run delete these rules.
	if err := e.claims.Claim(slices.Collect(maps.Keys(mine))); err != nil {
		return res, e.rollback(store, j, todo, nil, fmt.Errorf("claim the rules' locations: %w", err))
	}
	done, err := e.insertAll(store, j, todo, mine, nItems)
	if err != nil {
		return res, err
	}
	pending := e.confirm(j, done, res, opts.Source)
	if err := store.Save(j); err != nil {
		// Exit 1 promises the table is as it was: take the batch out again.
		res.Rules = nil
		j.Rules = pending
		return res, e.rollback(store, j, todo, done, fmt.Errorf("confirm the rules in the journal: %w", err))
	}
	res.Changed = true
	res.Message = fmt.Sprintf("%s: %s added, %d installed already (journal %s; 'vfbypass down %s' or 'vfbypass steer clear %s' removes them)",
		pf, report.Count(len(done), "rule"), nItems-len(done), store.Path(pf), pf, pf)
	return res, nil
}

// warnVFDrivers warns about the VFs the batch steers to that are not on
// vfio-pci: their flows reach the kernel's driver, not DPDK.
func warnVFDrivers(h *host.Host, pf string, items []*item, res *Result) {
	warned := map[int]bool{}
	for _, it := range items {
		t := flows.DecodeCookie(it.spec.RingCookie)
		if t.Drop || t.VF < 0 || warned[t.VF] {
			continue
		}
		warned[t.VF] = true
		if v, err := sriov.LookupVF(h.FS, pf, t.VF); err == nil && v.Driver != vfio.Driver {
			res.Warn("VF %d (%s) is bound to %s, not %s: the flows steered to it reach %s, not a DPDK application (vfbypass up %s --vf %d gives it to vfio-pci)",
				t.VF, v.Address, orNone(v.Driver), vfio.Driver, orNone(v.Driver), pf, t.VF)
		}
	}
}

// writeAhead records every rule of the batch in j, pending, in the form
// the driver will keep; it returns the locations of those records.
func (e *env) writeAhead(j *journal.Journal, todo []*item, source journal.Source) map[uint32]bool {
	mine := map[uint32]bool{}
	for _, it := range todo {
		it.spec.Location = it.loc
		var replaces *journal.Rule
		switch {
		case it.replace != nil && it.replace.from != nil:
			// The replaced rule's record goes only when the insert is
			// confirmed: until then the location may still hold it.
			old := *it.replace.from
			j.DropRule(it.loc)
			replaces = &old
		case it.replace == nil:
			// A record at a location the table has no rule at is stale
			// (its rule went missing): the new record takes its place.
			j.DropRule(it.loc)
		}
		j.Rules = append(j.Rules, journal.NewRule(it.loc, e.stored(it.spec), it.rss, source, replaces))
		mine[it.loc] = true
	}
	return mine
}

// insertAll inserts the batch's rules; when one fails, it rolls the batch
// back and returns the rollback's error.
func (e *env) insertAll(store journal.Store, j *journal.Journal, todo []*item, mine map[uint32]bool, batch int) ([]*item, error) {
	var done []*item
	for _, it := range todo {
		loc, err := e.dev.Insert(it.spec, it.rss)
		if err != nil {
			return done, e.rollback(store, j, todo, done, fmt.Errorf("insert %s at location %d on %s: %w", it.label(batch), it.loc, e.pf, err))
		}
		if loc != it.loc { // RX_CLS_LOC_ANY: the driver chose
			// A rule without a claim is any journal's that records it;
			// the next run of this state directory claims it
			// (Claims.Reconcile) when this one cannot.
			_ = e.claims.Claim([]uint32{loc})
			for i := range j.Rules {
				if j.Rules[i].Location == it.loc && mine[it.loc] {
					j.Rules[i].Location = loc
				}
			}
			it.loc = loc
		}
		done = append(done, it)
	}
	return done, nil
}

// confirm records each inserted rule as the kernel reports it back and
// adds it to res; it returns the records as they were before, for a
// rollback when the save fails.
func (e *env) confirm(j *journal.Journal, done []*item, res *Result, source journal.Source) (pending []journal.Rule) {
	pending = slices.Clone(j.Rules)
	for _, it := range done {
		fs, rss, err := e.dev.Rule(it.loc)
		if err != nil {
			fs, rss = e.stored(it.spec), it.rss
		}
		for i := range j.Rules {
			if r := &j.Rules[i]; r.Location == it.loc {
				r.Confirm(fs, rss)
			}
		}
		x := &installed{loc: it.loc, fs: fs, rss: rss, from: &journal.Rule{Source: source}}
		ri := e.info(x)
		ri.Status = RuleAdded
		res.Rules = append(res.Rules, ri)
	}
	return pending
}

// rollback undoes a failed batch: the rules it inserted are deleted, the
// rules it replaced put back, and its records dropped. It returns cause as
// a Failed error, or RollbackIncomplete naming what is left.
func (e *env) rollback(store journal.Store, j *journal.Journal, todo, done []*item, cause error) error {
	var left []string
	var empty []uint32
	inserted := map[uint32]bool{}
	for _, it := range done {
		inserted[it.loc] = true
	}
	for i := len(todo) - 1; i >= 0; i-- {
		it := todo[i]
		back := true // the location holds what it held before the batch
		if inserted[it.loc] {
			if err := e.dev.Delete(it.loc); err != nil && !isGone(err) {
				left = append(left, fmt.Sprintf("rule at location %d (%s): %v", it.loc, it.words, err))
				continue // its record stays (pending) for down
			}
			if it.replace != nil {
				old := it.replace.fs
				old.Location = it.loc
				if _, err := e.dev.Insert(old, it.replace.rss); err != nil {
					left = append(left, fmt.Sprintf("the rule replaced at location %d could not be put back: %v", it.loc, err))
					back = false
				}
			}
		}
		restoreRecord(j, it.loc, back)
		if it.replace == nil {
			empty = append(empty, it.loc)
		}
	}
	if err := saveJournal(store, j); err != nil {
		left = append(left, "journal: "+err.Error())
	}
	// A claim that stays is of an empty location: harmless, and dropped
	// by the next run of this state directory.
	_ = e.claims.Release(empty)
	if len(left) > 0 {
		return &outcome.RollbackIncomplete{
			Err: fmt.Errorf("%w; removing the rules added before it failed too: %s", cause, strings.Join(left, "; ")),
			Fix: fmt.Sprintf("run 'vfbypass steer clear %s' (or 'vfbypass down %s') to retry, or delete them with 'ethtool -N %s delete LOC'", e.pf, e.pf, e.pf)}
	}
	return outcome.Failed(fmt.Errorf("%w (rolled back: the table of %s is as it was)", cause, e.pf))
}

// restoreRecord rolls back a pending record at loc: the record of the
// rule it replaced stands again when that rule is back (back), else it
// goes.
func restoreRecord(j *journal.Journal, loc uint32, back bool) {
	for i := range j.Rules {
		if r := j.Rules[i]; r.Location == loc && r.State == journal.Pending {
			if prev, ok := r.RollBack(); ok && back {
				j.Rules[i] = prev
				return
			}
			j.Rules = append(j.Rules[:i], j.Rules[i+1:]...)
			return
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no driver"
	}
	return s
}

// ParseLocations reads LOC arguments.
func ParseLocations(args []string) ([]uint32, error) {
	var locs []uint32
	const fix = "give rule locations as numbers, as 'vfbypass steer list' shows them"
	for _, a := range args {
		// Read as up's numbers are (config.ParseInt): decimal, no leading
		// zero, which strtoul reads as octal.
		n, err := config.ParseInt(a)
		switch {
		case errors.Is(err, config.ErrNotWhole) || (err == nil && n < 0):
			return nil, outcome.Invalid(fix, "location %q is not a number", a)
		case err != nil:
			return nil, outcome.Invalid(fix, "location %q %v", a, err)
		}
		locs = append(locs, uint32(n))
	}
	return locs, nil
}

// specialLocRefusal refuses a loc with RX_CLS_LOC_SPECIAL set (ANY, FIRST,
// LAST) on a driver that does not pick locations itself (ixgbe, igb):
// ethtool's rmgr then takes the highest free location whatever the value
// says, so "loc 4294967294" (RX_CLS_LOC_FIRST) would land last, not first.
func specialLocRefusal(what string, loc uint32, pf string) error {
	name := map[uint32]string{flows.RxClsLocAny: "RX_CLS_LOC_ANY", flows.RxClsLocFirst: "RX_CLS_LOC_FIRST", flows.RxClsLocLast: "RX_CLS_LOC_LAST"}[loc]
	if name == "" {
		name = "a special location (RX_CLS_LOC_SPECIAL set)"
	}
	return outcome.Invalid("give a location in the table (0 is the first, the one that wins), or leave loc out for the last free one",
		"%s: loc %d is %s, which the driver of %s does not take: it does not pick locations itself, and ethtool would put the rule at the last free location whatever the value asks", what, loc, name, pf)
}

// portsWithoutProto returns the port word of an ip4/ip6 rule that matches
// ports without saying which L4 protocol's: ethtool stores them in
// l4_4_bytes, so they would compare whatever the packet carries there.
func portsWithoutProto(r flows.Rule) string {
	var protoMask byte
	switch r.Spec.BaseType() {
	case flows.FlowIPv4User:
		protoMask = r.Spec.MU[flows.OffIP4Proto]
	case flows.FlowIPv6User:
		protoMask = r.Spec.MU[flows.OffIP6L4Proto]
	default:
		return ""
	}
	if protoMask != 0 {
		return ""
	}
	for _, w := range r.Words {
		if w == "src-port" || w == "dst-port" {
			return w
		}
	}
	return ""
}
