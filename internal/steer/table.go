package steer

import (
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// Table carries a PF's rule table, as one read found it (ETHTOOL_GRXCLSRLCNT,
// ETHTOOL_GRXCLSRLALL and ETHTOOL_GRXCLSRULE for each rule), from one steer
// call to the next, so that a run holding the PF's lock reads a table of
// thousands of rules once rather than in every phase. A call given an empty
// Table (Options.Table, Check, Inspect) reads the table into it; given
// a full one it takes the rules from it. A call that inserts or deletes a
// rule empties it; whatever else changes the table (a reset of the PF, a
// rule put in by another path) must empty it too (Forget). The zero Table
// is empty.
type Table struct {
	read    bool
	size    uint32
	special bool
	rules   map[uint32]installed // loc, fs and rss only
}

// Forget empties t: the next call given t reads the table again.
func (t *Table) Forget() {
	if t != nil {
		*t = Table{}
	}
}

// Load reads pf's table into t unless t holds it already.
func (t *Table) Load(h *host.Host, pf string) error {
	if t.read {
		return nil
	}
	dev, err := h.Rules(pf)
	if err != nil {
		return fmt.Errorf("open the rule table of %s: %w", pf, err)
	}
	defer dev.Close()
	if what, err := t.load(dev); err != nil {
		return fmt.Errorf("%s of %s: %w", what, pf, err)
	}
	return nil
}

// Has reports whether t, once loaded, holds a rule at loc.
func (t *Table) Has(loc uint32) bool {
	_, ok := t.rules[loc]
	return ok
}

// load reads dev's table into t unless t holds it already; on an error it
// says what it was doing, and t stays empty.
func (t *Table) load(dev flows.Device) (what string, err error) {
	if t.read {
		return "", nil
	}
	_, special, err := dev.RuleCount()
	if err != nil {
		return "count the rules", err
	}
	locs, size, err := dev.RuleLocations()
	if err != nil {
		return "list the rules", err
	}
	rules := make(map[uint32]installed, len(locs))
	for _, l := range locs {
		fs, rss, err := dev.Rule(l)
		if err != nil {
			return fmt.Sprintf("read rule %d", l), err
		}
		rules[l] = installed{loc: l, fs: fs, rss: rss}
	}
	*t = Table{read: true, size: size, special: special, rules: rules}
	return "", nil
}
