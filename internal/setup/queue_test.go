package setup_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// indirDefault16 is i % 16 over 128 entries in status's words.
var indirDefault16 = strings.TrimSpace(strings.Repeat("0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 ", 8))

func queueReq(q int) setup.Request {
	return setup.Request{PF: "eth3", Mode: setup.ModeQueue, Queue: q}
}

func (l *lab) indir() []uint32 {
	l.t.Helper()
	t, err := l.h.Ethtool.Indir("eth3")
	if err != nil {
		l.t.Fatal(err)
	}
	return t
}

func hasChange(res *setup.UpResult, field string) bool {
	for _, c := range res.Diff {
		if c.Field == field {
			return true
		}
	}
	return false
}

// up --mode queue on the simulated 82599: ntuple on, LRO off, the table
// over queues 0-14 only (ethtool -X weight 1 x15 0); a second up changes
// nothing; a table put back by someone is drift in rss.indir that up
// repairs; down leaves the host byte for byte as it was.
func TestQueueModeRoundTripIxgbe(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	res := l.up(queueReq(15), l.opts())
	if !res.Changed || !hasChange(res, "rss.indir") || !hasChange(res, "lro") || !hasChange(res, "ntuple") {
		t.Fatalf("up: changed %v, diff %+v", res.Changed, res.Diff)
	}
	want, err := flows.WeightIndir(128, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.indir(); !slices.Equal(got, want) {
		t.Fatalf("table after up: %v", got)
	}
	if on, _, _ := l.h.Ethtool.Feature("eth3", host.LROFeature); on {
		t.Error("LRO still on")
	}
	if res := l.up(queueReq(15), l.opts()); res.Changed || len(res.Diff) != 0 {
		t.Errorf("second up: changed %v, diff %+v", res.Changed, res.Diff)
	}
	if d := l.drift(); len(d) != 0 {
		t.Errorf("drift right after up: %+v", d)
	}
	// Someone resets the table (ethtool -X eth3 default).
	if err := l.h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	d := l.drift()
	if len(d) != 1 || d[0].Field != "rss.indir" || !strings.HasPrefix(d[0].Have, "0 1 2 3") || !strings.HasPrefix(d[0].Want, "0*8 1*9") {
		t.Fatalf("drift after a reset: %+v", d)
	}
	if res := l.up(queueReq(15), l.opts()); !res.Changed || !slices.Equal(l.indir(), want) {
		t.Fatalf("up did not repair the table: %+v", res.Diff)
	}
	dry := l.opts()
	dry.DryRun = true
	dr, err := setup.Down(context.Background(), l.h, "eth3", dry)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range dr.Diff {
		got[c.Field] = c.After
	}
	if got["rss.indir"] != indirDefault16 || got["lro"] != "on" || got["ntuple"] != "off" {
		t.Errorf("down --dry-run diff %+v", dr.Diff)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down did not restore the host:\n%s", diff(before, after))
	}
	if l.journalExists() {
		t.Error("journal left after down")
	}
}

// A table someone had configured is written back exactly, not reset.
func TestQueueModeRestoresAConfiguredTable(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Ntuple: true})
	mine, err := flows.WeightIndir(128, []uint32{4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.h.Ethtool.SetFeature("eth3", host.LROFeature, false); err != nil {
		t.Fatal(err)
	}
	if err := l.h.Ethtool.SetIndir("eth3", mine); err != nil {
		t.Fatal(err)
	}
	before := l.snap()
	res := l.up(queueReq(0), l.opts())
	if hasChange(res, "lro") || hasChange(res, "ntuple") || slices.Contains(l.indir(), 0) {
		t.Fatalf("up: diff %+v, table %v", res.Diff, l.indir())
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("down did not restore the configured table:\n%s", diff(before, after))
	}
}

// The lab's guest: igb on 2 vCPUs (2 of 8 channels, no ntuple, no LRO).
// up --mode queue --queue 1 writes weight 1 0 (every entry queue 0) and
// warns that nothing can be steered; down writes igb's own layout back
// byte for byte (it is not the kernel's i % 2 default, so it is restored
// exactly, which leaves the kernel's configured flag set).
func TestQueueModeIgbLab(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Model: "82576", CPUs: 2})
	orig := l.indir()
	res := l.up(queueReq(1), l.opts())
	if got := l.indir(); !slices.Equal(got, make([]uint32, 128)) {
		t.Fatalf("igb table after up: %v", got)
	}
	if hasChange(res, "lro") || hasChange(res, "ntuple") {
		t.Errorf("igb diff %+v: it has neither LRO nor ntuple", res.Diff)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "cannot steer flows into queue 1") }) {
		t.Errorf("no warning about steering: %v", res.Warnings)
	}
	l.down()
	if got := l.indir(); !slices.Equal(got, orig) {
		t.Errorf("igb table after down: %v, want %v", got, orig)
	}
}

// Refusals, each exit 2 with nothing changed.
func TestQueueModeRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		o    hostsim.Options
		vfs  int
		r    setup.Request
		want string
	}{
		{"queue outside the channels", hostsim.Options{}, 0, queueReq(16), "--queue 16: eth3 has 16 RX queues"},
		{"one queue", hostsim.Options{Model: "82576", CPUs: 1}, 0, queueReq(0), "eth3 has 1 RX queue: hiding it would leave the kernel none"},
		{"no table", hostsim.Options{}, 0, setup.Request{PF: "eth0", Mode: setup.ModeQueue}, "eth0 (driver virtio-pci) has no RSS indirection table"},
		{"VFs with native XDP", hostsim.Options{}, 2, queueReq(1), "ixgbe_xdp_setup refuses a native XDP program while SR-IOV is on"},
		{"VFs with generic XDP: still up in vf mode", hostsim.Options{}, 2, setup.Request{PF: "eth3", Mode: setup.ModeQueue, Queue: 1, XDPMode: setup.XDPGeneric}, "eth3 is up in vf mode"},
		{"VFs asked for", hostsim.Options{}, 0, setup.Request{PF: "eth3", Mode: setup.ModeQueue, NumVFs: 2}, "--mode queue takes no VFs"},
		{"unknown XDP mode", hostsim.Options{}, 0, setup.Request{PF: "eth3", Mode: setup.ModeQueue, XDPMode: "fast"}, `--xdp-mode "fast"`},
		{"queue without queue mode", hostsim.Options{}, 0, setup.Request{PF: "eth3", NumVFs: 1, Queue: 3}, "belong to --mode queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t, c.o)
			if c.vfs > 0 {
				l.up(req(c.vfs), l.opts())
			}
			before := l.snap()
			_, err := setup.Up(context.Background(), l.h, c.r, l.opts())
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("up: %v (outcome %T); want exit 2 saying %q", err, outcome.Of(err), c.want)
			}
			if l.snap() != before {
				t.Error("a refused up changed the host")
			}
		})
	}
}

// An EIO at each ethtool call of up --mode queue in turn (the Nth call of
// ntuple, LRO and the table): a run either fails with exit 1 and leaves the
// host as it was, or (the error met a read whose failure is not needed)
// brings queue 3 out of RSS.
func TestQueueModeFailureRollsBack(t *testing.T) {
	t.Parallel()
	for _, match := range []string{"eth3/rx-ntuple-filter", "eth3/rx-lro", "eth3/indir"} {
		t.Run(match, func(t *testing.T) {
			failed := 0
			for after := 0; after < 10; after++ {
				l := newLab(t, hostsim.Options{})
				before := l.snap()
				if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "ethtool", Match: match, After: after, Errno: unix.EIO}); err != nil {
					t.Fatal(err)
				}
				_, err := setup.Up(context.Background(), l.h, queueReq(3), l.opts())
				if cerr := hostsim.ClearFaults(l.root); cerr != nil {
					t.Fatal(cerr)
				}
				if err == nil {
					if slices.Contains(l.indir(), 3) {
						t.Fatalf("EIO at call %d: up succeeded but queue 3 is still in RSS", after+1)
					}
					continue
				}
				failed++
				if o := outcome.Of(err); (o != nil && !outcome.Is[*outcome.RolledBack](err)) || !errors.Is(err, unix.EIO) {
					t.Fatalf("EIO at call %d: %v (outcome %T); want a failure with the host as it was, wrapping EIO", after+1, err, o)
				}
				if now := l.snap(); now != before {
					t.Fatalf("EIO at call %d: the host was not restored:\n%s", after+1, diff(before, now))
				}
				if l.journalExists() {
					t.Fatalf("EIO at call %d: journal left", after+1)
				}
			}
			if failed < 2 {
				t.Errorf("only %d calls failed the run", failed)
			}
		})
	}
}

// The receive path attaches a native XDP program: ixgbe resets and refills
// its table, which status shows as drift in rss.indir and up repairs;
// down refuses to call LRO restored while the program keeps it off, and
// finishes once the program is gone, leaving the host as it was.
func TestQueueModeAfterXDPAttach(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	l.up(queueReq(15), l.opts())
	if err := hostsim.AttachXDP(l.root, "eth3", hostsim.XDPNative); err != nil {
		t.Fatalf("native XDP after up --mode queue (LRO off, no VFs): %v", err)
	}
	if d := l.drift(); len(d) != 1 || d[0].Field != "rss.indir" || d[0].Have != indirDefault16 {
		t.Fatalf("drift after the XDP reset: %+v", d)
	}
	if res := l.up(queueReq(15), l.opts()); !hasChange(res, "rss.indir") || slices.Contains(l.indir(), 15) {
		t.Fatalf("up after the XDP reset: %+v", res.Diff)
	}
	_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if err == nil || !strings.Contains(err.Error(), "LRO of eth3 stays off") {
		t.Fatalf("down with the program attached: %v", err)
	}
	if err := hostsim.DetachXDP(l.root, "eth3"); err != nil {
		t.Fatal(err)
	}
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("host after down:\n%s", diff(before, after))
	}
}

// A queue-mode request's rules go to the hidden queue unless their flow
// names an action; a rule naming a VF or queue is refused.
func TestQueueModeRules(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := queueReq(15)
	r.Rules = []setup.RuleRequest{{Flow: "flow-type udp4 dst-port 4789"}, {Flow: "flow-type udp4 dst-port 4790 action 3"}}
	res := l.up(r, l.opts())
	var targets []string
	for _, s := range res.Steps {
		if strings.HasPrefix(s.ID, "rule-") {
			targets = append(targets, s.Action[strings.LastIndex(s.Action, "-> ")+3:])
		}
	}
	if !slices.Equal(targets, []string{"PF queue 15", "PF queue 3"}) {
		t.Errorf("rule targets %v", targets)
	}
	l.down()
	bad := queueReq(1)
	bad.Rules = []setup.RuleRequest{{Flow: "flow-type udp4 dst-port 1", VF: ip(0)}}
	if err := bad.Check(); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "names a VF or queue in queue mode") {
		t.Errorf("rule with vf in queue mode: %v", err)
	}
	bad.Rules = []setup.RuleRequest{{Flow: "flow-type udp4 dst-prot 1"}}
	if err := bad.Check(); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "dst-prot") {
		t.Errorf("bad flow in queue mode: %v", err)
	}
}

// A PF without SR-IOV that runs queue mode passes doctor (the pf check is
// a warning) and queue mode is recommended; vf mode lacks SR-IOV.
func TestDoctorQueueOnlyPF(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{NoSRIOV: true})
	res, err := inspect.Doctor(l.h, "eth3")
	if err != nil || !res.OK || res.RecommendedMode != setup.ModeQueue {
		t.Fatalf("doctor: %v, ok %v, recommended %q", err, res.OK, res.RecommendedMode)
	}
	if vf := res.Modes[0]; vf.Supported || !slices.ContainsFunc(vf.Lacks, func(s string) bool { return strings.HasPrefix(s, "SR-IOV") }) {
		t.Errorf("vf mode %+v", vf)
	}
	l.up(queueReq(4), l.opts())
	if d := l.drift(); len(d) != 0 {
		t.Errorf("status of a queue-mode PF without SR-IOV: drift %+v", d)
	}
	if err := l.h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	if d := l.drift(); len(d) != 1 || d[0].Field != "rss.indir" {
		t.Errorf("status after a reset of the table: drift %+v", d)
	}
	l.down()
}

// On a 64-CPU host the 82599 has 63 channels but RSS over 16 rings
// (ETHTOOL_GRXRINGS = min(num_rx_queues, 16), and the ethtool core refuses
// an entry at or above it): queue 3 is hidden with a table over rings 0-15
// but 3, and queue 20, outside RSS already, needs no table write at all.
func TestQueueModeTableWithinGRXRINGS(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{CPUs: 64})
	before := l.indir()
	res := l.up(queueReq(20), l.opts())
	if hasChange(res, "rss.indir") {
		t.Errorf("up --queue 20 plans a table write: %+v", res.Diff)
	}
	if got := l.indir(); !slices.Equal(got, before) {
		t.Errorf("table after up --queue 20: %v, want the default %v", got, before)
	}
	l.down()
	res = l.up(queueReq(3), l.opts())
	if !hasChange(res, "rss.indir") {
		t.Fatalf("up --queue 3: no rss.indir change: %+v", res.Diff)
	}
	for i, e := range l.indir() {
		if e >= 16 || e == 3 {
			t.Fatalf("entry %d = %d after up --queue 3: want rings 0-15 but 3", i, e)
		}
	}
}
