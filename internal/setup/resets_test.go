package setup_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/pkg/flows"
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

// ruleLocs lists the locations of eth3's rules.
func (l *lab) ruleLocs() []uint32 {
	l.t.Helper()
	dev, err := l.h.Rules("eth3")
	if err != nil {
		l.t.Fatal(err)
	}
	defer dev.Close()
	locs, _, err := dev.RuleLocations()
	if err != nil {
		l.t.Fatal(err)
	}
	slices.Sort(locs)
	return locs
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
	t.Parallel()
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

// VF mode on an 82599 with the operator's rules and table: enabling
// SR-IOV resets the PF (ixgbe_sriov_reinit → ixgbe_setup_tc → ixgbe_close
// → ixgbe_fdir_filter_exit), which deletes every rule, and the configure
// refills the table. The plan names the flushed rules and the one the new
// queue layout refuses (queue 9 with 4 queues per pool); up installs the
// other again; down, after numvfs returns to 0, installs both and writes
// the table back: the host is byte for byte as before up.
func TestVFModeKeepsTheOperatorsRules(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Ntuple: true})
	l.operatorRule("flow-type udp4 dst-port 4789 action 1 loc 100")
	l.operatorRule("flow-type udp4 dst-port 4790 action 9 loc 101")
	l.userTable()
	before := l.snap()
	o := l.opts()
	o.DryRun = true
	plan := l.up(req(2), o)
	var flushed []string
	for _, c := range plan.Diff {
		if strings.HasPrefix(c.Field, "rule@") {
			flushed = append(flushed, c.Field+" -> "+c.After)
		}
	}
	if !slices.Equal(flushed, []string{"rule@100 -> installed again after sriov_numvfs flushes it", "rule@101 -> "}) {
		t.Fatalf("plan's rule changes: %q", flushed)
	}
	if w := strings.Join(plan.Warnings, "\n"); !strings.Contains(w, "ntuple rule 101") || !strings.Contains(w, "refuses queue 9") {
		t.Fatalf("plan warnings do not name the refused rule: %s", w)
	}
	if l.snap() != before {
		t.Fatal("dry run changed the host")
	}
	l.up(req(2), l.opts())
	if got := l.ruleLocs(); !slices.Equal(got, []uint32{100}) {
		t.Fatalf("rules after up: %v, want the operator's rule 100 back (101 refused)", got)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("host after down:\n%s", diff(before, after))
	}
}

// A journal whose original rules are not a rule vfbypass read is refused
// before anything is undone.
func TestForgedOriginalRuleIsRefused(t *testing.T) {
	t.Parallel()
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

// Queue mode with the operator's rule: a native XDP attach and detach
// (the close class on ixgbe) take the rule and the hidden table away;
// status shows both as drift, up puts both back, and down leaves the host
// as it was.
func TestQueueModeDriftAfterXDPReset(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Ntuple: true})
	l.operatorRule("flow-type udp4 dst-port 4789 action 2 loc 100")
	before := l.snap()
	l.up(queueReq(15), l.opts())
	if err := hostsim.AttachXDP(l.root, "eth3", hostsim.XDPNative); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.DetachXDP(l.root, "eth3"); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, d := range l.drift() {
		fields = append(fields, d.Field+" want "+d.Want+" have "+d.Have)
	}
	hidden := "0*8 1*9 2*8 3*9 4*8 5*9 6*8 7*9 8*8 9*9 10*8 11*9 12*8 13*9 14*9" // ethtool -X weight 1 x15 0
	want := []string{"rss.indir want " + hidden + " have " + indirDefault16, "rule@100 want flow-type udp4 dst-port 4789 action 2 have "}
	if !slices.Equal(fields, want) {
		t.Fatalf("drift after the XDP reset:\n%q\nwant\n%q", fields, want)
	}
	res := l.up(queueReq(15), l.opts())
	if !hasChange(res, "rss.indir") || !hasChange(res, "rule@100") || len(l.drift()) != 0 {
		t.Fatalf("up after the XDP reset: diff %+v, drift %+v", res.Diff, l.drift())
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("host after down:\n%s", diff(before, after))
	}
}

// An up that fails after enabling SR-IOV rolls back through another
// numvfs reset: the operator's rule and table come back after it, so the
// host is as it was.
func TestRollbackKeepsTheOperatorsRules(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Ntuple: true})
	l.operatorRule("flow-type udp4 dst-port 4789 action 1 loc 100")
	l.userTable()
	before := l.snap()
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "write", Match: "*/driver_override", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Up(context.Background(), l.h, req(2, setup.VFRequest{Index: 0}), l.opts())
	if !outcome.Is[*outcome.RolledBack](err) {
		t.Fatalf("up with a failing bind: %v; want exit 1", err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after the rollback:\n%s", diff(before, after))
	}
}

// Enabling SR-IOV on an 82599 clears RSC (__ixgbe_enable_sriov) until the
// driver probes the PF again: down says that LRO stays off and how to get
// it back.
func TestDownReportsLROLeftOff(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	l.up(req(2), l.opts())
	res, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	w := strings.Join(res.Warnings, "\n")
	if !strings.Contains(w, "LRO (large receive offload) of eth3 was on before up and is off now") || !strings.Contains(w, "__ixgbe_enable_sriov") || !strings.Contains(w, "ethtool -K eth3 lro on") {
		t.Fatalf("down's warnings do not report LRO left off:\n%s", w)
	}
}
