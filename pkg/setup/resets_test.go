package setup_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/pkg/flows"
	"github.com/vfbypass/vfbypass/pkg/hostsim"
	"github.com/vfbypass/vfbypass/pkg/setup"
)

// operatorRule installs a rule the way the operator's own ethtool -N would.
func (l *lab) operatorRule(words string) {
	l.t.Helper()
	r, err := flows.Parse(strings.Fields(words))
	if err != nil {
		l.t.Fatal(err)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		l.t.Fatal(err)
	}
	defer dev.Close()
	if _, err := dev.Insert(r.Spec, r.RSSContext); err != nil {
		l.t.Fatalf("ethtool -N eth3 %s: %v", words, err)
	}
}

// userTable writes a table of the operator's own (queue 0 four times as
// heavy as the others) and returns it.
func (l *lab) userTable() []uint32 {
	l.t.Helper()
	mine, err := flows.WeightIndir(128, []uint32{4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.h.Ethtool.SetIndir("eth3", mine); err != nil {
		l.t.Fatal(err)
	}
	return mine
}

// Queue mode on an 82599 as it boots (ntuple off, LRO on): the ntuple and
// lro steps reset the PF and ixgbe_setup_reta refills the table before the
// rss-indir step runs, so the operator's table must be read before them;
// down writes it back after its own last reset.
func TestQueueModeKeepsTheUsersTable(t *testing.T) {
	l := newLab(t, hostsim.Options{})
	mine := l.userTable()
	before := l.snap()
	res := l.up(queueReq(15), l.opts())
	if !hasChange(res, "ntuple") || !hasChange(res, "lro") || slices.Contains(l.indir(), 15) {
		t.Fatalf("up: diff %+v, table %v", res.Diff, l.indir())
	}
	l.down()
	if got := l.indir(); !slices.Equal(got, mine) {
		t.Fatalf("table after down: %v, want the operator's %v", got, mine)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after down:\n%s", diff(before, after))
	}
}

// A journal whose original rules are not a rule vfbypass read is refused
// before anything is undone.
func TestForgedOriginalRuleIsRefused(t *testing.T) {
	l := newLab(t, hostsim.Options{Ntuple: true})
	l.operatorRule("flow-type udp4 dst-port 4789 action 1 loc 100")
	l.up(req(1), l.opts())
	l.editJournal(func(s string) string {
		return strings.Replace(s, "dst-port 4789 vlan", "dst-port 53 vlan", 1)
	})
	_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if err == nil || !strings.Contains(err.Error(), "original rule at 100") {
		t.Fatalf("down with a forged original rule: %v", err)
	}
}

// editJournal rewrites eth3's journal through edit, which must change it.
func (l *lab) editJournal(edit func(string) string) {
	l.t.Helper()
	p := filepath.Join(l.state, "eth3.json")
	b, err := os.ReadFile(p)
	if err != nil {
		l.t.Fatal(err)
	}
	s := edit(string(b))
	if s == string(b) {
		l.t.Fatalf("the edit did not change the journal: %s", b)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		l.t.Fatal(err)
	}
}
