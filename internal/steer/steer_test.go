package steer_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

type lab struct {
	t     *testing.T
	root  string
	h     *host.Host
	store journal.Store
}

// newLab is a simulated host; with vfs > 0, `up` has enabled that many VFs
// (VF 0 on vfio-pci) and switched ntuple on.
func newLab(t *testing.T, o hostsim.Options, vfs int) *lab {
	t.Helper()
	root, h := simtest.Host(t, o)
	l := &lab{t: t, root: root, h: h, store: journal.Store{Dir: simtest.StateDir(t)}}
	if vfs > 0 {
		if _, err := setup.Up(context.Background(), h, setup.Request{PF: "eth3", NumVFs: vfs}, setup.Options{StateDir: l.store.Dir}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// snap is the host and the journal, byte for byte.
func (l *lab) snap() string {
	l.t.Helper()
	s := simtest.Snapshot(l.t, l.root)
	j, _ := os.ReadFile(l.store.Path("eth3"))
	return s + "\n--journal--\n" + string(j)
}

func (l *lab) opts() steer.Options { return steer.Options{StateDir: l.store.Dir} }

func vf(k int) *int { return &k }

func words(s string) []string { return strings.Fields(s) }

func (l *lab) add(rule string, k *int, q uint32, o steer.Options) (*steer.Result, error) {
	return steer.Add(l.h, l.store, "eth3", steer.Request{Words: words(rule), VF: k, Queue: q}, o)
}

func (l *lab) mustAdd(rule string, k *int, q uint32) *steer.Result {
	l.t.Helper()
	res, err := l.add(rule, k, q, l.opts())
	if err != nil {
		l.t.Fatalf("add %q: %v", rule, err)
	}
	return res
}

func (l *lab) list() []steer.RuleInfo {
	l.t.Helper()
	res, err := steer.List(l.h, l.store, "eth3")
	if err != nil {
		l.t.Fatal(err)
	}
	return res.Rules
}

func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !outcome.Is[*outcome.BadInput](err) {
		t.Fatalf("error %v: outcome %T, want bad input", err, outcome.Of(err))
	}
	if outcome.FixOf(err) == "" {
		t.Errorf("error %v has no fix", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

func TestAddListDelClear(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	res := l.mustAdd("flow-type tcp4 dst-ip 10.0.0.1 dst-port 80", vf(0), 1)
	if !res.Changed || len(res.Rules) != 1 || res.Rules[0].Status != "added" {
		t.Fatalf("add: %+v", res)
	}
	r := res.Rules[0]
	if r.Location != 2045 || r.Target != (steer.Target{VF: 0, Queue: 1}) || r.VFAddress != "0000:04:10.1" || !r.Journaled || r.Spec == "" {
		t.Fatalf("added rule: %+v", r)
	}
	// ethtool's raw forms, shown decoded.
	l.mustAdd("flow-type tcp4 dst-ip 10.0.0.2 dst-port 80 action 4294967296", nil, 0)
	l.mustAdd("flow-type tcp4 dst-ip 10.0.0.3 dst-port 80 vf 1 queue 3", nil, 0)
	l.mustAdd("flow-type tcp4 dst-ip 10.0.0.4 dst-port 80 action -1 loc 7", nil, 0)
	rules := l.list()
	if len(rules) != 4 {
		t.Fatalf("list: %+v", rules)
	}
	want := map[uint32]steer.Target{7: {VF: -1, Drop: true}, 2043: {VF: 1, Queue: 3}, 2044: {VF: 0, Queue: 0}, 2045: {VF: 0, Queue: 1}}
	for _, x := range rules {
		if x.Target != want[x.Location] {
			t.Errorf("rule %d: target %+v, want %+v", x.Location, x.Target, want[x.Location])
		}
		if !x.Journaled || x.Source != "steer" {
			t.Errorf("rule %d not journaled: %+v", x.Location, x)
		}
	}
	js, _ := l.store.Rules("eth3")
	if len(js) != 4 {
		t.Fatalf("journal has %d rules", len(js))
	}
	// A rule vfbypass did not add (ethtool by hand).
	dev, _ := l.h.Rules("eth3")
	spec := mustParse(t, "flow-type tcp4 dst-ip 10.9.9.9 dst-port 80 action 0 loc 100")
	if _, err := dev.Insert(spec, 0); err != nil {
		t.Fatal(err)
	}
	if res, err := steer.Del(l.h, l.store, "eth3", []uint32{7, 2044}, l.opts()); err != nil || !res.Changed || len(res.Rules) != 2 {
		t.Fatalf("del: %+v %v", res, err)
	}
	if js, _ := l.store.Rules("eth3"); len(js) != 2 {
		t.Fatalf("journal after del: %+v", js)
	}
	_, err := steer.Del(l.h, l.store, "eth3", []uint32{7}, l.opts())
	wantInvalid(t, err, "no rule at location 7")
	_, err = steer.Del(l.h, l.store, "eth3", []uint32{5000}, l.opts())
	wantInvalid(t, err, "beyond")
	if res, err := steer.Clear(l.h, l.store, "eth3", false, l.opts()); err != nil || len(res.Rules) != 2 {
		t.Fatalf("clear: %+v %v", res, err)
	}
	if rules := l.list(); len(rules) != 1 || rules[0].Location != 100 || rules[0].Journaled {
		t.Fatalf("clear must leave the rule vfbypass did not add: %+v", rules)
	}
	if res, err := steer.Clear(l.h, l.store, "eth3", true, l.opts()); err != nil || !res.Changed || len(l.list()) != 0 {
		t.Fatalf("clear --all: %+v %v", res, err)
	}
	// The journal holds up's steps still.
	if j, _ := l.store.Load("eth3"); j == nil || len(j.Steps) == 0 || len(j.Rules) != 0 {
		t.Fatalf("journal after clear: %+v", j)
	}
}

func mustParse(t *testing.T, s string) flows.FlowSpec {
	t.Helper()
	r, err := flows.Parse(words(s))
	if err != nil {
		t.Fatal(err)
	}
	return r.Spec
}

func TestDuplicateIsANoOp(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type udp4 dst-port 4789", vf(1), 0)
	before := l.snap()
	for _, rule := range []string{"flow-type udp4 dst-port 4789 vf 1 queue 0", "flow-type udp4 dst-port 4789 action 8589934592"} {
		res, err := l.add(rule, nil, 0, l.opts())
		if err != nil || res.Changed || len(res.Rules) != 1 || res.Rules[0].Status != "exists" {
			t.Fatalf("duplicate %q: %+v %v", rule, res, err)
		}
	}
	res, err := l.add("flow-type udp4 dst-port 4789", vf(1), 0, l.opts())
	if err != nil || res.Changed {
		t.Fatalf("duplicate with --vf: %+v %v", res, err)
	}
	if l.snap() != before {
		t.Fatal("a duplicate changed the host or the journal")
	}
	// Same match, other target: refused unless --force.
	_, err = l.add("flow-type udp4 dst-port 4789", vf(0), 0, l.opts())
	wantInvalid(t, err, "already matches", "VF 1 queue 0")
}

// Every precheck: exit 2, the offending value named, a fix, nothing changed.
func TestPrechecksChangeNothing(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type tcp4 dst-port 80", vf(0), 0)
	cases := []struct {
		name string
		rule string
		vf   *int
		q    uint32
		want []string
	}{
		{"syntax", "flow-type tcp4 dst-port eighty", vf(0), 0, []string{"eighty"}},
		{"no target", "flow-type tcp4 dst-port 81", nil, 0, []string{"no target"}},
		{"action and --vf", "flow-type tcp4 dst-port 81 action 0", vf(0), 0, []string{"--vf"}},
		{"VF out of range", "flow-type tcp4 dst-port 81", vf(2), 0, []string{"VF 2", "2 VFs"}},
		{"queue out of range", "flow-type tcp4 dst-port 81", vf(1), 4, []string{"queue 4", "4 queues"}},
		{"raw vf out of range", "flow-type tcp4 dst-port 81 vf 5 queue 0", nil, 0, []string{"VF 5"}},
		{"PF queue out of range", "flow-type tcp4 dst-port 81 action 9", nil, 0, []string{"PF queue 9"}},
		{"mask differs", "flow-type tcp4 src-ip 10.0.0.1 dst-port 81", vf(0), 0, []string{"one field mask", "src-ip"}},
		{"ip4 after tcp4", "flow-type ip4 l4data 0x50 m 0xffff0000", vf(0), 0, []string{"flow-type mask"}},
		{"tos", "flow-type tcp4 dst-port 81 tos 0x10", vf(0), 0, []string{"tos"}},
		{"IPv6", "flow-type tcp6 dst-port 81", vf(0), 0, []string{"tcp6", "IPv4"}},
		{"ether", "flow-type ether proto 0x0800", vf(0), 0, []string{"ether"}},
		{"ip4 ports without l4proto", "flow-type ip4 dst-port 81", vf(0), 0, []string{"dst-port", "l4proto", "ip4"}},
		{"ip6 ports without l4proto", "flow-type ip6 src-port 81", vf(0), 0, []string{"src-port", "l4proto", "ip6"}},
		{"flag after the rule", "flow-type tcp4 dst-port 81 --vf 0", nil, 0, []string{"--vf", "flags before the rule"}},
		{"loc beyond the table", "flow-type tcp4 dst-port 81 loc 2046", vf(0), 0, []string{"loc 2046", "2046 locations"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := l.snap()
			_, err := l.add(c.rule, c.vf, c.q, l.opts())
			wantInvalid(t, err, c.want...)
			if l.snap() != before {
				t.Fatal("a refused rule changed something")
			}
		})
	}
}

func TestMaskConflictNamesTheFields(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type tcp4 dst-ip 10.0.0.1 dst-port 80", vf(0), 0)
	_, err := l.add("flow-type tcp4 src-ip 192.168.0.0 m 0.0.0.255 dst-port 80", vf(0), 0, l.opts())
	wantInvalid(t, err, "src-ip", "dst-ip", "dst-ip 10.0.0.1 dst-port 80")
	// Within one batch too.
	_, err = steer.AddMany(l.h, l.store, "eth3", []steer.Request{
		{Words: words("flow-type tcp4 dst-ip 10.0.0.2 dst-port 80"), VF: vf(1)},
		{Words: words("flow-type udp4 dst-ip 10.0.0.2"), VF: vf(1)},
	}, l.opts())
	wantInvalid(t, err, "rule 2", "dst-port")
	if n := len(l.list()); n != 1 {
		t.Fatalf("a refused batch installed rules: %d", n)
	}
}

func TestNtupleOffAndNoNtuple(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 0)
	_, err := l.add("flow-type tcp4 dst-port 80 action 0", nil, 0, l.opts())
	wantInvalid(t, err, "ntuple filters off")
	if !strings.Contains(outcome.FixOf(err), "vfbypass up eth3") || !strings.Contains(outcome.FixOf(err), "ethtool -K eth3 ntuple on") {
		t.Errorf("fix %q", outcome.FixOf(err))
	}
	igb := newLab(t, hostsim.Options{Model: "82576"}, 2)
	for name, f := range map[string]func() error{
		"add":  func() error { _, err := igb.add("flow-type tcp4 dst-port 80", vf(0), 0, igb.opts()); return err },
		"list": func() error { _, err := steer.List(igb.h, igb.store, "eth3"); return err },
	} {
		wantInvalid(t, f(), "eth3 cannot steer flows: the device has no ntuple (flow director) filters")
		_ = name
	}
	// The management NIC (virtio-net) has no rule table at all.
	_, err = steer.List(l.h, l.store, "eth0")
	wantInvalid(t, err, "no ntuple")
	_, err = steer.List(l.h, l.store, "eth9")
	wantInvalid(t, err, "no such network interface")
}

func TestTableFull(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	if err := hostsim.SetRuleTableSize(l.root, 3); err != nil {
		t.Fatal(err)
	}
	var reqs []steer.Request
	for p := 1; p <= 3; p++ {
		reqs = append(reqs, steer.Request{Words: words(fmt.Sprintf("flow-type tcp4 dst-port %d", p)), VF: vf(0)})
	}
	res, err := steer.AddMany(l.h, l.store, "eth3", reqs, l.opts())
	if err != nil || len(res.Rules) != 3 {
		t.Fatal(res, err)
	}
	_, err = l.add("flow-type tcp4 dst-port 4", vf(0), 0, l.opts())
	wantInvalid(t, err, "table is full", "3 of 3")
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type tcp4 dst-port 80", vf(0), 0)
	before := l.snap()
	o := l.opts()
	o.DryRun = true
	res, err := l.add("flow-type tcp4 dst-port 81", vf(1), 2, o)
	if err != nil || res.Changed || len(res.Rules) != 1 || res.Rules[0].Status != "would-add" || res.Rules[0].Location != 2044 {
		t.Fatalf("dry-run add: %+v %v", res, err)
	}
	if res, err := steer.Del(l.h, l.store, "eth3", []uint32{2045}, o); err != nil || res.Changed || res.Rules[0].Status != "would-delete" {
		t.Fatalf("dry-run del: %+v %v", res, err)
	}
	if res, err := steer.Clear(l.h, l.store, "eth3", true, o); err != nil || res.Changed {
		t.Fatalf("dry-run clear: %+v %v", res, err)
	}
	if l.snap() != before {
		t.Fatal("dry run changed the host or the journal")
	}
}

// An insert that fails leaves no rule and no journal record (exit 1); in a
// batch, the rules inserted before it are removed again.
func TestInsertFaultRollsBack(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	before := l.snap()
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Errno: unix.EIO, After: 2}); err != nil {
		t.Fatal(err)
	}
	var reqs []steer.Request
	for p := 1; p <= 4; p++ {
		reqs = append(reqs, steer.Request{Words: words(fmt.Sprintf("flow-type tcp4 dst-port %d", p)), VF: vf(0)})
	}
	_, err := steer.AddMany(l.h, l.store, "eth3", reqs, l.opts())
	if !outcome.Is[*outcome.RolledBack](err) || !errors.Is(err, unix.EIO) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("insert fault: outcome %T %v", outcome.Of(err), err)
	}
	if l.snap() != before {
		t.Fatal("a failed batch left rules or records behind")
	}
}

// down removes the rules steer added, also when the journal holds only
// rules.
func TestDownRemovesSteeredRules(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 0)
	before := l.snap()
	if _, err := setup.Up(context.Background(), l.h, setup.Request{PF: "eth3", NumVFs: 2}, setup.Options{StateDir: l.store.Dir}); err != nil {
		t.Fatal(err)
	}
	l.mustAdd("flow-type tcp4 dst-port 80", vf(0), 0)
	l.mustAdd("flow-type tcp4 dst-port 443 action 4294967296", nil, 0)
	if _, err := setup.Down(context.Background(), l.h, "eth3", setup.Options{StateDir: l.store.Dir}); err != nil {
		t.Fatal(err)
	}
	if l.snap() != before {
		t.Fatal("up + steer + down did not restore the host")
	}

	// Rules only: ntuple switched on by hand, no up.
	if err := l.h.Ethtool.SetFeature("eth3", host.NtupleFeature, true); err != nil {
		t.Fatal(err)
	}
	mid := l.snap()
	l.mustAdd("flow-type udp4 dst-port 53 action 3", nil, 0)
	if j, _ := l.store.Load("eth3"); j == nil || len(j.Steps) != 0 || len(j.Rules) != 1 {
		t.Fatalf("rules-only journal: %+v", j)
	}
	if res, err := setup.Down(context.Background(), l.h, "eth3", setup.Options{StateDir: l.store.Dir}); err != nil || !res.Changed {
		t.Fatalf("down with a rules-only journal: %+v %v", res, err)
	}
	if l.snap() != mid {
		t.Fatal("down left the rule or the journal")
	}
}

// up --config's rules: checked before anything changes, installed as the
// last step, journaled with source "up", idempotent, removed by down.
func TestUpInstallsConfigRules(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 0)
	before := l.snap()
	req := setup.Request{PF: "eth3", NumVFs: 2, Rules: []setup.RuleRequest{
		{VF: vf(0), Flow: "flow-type tcp4 dst-ip 10.0.0.1 dst-port 80"},
		{Flow: "flow-type tcp4 dst-ip 10.0.0.2 dst-port 80 vf 1 queue 1"},
	}}
	o := setup.Options{StateDir: l.store.Dir}

	bad := req
	bad.Rules = append([]setup.RuleRequest{}, req.Rules...)
	bad.Rules[1].Flow = "flow-type tcp6 dst-port 80 vf 1 queue 1"
	_, err := setup.Up(context.Background(), l.h, bad, o)
	wantInvalid(t, err, "tcp6")
	bad.Rules[1] = setup.RuleRequest{VF: vf(1), Queue: 4, Flow: "flow-type tcp4 dst-ip 10.0.0.2 dst-port 80"}
	_, err = setup.Up(context.Background(), l.h, bad, o)
	wantInvalid(t, err, "queue 4")
	if l.snap() != before {
		t.Fatal("a refused config changed something")
	}

	dry := o
	dry.DryRun = true
	if res, err := setup.Up(context.Background(), l.h, req, dry); err != nil || res.Steps[len(res.Steps)-1].Status != "would-apply" || l.snap() != before {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	res, err := setup.Up(context.Background(), l.h, req, o)
	if err != nil || !res.Changed {
		t.Fatalf("up with rules: %+v %v", res, err)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Status != "applied" || !strings.Contains(last.Action, "VF 1 (0000:04:10.3) queue 1") {
		t.Fatalf("last step: %+v", last)
	}
	rules := l.list()
	if len(rules) != 2 || !rules[0].Journaled || rules[0].Source != "up" {
		t.Fatalf("rules after up: %+v", rules)
	}
	res, err = setup.Up(context.Background(), l.h, req, o)
	if err != nil || res.Changed {
		t.Fatalf("second up: changed %v %v", res.Changed, err)
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", o); err != nil {
		t.Fatal(err)
	}
	if l.snap() != before {
		t.Fatal("up with rules + down did not restore the host")
	}
}

// A failing rule insert during up rolls the whole up back.
func TestUpRuleFaultRollsBack(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 0)
	before := l.snap()
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	req := setup.Request{PF: "eth3", NumVFs: 2, Rules: []setup.RuleRequest{{VF: vf(0), Flow: "flow-type tcp4 dst-port 80"}}}
	_, err := setup.Up(context.Background(), l.h, req, setup.Options{StateDir: l.store.Dir})
	if !outcome.Is[*outcome.RolledBack](err) || !errors.Is(err, unix.EIO) {
		t.Fatalf("up with a failing insert: outcome %T %v", outcome.Of(err), err)
	}
	if l.snap() != before {
		t.Fatal("up was not rolled back")
	}
}

// A delete the kernel refuses half-way through a clear puts back the rules
// already deleted: exit 1 leaves the table and the journal as they were.
func TestDeleteFaultPutsRulesBack(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	for p := 1; p <= 3; p++ {
		l.mustAdd(fmt.Sprintf("flow-type tcp4 dst-port %d", p), vf(0), 0)
	}
	before := l.snap()
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/delete", Errno: unix.EIO, After: 2}); err != nil {
		t.Fatal(err)
	}
	res, err := steer.Clear(l.h, l.store, "eth3", false, l.opts())
	if !outcome.Is[*outcome.RolledBack](err) || !errors.Is(err, unix.EIO) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("delete fault: outcome %T %v", outcome.Of(err), err)
	}
	if res.Changed || len(res.Rules) != 0 {
		t.Fatalf("a rolled-back clear reports changes: %+v", res)
	}
	if after := l.snap(); after != before {
		t.Fatalf("a failed clear left the table or the journal changed:\n%s\n----\n%s", before, after)
	}
}

// ixgbe files an ip4 rule by its l4proto value, whatever its mask
// (ixgbe_flowspec_to_flow_type): `l4proto 6 m 0xff` is a TCP rule, whose
// flow-type mask differs from a plain ip4 rule's. The precheck says so
// (exit 2) instead of letting the insert fail with EINVAL.
func TestIP4RuleFiledByProtoValue(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type ip4 dst-ip 1.2.3.4 action 0", nil, 0)
	before := l.snap()
	_, err := l.add("flow-type ip4 l4proto 6 m 0xff dst-ip 1.2.3.5 action 0", nil, 0, l.opts())
	wantInvalid(t, err, "one field mask", "flow-type mask", "ip4, any L4 type")
	// context is named as what it is.
	_, err = l.add("flow-type ip4 dst-ip 1.2.3.6 context 1 action 0", nil, 0, l.opts())
	wantInvalid(t, err, "context", "RSS context")
	if strings.Contains(err.Error(), "flow-type") {
		t.Errorf("context reported as a flow-type problem: %v", err)
	}
	if l.snap() != before {
		t.Fatal("a refused rule changed something")
	}
}

// A journal written before rules were journaled in the driver's masked
// form holds the requested bytes (dst-ip 10.0.0.7 m 0.0.0.255, where the
// kernel keeps 10.0.0.0): list, clear and down still recognise the rule
// as vfbypass's, comparing in the masked form.
func TestRequestedFormRecordIsStillOurs(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"list", "down"} {
		t.Run(via, func(t *testing.T) {
			l := newLab(t, hostsim.Options{}, 2)
			l.mustAdd("flow-type tcp4 dst-ip 10.0.0.7 m 0.0.0.255 dst-port 80", vf(0), 0)
			j, err := l.store.Load("eth3")
			if err != nil || j == nil || len(j.Rules) != 1 {
				t.Fatalf("journal: %+v %v", j, err)
			}
			req := mustParse(t, "flow-type tcp4 dst-ip 10.0.0.7 m 0.0.0.255 dst-port 80")
			req.RingCookie, req.Location = flows.Cookie(0, 0), j.Rules[0].Location
			b, err := req.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			j.Rules[0].Spec = hex.EncodeToString(b)
			if err := l.store.Save(j); err != nil {
				t.Fatal(err)
			}
			switch via {
			case "list":
				if rs := l.list(); len(rs) != 1 || !rs[0].Journaled {
					t.Fatalf("list: %+v", rs)
				}
				res, err := steer.Clear(l.h, l.store, "eth3", false, l.opts())
				if err != nil || len(l.list()) != 0 || len(res.Warnings) != 0 {
					t.Fatalf("clear: %+v %v", res, err)
				}
			case "down":
				if _, err := setup.Down(context.Background(), l.h, "eth3", setup.Options{StateDir: l.store.Dir}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// The write-ahead record of a masked rule is already in the form the
// driver keeps: the confirmation changes nothing in it.
func TestWriteAheadRecordIsTheStoredForm(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/get", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	// The read-back fails: the record keeps the write-ahead form.
	l.mustAdd("flow-type tcp4 dst-ip 10.0.0.7 m 0.0.0.255 dst-port 80", vf(0), 0)
	j, err := l.store.Load("eth3")
	if err != nil || j == nil || len(j.Rules) != 1 {
		t.Fatalf("journal: %+v %v", j, err)
	}
	if err := hostsim.ClearFaults(l.root); err != nil {
		t.Fatal(err)
	}
	rs := l.list()
	if len(rs) != 1 || !rs[0].Journaled || rs[0].Spec != j.Rules[0].Spec {
		t.Fatalf("record %s\nkernel %+v", j.Rules[0].Spec, rs)
	}
}

// A record saved pending before an insert that never happened, at a
// location holding someone else's rule (a --force replacement killed
// before its insert): the rule is not vfbypass's, down leaves it and
// forgets the record, and the next steer command settles the record away.
// The same record confirmed is someone else's rule replacing ours: down
// leaves it and says so.
func TestPendingRecordOverAForeignRule(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	foreign := mustParse(t, "flow-type tcp4 dst-port 81 action 1 loc 7")
	if _, err := dev.Insert(foreign, 0); err != nil {
		t.Fatal(err)
	}
	ours := mustParse(t, "flow-type tcp4 dst-port 82 vf 0 queue 0 loc 7")
	b, err := ours.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rec := journal.Rule{Location: 7, Words: "flow-type tcp4 dst-port 82 vf 0 queue 0 loc 7", Spec: hex.EncodeToString(b), Source: "steer", State: journal.Pending}
	deleted, err := removeRecorded(l.h, l.store, rec)
	if err != nil || deleted {
		t.Fatalf("pending record over a foreign rule: deleted %v, %v", deleted, err)
	}
	rec.State = journal.Applied
	if _, err := removeRecorded(l.h, l.store, rec); !errors.Is(err, steer.ErrNotOurs) {
		t.Fatalf("confirmed record over a foreign rule: %v, want ErrNotOurs", err)
	}
	rec.State = journal.Pending
	j, err := l.store.Load("eth3")
	if err != nil || j == nil {
		t.Fatalf("journal: %v", err)
	}
	j.Rules = append(j.Rules, rec)
	if err := l.store.Save(j); err != nil {
		t.Fatal(err)
	}
	if _, err := l.add("flow-type tcp4 dst-port 83", vf(0), 0, l.opts()); err != nil {
		t.Fatal(err)
	}
	j, err = l.store.Load("eth3")
	if err != nil || len(j.Rules) != 1 || j.Rules[0].Location == 7 || j.Rules[0].State != journal.Applied {
		t.Fatalf("after settling: %+v %v", j.Rules, err)
	}
	if rs := l.list(); len(rs) != 2 {
		t.Fatalf("the foreign rule and the new one: %+v", rs)
	}
}

// A replacement whose insert never happened leaves its record pending with
// the replaced rule's record in replaces: the next steer command puts the
// old record back (the location holds the old rule), and the rule is
// still vfbypass's.
func TestPendingReplacementSettlesBack(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{}, 2)
	l.mustAdd("flow-type tcp4 dst-port 81 loc 5", vf(1), 0)
	j, err := l.store.Load("eth3")
	if err != nil || j == nil || len(j.Rules) != 1 {
		t.Fatalf("journal: %+v %v", j, err)
	}
	old := j.Rules[0]
	repl := mustParse(t, "flow-type tcp4 dst-port 82 vf 0 queue 0 loc 5")
	b, err := repl.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	j.Rules[0] = journal.Rule{Location: 5, Words: "flow-type tcp4 dst-port 82 vf 0 queue 0 loc 5", Spec: hex.EncodeToString(b), Source: "steer", State: journal.Pending, Replaces: &old}
	if err := l.store.Save(j); err != nil {
		t.Fatal(err)
	}
	if rs := l.list(); len(rs) != 1 || !rs[0].Journaled {
		t.Fatalf("list: %+v", rs)
	}
	if _, err := l.add("flow-type tcp4 dst-port 83", vf(0), 0, l.opts()); err != nil {
		t.Fatal(err)
	}
	j, err = l.store.Load("eth3")
	if err != nil || len(j.Rules) != 2 || j.Rules[0] != old {
		t.Fatalf("after settling: %+v %v; want the old record back first", j.Rules, err)
	}
}

// removeRecorded removes one journaled rule from eth3 as down does.
func removeRecorded(h *host.Host, store journal.Store, r journal.Rule) (bool, error) {
	rm, err := steer.RemoveRecords(h, store, "eth3", []journal.Rule{r})
	if err != nil {
		return false, err
	}
	return rm[0].Deleted, rm[0].Err
}
