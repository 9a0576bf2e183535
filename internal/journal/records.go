package journal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Source says which command installed a rule.
type Source string

// Rule sources.
const (
	// SourceSteer: the rule was added with `vfbypass steer add`.
	SourceSteer Source = "steer"
	// SourceUp: the rule is one of the config's, installed by `up`.
	SourceUp Source = "up"
)

// check refuses what no vfbypass writes: a null step, one without id or
// kind, two steps with one id, a state other than pending, applied or
// undone, a live step without its undo record; and any rule record
// check refuses, or two rule records for one location. The step records
// themselves are for the package that defines each kind (internal/setup).
func (j *Journal) check() error {
	ids := map[string]bool{}
	for i, e := range j.Steps {
		switch {
		case e == nil:
			return fmt.Errorf("step %d is null", i)
		case e.ID == "" || e.Kind == "":
			return fmt.Errorf("step %d has no id or kind", i)
		case ids[e.ID]:
			return fmt.Errorf("step %s is recorded twice", e.ID)
		case e.State.check(false) != nil:
			return fmt.Errorf("step %s has %v", e.ID, e.State.check(false))
		case e.State.Live() && (len(e.Undo) == 0 || string(e.Undo) == "null"):
			return fmt.Errorf("step %s (%s) has no undo record", e.ID, e.State)
		}
		ids[e.ID] = true
	}
	locs := map[uint32]bool{}
	for i, r := range j.Rules {
		if err := r.check(j.Version); err != nil {
			return fmt.Errorf("rule %d: %v", i, err)
		}
		if locs[r.Location] {
			return fmt.Errorf("rule %d: location %d is recorded twice", i, r.Location)
		}
		locs[r.Location] = true
	}
	return nil
}

// check refuses a rule record no vfbypass writes: a location the kernel's
// __u32 cannot come from ethtool's int-sized table (>= 2^31), a source
// other than steer or up, a state other than pending or applied (an
// undone rule's record is dropped), a spec that is not the hex of one struct
// ethtool_rx_flow_spec, a confirmed spec whose location is not the
// record's, and words that do not parse back to the spec (the words are
// only the spec's display: a record whose words say one rule and whose
// spec another is forged or damaged). Records of versions 1 and 2 may
// lack a spec; such a record matches no rule, so nothing acts on it.
func (r Rule) check(version int) error {
	if r.Location >= 1<<31 {
		return fmt.Errorf("field location: %d is out of range (below 2^31)", r.Location)
	}
	known := r.Source == SourceSteer || r.Source == SourceUp || (r.Source == "" && version < 3)
	if !known {
		return fmt.Errorf("field source (location %d): %q, want %s or %s", r.Location, r.Source, SourceSteer, SourceUp)
	}
	if err := r.State.check(true); err != nil {
		return fmt.Errorf("field state (location %d): %v", r.Location, err)
	}
	if r.Spec == "" && version < 3 {
		return nil
	}
	fs, err := r.FlowSpec()
	if err != nil {
		return err
	}
	if r.State != Pending && fs.Location != r.Location {
		return fmt.Errorf("field spec (location %d): the spec is of location %d", r.Location, fs.Location)
	}
	if err := r.checkWords(fs); err != nil {
		return err
	}
	if p := r.Replaces; p != nil {
		if r.State != Pending || p.Location != r.Location || p.Replaces != nil || p.State != Applied || p.Spec == "" {
			return fmt.Errorf("field replaces (location %d): a record of location %d, %s, replacing another, in a record %s (want an applied record of the same location in a pending one)", r.Location, p.Location, p.State, r.State)
		}
		if err := p.check(version); err != nil {
			return fmt.Errorf("field replaces: %v", err)
		}
	}
	return nil
}

// checkWords refuses words that do not parse back to fs and RSSContext.
func (r Rule) checkWords(fs flows.FlowSpec) error {
	bad := func(why string) error {
		return fmt.Errorf("field words (location %d): %q %s", r.Location, r.Words, why)
	}
	p, err := flows.Parse(strings.Fields(r.Words))
	if err != nil {
		return bad("do not parse: " + err.Error())
	}
	want, err1 := fs.MarshalBinary()
	got, err2 := p.Spec.MarshalBinary()
	if err := errors.Join(err1, err2); err != nil {
		return bad(err.Error())
	}
	if !bytes.Equal(want, got) || p.RSSContext != r.RSSContext {
		return bad(fmt.Sprintf("are not the rule its spec records (%s)", strings.Join(flows.Words(fs, r.RSSContext), " ")))
	}
	return nil
}

// FlowSpec decodes the record's spec.
func (r Rule) FlowSpec() (flows.FlowSpec, error) {
	var fs flows.FlowSpec
	b, err := hex.DecodeString(r.Spec)
	if err != nil {
		return fs, fmt.Errorf("field spec (location %d): not hex: %v", r.Location, err)
	}
	if len(b) != flows.FlowSpecSize {
		return fs, fmt.Errorf("field spec (location %d): %d bytes, want %d (struct ethtool_rx_flow_spec)", r.Location, len(b), flows.FlowSpecSize)
	}
	if err := fs.UnmarshalBinary(b); err != nil {
		return fs, fmt.Errorf("field spec (location %d): %v", r.Location, err)
	}
	return fs, nil
}

// NewRule is the record of the rule fs (with rss context rss) at loc: the
// spec's hex and its words, pending (it is written ahead of the insert)
// and replacing the record replaces (nil: none).
func NewRule(loc uint32, fs flows.FlowSpec, rss uint32, source Source, replaces *Rule) Rule {
	b, _ := fs.MarshalBinary()
	r := Rule{Location: loc, Spec: hex.EncodeToString(b), RSSContext: rss, Source: source, Replaces: replaces}
	r.State.Begin()
	r.display()
	return r
}

// Confirm settles a pending rule record whose insert happened: it becomes
// the record of the rule the kernel reports back (fs, rss), applied, and
// the record it replaced goes.
func (r *Rule) Confirm(fs flows.FlowSpec, rss uint32) {
	*r = NewRule(r.Location, fs, rss, r.Source, nil)
	r.State.Confirm()
}

// RollBack settles a pending rule record whose insert did not happen, as
// a rolled-back step goes back to its earlier record: the record it
// replaces stands again, and ok is false when it replaced none (an undone
// rule's record is dropped).
func (r Rule) RollBack() (prev Rule, ok bool) {
	if r.Replaces == nil {
		return Rule{}, false
	}
	return *r.Replaces, true
}

// display sets Words (and those of the record r replaces) to the display
// of the spec; a record without a readable spec keeps its words.
func (r *Rule) display() {
	if fs, err := r.FlowSpec(); err == nil {
		r.Words = strings.Join(flows.Words(fs, r.RSSContext), " ")
	}
	if r.Replaces != nil {
		r.Replaces.display()
	}
}

// upgrade reads an older version's records as this version's, from b, the
// journal as read: a rule record of versions 1 to 3 is pending when its
// pending flag is set and applied otherwise, and so is the record it
// replaces (which check then refuses when pending, as version 3 did); the
// words of a version 1 or 2 rule record are the rule as given, which may
// differ from its spec's display: they become the display.
func (j *Journal) upgrade(b []byte) error {
	if j.Version >= 4 {
		return nil
	}
	type flag struct {
		Pending bool `json:"pending"`
	}
	var old struct {
		Rules []struct {
			Pending  bool  `json:"pending"`
			Replaces *flag `json:"replaces"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(b, &old); err != nil || len(old.Rules) != len(j.Rules) {
		return fmt.Errorf("version %d rule records: %v", j.Version, err)
	}
	state := func(pending bool) State {
		if pending {
			return Pending
		}
		return Applied
	}
	for i := range j.Rules {
		r := &j.Rules[i]
		r.State = state(old.Rules[i].Pending)
		if r.Replaces != nil && old.Rules[i].Replaces != nil {
			r.Replaces.State = state(old.Rules[i].Replaces.Pending)
		}
		if j.Version >= 3 {
			continue
		}
		if p, err := flows.Parse(strings.Fields(r.Words)); err == nil {
			r.RSSContext = p.RSSContext
		}
		r.display()
	}
	return nil
}
