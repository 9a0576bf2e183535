package setup_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

const macA, macB = "02:00:00:00:00:0a", "02:00:00:00:00:0b"

// base is the request every in-place change starts from.
func base() setup.Request {
	return req(2, setup.VFRequest{Index: 0, MAC: macA})
}

func rule(vf int, flow string) setup.RuleRequest {
	return setup.RuleRequest{VF: ip(vf), Flow: flow}
}

func (l *lab) up(r setup.Request, o setup.Options) *setup.UpResult {
	l.t.Helper()
	res, err := setup.Up(context.Background(), l.h, r, o)
	if err != nil {
		l.t.Fatalf("up %s: %v", r.Args(), err)
	}
	return res
}

func (l *lab) down() {
	l.t.Helper()
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); err != nil {
		l.t.Fatalf("down: %v", err)
	}
}

// drift is status's drift for eth3.
func (l *lab) drift() []setup.Drift {
	l.t.Helper()
	st, err := inspect.Status(l.h, "eth3", l.state)
	if err != nil || len(st.PFs) != 1 {
		l.t.Fatalf("status: %+v %v", st, err)
	}
	return st.PFs[0].Drift
}

func stepStatus(res *setup.UpResult, id string) string {
	for _, s := range res.Steps {
		if s.ID == id {
			return string(s.Status)
		}
	}
	return ""
}

func fields(c []report.Change) string {
	var out []string
	for _, x := range c {
		out = append(out, fmt.Sprintf("%s:%s->%s", x.Field, x.Before, x.After))
	}
	return strings.Join(out, " ")
}

// TestInPlaceChanges changes one thing at a time, and several at once, on
// a PF that is up: the change is made without touching sriov_numvfs (no PF
// reset), a dry run predicts exactly the real run's diff, a second run
// changes nothing, status shows no drift, and down still restores the
// host as it was before the first up.
func TestInPlaceChanges(t *testing.T) {
	cases := []struct {
		name string
		to   func() setup.Request
		diff string
	}{
		{"mac", func() setup.Request { return req(2, setup.VFRequest{Index: 0, MAC: macB}) }, "vf0.mac:" + macA + "->" + macB},
		{"vlan", func() setup.Request {
			return req(2, setup.VFRequest{Index: 0, MAC: macA, VLAN: ip(100), QoS: 3})
		}, "vf0.vlan:0->100 vf0.qos:0->3"},
		{"trust", func() setup.Request { return req(2, setup.VFRequest{Index: 0, MAC: macA, Trust: bp(true)}) }, "vf0.trust:off->on"},
		{"spoofchk", func() setup.Request {
			return req(2, setup.VFRequest{Index: 0, MAC: macA, Spoofchk: bp(false)})
		}, "vf0.spoofchk:on->off"},
		{"combined", func() setup.Request {
			return req(2, setup.VFRequest{Index: 0, MAC: macB, VLAN: ip(7), Trust: bp(true), Spoofchk: bp(false)})
		}, "vf0.mac:" + macA + "->" + macB + " vf0.vlan:0->7 vf0.trust:off->on vf0.spoofchk:on->off"},
		{"bind another VF", func() setup.Request {
			return req(2, setup.VFRequest{Index: 0, MAC: macA}, setup.VFRequest{Index: 1})
		}, "vf1.driver:ixgbevf->vfio-pci"},
		{"move to the other VF", func() setup.Request {
			return req(2, setup.VFRequest{Index: 1, MAC: macA})
		}, "vf0.driver:vfio-pci->kernel driver vf1.mac:00:00:00:00:00:00->" + macA + " vf1.driver:ixgbevf->vfio-pci"},
		{"leave to the kernel", func() setup.Request {
			r := base()
			r.Driver = "none"
			return r
		}, "vf0.driver:vfio-pci->kernel driver"},
		{"add a rule", func() setup.Request {
			r := base()
			r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
			return r
		}, "rule@2045:->flow-type udp4 dst-port 4789 vf 0 queue 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, hostsim.Options{})
			before := l.snap()
			l.up(base(), l.opts())
			to := c.to()
			dry := l.up(to, setup.Options{StateDir: l.state, DryRun: true})
			if !dry.Changed || fields(dry.Diff) != c.diff {
				t.Fatalf("dry run: changed=%v diff %q; want true, %q", dry.Changed, fields(dry.Diff), c.diff)
			}
			res := l.up(to, l.opts())
			if !res.Changed || fields(res.Diff) != c.diff {
				t.Fatalf("up: changed=%v diff %q; want true, %q", res.Changed, fields(res.Diff), c.diff)
			}
			if st := stepStatus(res, "numvfs"); st != "already" {
				t.Fatalf("numvfs step %q: an in-place change must not reset the PF", st)
			}
			if d := l.drift(); len(d) != 0 {
				t.Fatalf("drift after the change: %v", d)
			}
			if again := l.up(to, l.opts()); again.Changed || len(again.Diff) != 0 {
				t.Fatalf("second up: changed=%v diff %q", again.Changed, fields(again.Diff))
			}
			l.down()
			if after := l.snap(); after != before {
				t.Fatalf("down after the change differs from the host before the first up:\n%s", diff(before, after))
			}
		})
	}
}

// TestConfigRulesComeAndGo: a rule the config drops is deleted, one it adds
// is installed, a rule added with steer stays.
func TestConfigRulesComeAndGo(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	a, b := rule(0, "flow-type udp4 dst-port 4789"), rule(1, "flow-type tcp4 dst-port 80")
	r := base()
	r.Rules = []setup.RuleRequest{a}
	l.up(r, l.opts())
	if _, err := steer.Add(l.h, journal.Store{Dir: l.state}, "eth3", steer.Request{Words: strings.Fields("flow-type udp4 dst-port 53"), VF: ip(0)}, steer.Options{StateDir: l.state}); err != nil {
		t.Fatal(err)
	}
	r.Rules = []setup.RuleRequest{b}
	res := l.up(r, l.opts())
	got := fields(res.Diff)
	if !res.Changed || !strings.Contains(got, "rule@2045:flow-type udp4 dst-port 4789 vf 0 queue 0->") || !strings.Contains(got, "->flow-type tcp4 dst-port 80 vf 1 queue 0") || strings.Contains(got, "53") {
		t.Fatalf("diff %q: want rule 4789 removed, tcp 80 added, the steer rule untouched", got)
	}
	locs := installed(t, l)
	if len(locs) != 2 || !strings.Contains(strings.Join(locs, "|"), "dst-port 53") || !strings.Contains(strings.Join(locs, "|"), "dst-port 80") {
		t.Fatalf("rules after the change: %q", locs)
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift: %v", d)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down differs from the host before:\n%s", diff(before, after))
	}
}

func installed(t *testing.T, l *lab) []string {
	t.Helper()
	res, err := steer.List(l.h, journal.Store{Dir: l.state}, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Rules {
		out = append(out, fmt.Sprintf("%d %s", r.Location, strings.Join(r.Words, " ")))
	}
	return out
}

// TestRecreate: a VF-count change is done with --recreate; the rules added
// with steer come back where their VF still exists, and down restores the
// host as it was before the first up.
func TestRecreate(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	l.up(req(4, setup.VFRequest{Index: 0}), l.opts())
	store := journal.Store{Dir: l.state}
	for _, vf := range []int{0, 3} {
		if _, err := steer.Add(l.h, store, "eth3", steer.Request{Words: strings.Fields(fmt.Sprintf("flow-type udp4 dst-port %d", 4000+vf)), VF: ip(vf)}, steer.Options{StateDir: l.state}); err != nil {
			t.Fatal(err)
		}
	}
	o := l.opts()
	o.Recreate = true
	dry := l.up(req(2), setup.Options{StateDir: l.state, DryRun: true, Recreate: true})
	if !dry.Changed || !strings.Contains(fields(dry.Diff), "numvfs:4->2") {
		t.Fatalf("dry run of --recreate: changed=%v diff %q", dry.Changed, fields(dry.Diff))
	}
	res := l.up(req(2), o)
	if fields(res.Diff) != fields(dry.Diff) || !strings.Contains(fields(res.Diff), "dst-port 4003 vf 3 queue 0->") {
		t.Errorf("diff of --recreate %q; want the dry run's %q, with the rule to VF 3 going", fields(res.Diff), fields(dry.Diff))
	}
	if pf, _ := sriov.LookupPF(l.h.FS, "eth3"); pf.NumVFs != 2 {
		t.Fatalf("%d VFs after --recreate; want 2", pf.NumVFs)
	}
	w := strings.Join(res.Warnings, "\n")
	if !strings.Contains(w, "4003") || !strings.Contains(w, "does not exist with --vfs 2") {
		t.Errorf("warnings do not name the rule to VF 3 that cannot come back:\n%s", w)
	}
	if locs := installed(t, l); len(locs) != 1 || !strings.Contains(locs[0], "dst-port 4000") {
		t.Fatalf("rules after --recreate: %q; want the rule to VF 0 back", locs)
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift: %v", d)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down after --recreate differs from the host before:\n%s", diff(before, after))
	}
}

// TestDriftFieldByField changes things behind vfbypass's back; status names
// each with want/have, and up repairs every one.
func TestDriftFieldByField(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	r := base()
	r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
	l.up(r, l.opts())
	if _, err := steer.Add(l.h, journal.Store{Dir: l.state}, "eth3", steer.Request{Words: strings.Fields("flow-type tcp4 dst-port 22 loc 7"), VF: ip(1)}, steer.Options{StateDir: l.state}); err != nil {
		t.Fatal(err)
	}
	hw, _ := net.ParseMAC(macB)
	if err := l.h.Links.SetVFMAC("eth3", 0, hw); err != nil {
		t.Fatal(err)
	}
	if err := l.h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:04:10.1"); err != nil {
		t.Fatal(err)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []uint32{2045, 7} {
		if err := dev.Delete(loc); err != nil {
			t.Fatal(err)
		}
	}
	dev.Close()
	want := []setup.Drift{
		{Field: "vf0.mac", Want: macA, Have: macB},
		{Field: "vf0.driver", Want: "vfio-pci", Have: "none"},
		{Field: "rule@2045", Want: "flow-type udp4 dst-port 4789 vf 0 queue 0"},
		{Field: "rule@7", Want: "flow-type tcp4 dst-port 22 vf 1 queue 0"},
	}
	if got := l.drift(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drift:\n got %v\nwant %v", got, want)
	}
	res := l.up(r, l.opts())
	if !res.Changed {
		t.Fatal("up did not repair the drift")
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift after up: %v", d)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down differs from the host before:\n%s", diff(before, after))
	}
}

// TestInPlaceFailureRollsBackToThePreviousRun: a change that fails puts the
// previous run's value back (not the original), and down still restores
// the original.
func TestInPlaceFailureRollsBackToThePreviousRun(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	l.up(base(), l.opts())
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "netlink", Match: "eth3/vf0/trust", Errno: 5}); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Up(context.Background(), l.h, req(2, setup.VFRequest{Index: 0, MAC: macB, Trust: bp(true)}), l.opts())
	if !outcome.Is[*outcome.RolledBack](err) {
		t.Fatalf("up with a failing trust write: %v; want exit 1", err)
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift after the rollback: %v; want the previous run's state (mac %s)", d, macA)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down differs from the host before:\n%s", diff(before, after))
	}
}

// TestUpRefusesAJournalNamingForeignDevices: up resumes and plans from the
// journal's records, so it holds them to the same rule as down: a bind
// record whose undo would unbind the management NIC is refused (exit 2)
// before anything is touched, also when it is pending (resume would act
// on it at once).
func TestUpRefusesAJournalNamingForeignDevices(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"applied", "pending"} {
		t.Run(state, func(t *testing.T) {
			l := newLab(t, hostsim.Options{})
			l.up(base(), l.opts())
			editJournal(t, filepath.Join(l.state, "eth3.json"), func(j map[string]any) {
				undoOf(t, j, "vf0-bind")["old"].(map[string]any)["address"] = "0000:00:02.0"
				for _, s := range j["steps"].([]any) {
					if e := s.(map[string]any); e["id"] == "vf0-bind" {
						e["state"] = state
					}
				}
			})
			before := l.snap()
			_, err := setup.Up(context.Background(), l.h, req(2, setup.VFRequest{Index: 1}), l.opts())
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "0000:00:02.0") {
				t.Fatalf("up with a foreign bind record: %v; want exit 2 naming the address", err)
			}
			if l.snap() != before {
				t.Fatal("up changed the host")
			}
		})
	}
}

// TestDownDiff: down's dry run predicts that it changes the host and lists
// the fields it restores; the real down reports the same diff.
func TestDownDiff(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := base()
	r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
	l.up(r, l.opts())
	dry, err := setup.Down(context.Background(), l.h, "eth3", setup.Options{StateDir: l.state, DryRun: true})
	want := "rule@2045:flow-type udp4 dst-port 4789 vf 0 queue 0-> ntuple:on->off vf0.driver:vfio-pci->none numvfs:2->0"
	if err != nil || !dry.Changed || fields(dry.Diff) != want {
		t.Fatalf("down --dry-run: changed=%v diff %q %v; want true, %q", dry.Changed, fields(dry.Diff), err, want)
	}
	res, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if err != nil || !res.Changed || fields(res.Diff) != want {
		t.Fatalf("down: changed=%v diff %q %v", res.Changed, fields(res.Diff), err)
	}
}

// TestStatusLaxStateDirIsNotDrift: a state directory others can write is
// the operator's to fix (chmod 700), not a damaged journal nor drift that
// up would repair.
func TestStatusLaxStateDirIsNotDrift(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	l.up(base(), l.opts())
	if err := os.Chmod(l.state, 0o777); err != nil {
		t.Fatal(err)
	}
	st, err := inspect.Status(l.h, "eth3", l.state)
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(outcome.FixOf(err), "chmod 700") {
		t.Fatalf("status with a 0777 state directory: %v; want exit 2 with the chmod fix", err)
	}
	if len(st.PFs) == 1 && len(st.PFs[0].Drift) > 0 {
		t.Fatalf("drift %v; want none", st.PFs[0].Drift)
	}
}

// TestReplacedRuleIsLeftAloneWithOneWarning: a journaled rule whose
// location another rule now holds is left alone by up, which says so once,
// in the dry run and in the real run alike.
func TestReplacedRuleIsLeftAloneWithOneWarning(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := base()
	r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
	l.up(r, l.opts())
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	other, err := flows.Parse(strings.Fields("flow-type udp4 dst-port 53 action 1 loc 2045"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Delete(2045); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(other.Spec, 0); err != nil {
		t.Fatal(err)
	}
	dev.Close()
	for _, o := range []setup.Options{{StateDir: l.state, DryRun: true}, l.opts()} {
		res, err := setup.Up(context.Background(), l.h, r, o)
		if err != nil {
			t.Fatalf("up (dry run %v): %v", o.DryRun, err)
		}
		if n := strings.Count(strings.Join(res.Warnings, "\n"), "replaced by another rule"); n != 1 {
			t.Fatalf("up (dry run %v): %d warnings about the replaced rule; want 1:\n%s", o.DryRun, n, strings.Join(res.Warnings, "\n"))
		}
	}
}

// TestDryRunDiffIsTheRealRunsDiff runs a config that replaces a rule, one
// that adds one, one that deletes one and one that changes nothing, each
// first with --dry-run: the dry run's diff and rule steps are the real
// run's, every rule the diff adds is installed at the location it names,
// a deleted rule is a delete step, and a no-op plans nothing.
func TestDryRunDiffIsTheRealRunsDiff(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	a, b, c := rule(0, "flow-type udp4 dst-port 4789"), rule(0, "flow-type udp4 dst-port 4790"), rule(1, "flow-type tcp4 dst-port 80")
	r := base()
	r.Rules = []setup.RuleRequest{a}
	l.up(r, l.opts())
	ruleSteps := func(res *setup.UpResult) string {
		var out []string
		for _, s := range res.Steps {
			if strings.HasPrefix(s.ID, "rule-") {
				out = append(out, s.ID+" "+strings.SplitN(s.Action, " ", 2)[0])
			}
		}
		return strings.Join(out, ", ")
	}
	for _, tc := range []struct {
		name  string
		rules []setup.RuleRequest
		want  string // the diff
	}{
		{"replace", []setup.RuleRequest{b}, "rule@2045:flow-type udp4 dst-port 4789 vf 0 queue 0->flow-type udp4 dst-port 4790 vf 0 queue 0"},
		{"add", []setup.RuleRequest{b, c}, "rule@2044:->flow-type tcp4 dst-port 80 vf 1 queue 0"},
		{"delete", []setup.RuleRequest{c}, "rule@2045:flow-type udp4 dst-port 4790 vf 0 queue 0->"},
		{"no-op", []setup.RuleRequest{c}, ""},
	} {
		r.Rules = tc.rules
		o := l.opts()
		o.DryRun = true
		dry := l.up(r, o)
		var progress []string
		o = l.opts()
		o.Progress = func(s string) { progress = append(progress, s) }
		real := l.up(r, o)
		if got := fields(real.Diff); got != tc.want || fields(dry.Diff) != got {
			t.Fatalf("%s: diff %q, dry run's %q; want %q for both", tc.name, got, fields(dry.Diff), tc.want)
		}
		if ruleSteps(dry) != ruleSteps(real) {
			t.Fatalf("%s: rule steps of the dry run %q, of the real run %q", tc.name, ruleSteps(dry), ruleSteps(real))
		}
		for _, s := range real.Steps {
			if s.Status == "undone" && !strings.HasPrefix(s.Action, "delete ntuple rule ") {
				t.Fatalf("%s: a deleted rule's step reads %q", tc.name, s.Action)
			}
		}
		have := strings.Join(installed(t, l), "|")
		for _, ch := range real.Diff {
			if ch.After != "" && !strings.Contains(have, strings.TrimPrefix(ch.Field, "rule@")+" "+strings.Fields(ch.After)[0]) {
				t.Fatalf("%s: the diff adds %s, installed: %q", tc.name, ch.Field, have)
			}
		}
		if tc.want == "" && (real.Changed || dry.Changed || len(progress) != 0) {
			t.Fatalf("no-op: changed %v (dry run %v), planned actions %q", real.Changed, dry.Changed, progress)
		}
	}
	l.down()
}
