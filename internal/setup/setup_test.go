package setup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

type lab struct {
	t     *testing.T
	root  string
	state string
	h     *host.Host
}

func newLab(t *testing.T, o hostsim.Options) *lab {
	t.Helper()
	root, h := simtest.Host(t, o)
	return &lab{t: t, root: root, state: simtest.StateDir(t), h: h}
}

func (l *lab) snap() string {
	l.t.Helper()
	return simtest.Snapshot(l.t, l.root)
}

func (l *lab) opts() setup.Options { return setup.Options{StateDir: l.state} }

func (l *lab) journalExists() bool {
	_, err := os.Stat(filepath.Join(l.state, "eth3.json"))
	return err == nil
}

func bp(b bool) *bool { return &b }
func ip(i int) *int   { return &i }

func req(n int, vfs ...setup.VFRequest) setup.Request {
	return setup.Request{PF: "eth3", NumVFs: n, VFs: vfs}
}

func TestUpDownRoundTripRestoresTheHost(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	r := req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01", Trust: bp(true), VLAN: ip(100)})
	res, err := setup.Up(context.Background(), l.h, r, l.opts())
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if !res.Changed || res.RxQueuesPrev != 16 || res.RxQueuesNow != 4 {
		t.Errorf("up: changed=%v queues %d -> %d; want true, 16 -> 4", res.Changed, res.RxQueuesPrev, res.RxQueuesNow)
	}
	w := strings.Join(res.Warnings, "\n")
	if !strings.Contains(w, "resets eth3") || !strings.Contains(w, "4 RX queues instead of 16") {
		t.Errorf("warnings do not tell about the PF reset and the RSS change:\n%s", w)
	}
	v0, err := sriov.LookupVF(l.h.FS, "eth3", 0)
	if err != nil || v0.Driver != "vfio-pci" || v0.Address != "0000:04:10.1" {
		t.Fatalf("VF 0 = %+v, %v; want 0000:04:10.1 on vfio-pci", v0, err)
	}
	if _, err := os.Stat(filepath.Join(l.root, "dev/vfio", v0.IOMMUGroup)); err != nil {
		t.Errorf("/dev/vfio/%s missing: %v", v0.IOMMUGroup, err)
	}
	v1, _ := sriov.LookupVF(l.h.FS, "eth3", 1)
	if v1.Driver != "ixgbevf" || v1.Netdev == "" {
		t.Errorf("VF 1 = %+v; want it left to ixgbevf with a netdev", v1)
	}
	infos, _ := l.h.Links.VFs("eth3")
	if len(infos) != 2 || infos[0].MAC.String() != "02:00:00:00:00:01" || !infos[0].Trust || infos[0].VLAN != 100 {
		t.Errorf("VF settings = %+v", infos)
	}
	if on, _, _ := l.h.Ethtool.Feature("eth3", host.NtupleFeature); !on {
		t.Error("ntuple is off after up")
	}

	again, err := setup.Up(context.Background(), l.h, r, l.opts())
	if err != nil || again.Changed {
		t.Fatalf("second identical up: changed=%v err=%v; want false, nil", again.Changed, err)
	}

	down, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if err != nil || !down.Changed {
		t.Fatalf("down: changed=%v err=%v", down.Changed, err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after up+down differs from before:\n%s", diff(before, after))
	}
	if l.journalExists() {
		t.Error("journal left after down")
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); !outcome.Is[*outcome.BadInput](err) {
		t.Errorf("down without a journal: %v; want exit 2", err)
	}
	o := l.opts()
	o.MissingOK = true
	if res, err := setup.Down(context.Background(), l.h, "eth3", o); err != nil || res.Changed {
		t.Errorf("down --missing-ok without a journal: changed=%v %v", res.Changed, err)
	}
}

func diff(a, b string) string {
	am := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		am[l] = true
	}
	bm := map[string]bool{}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		bm[l] = true
		if !am[l] {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range strings.Split(a, "\n") {
		if !bm[l] {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    hostsim.Options
		req  setup.Request
		want []string
	}{
		{"unknown PF", hostsim.Options{}, setup.Request{PF: "eth9", NumVFs: 1}, []string{"eth9", "no such network interface"}},
		{"no SR-IOV", hostsim.Options{}, setup.Request{PF: "eth0", NumVFs: 1}, []string{"eth0"}},
		{"PF without SR-IOV capability", hostsim.Options{NoSRIOV: true}, req(1), []string{"eth3", "no SR-IOV capability"}},
		{"no PF driver", hostsim.Options{NoDriver: true}, req(1), []string{"eth3", "no driver"}},
		{"zero VFs", hostsim.Options{}, req(0), []string{"--vfs 0"}},
		{"too many VFs", hostsim.Options{TotalVFs: 8}, req(9), []string{"--vfs 9", "at most 8"}},
		{"VF out of range", hostsim.Options{}, req(2, setup.VFRequest{Index: 2}), []string{"--vf 2", "0 to 1"}},
		{"malformed MAC", hostsim.Options{}, req(1, setup.VFRequest{MAC: "02:00:00:00:00"}), []string{"02:00:00:00:00", "not a MAC"}},
		{"multicast MAC", hostsim.Options{}, req(1, setup.VFRequest{MAC: "01:00:5e:00:00:01"}), []string{"01:00:5e:00:00:01", "unicast"}},
		{"VLAN too big", hostsim.Options{}, req(1, setup.VFRequest{VLAN: ip(4096)}), []string{"--vlan 4096"}},
		{"default route", hostsim.Options{DefaultRouteOnPF: true}, req(1), []string{"eth3", "default route"}},
		{"no IOMMU", hostsim.Options{NoIOMMU: true}, req(1), []string{"no IOMMU groups"}},
		{"bad driver", hostsim.Options{}, setup.Request{PF: "eth3", NumVFs: 1, Driver: "igb_uio"}, []string{"igb_uio"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t, c.o)
			before := l.snap()
			_, err := setup.Up(context.Background(), l.h, c.req, l.opts())
			if !outcome.Is[*outcome.BadInput](err) {
				t.Fatalf("up: %v (outcome %T); want exit 2", err, outcome.Of(err))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if outcome.FixOf(err) == "" {
				t.Errorf("error %q carries no fix", err)
			}
			if after := l.snap(); after != before {
				t.Fatalf("bad input changed the host:\n%s", diff(before, after))
			}
			if l.journalExists() {
				t.Error("bad input left a journal")
			}
		})
	}
}

func TestStateDirNotWritable(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Up(context.Background(), l.h, req(1), setup.Options{StateDir: filepath.Join(file, "state")})
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "state") {
		t.Fatalf("up with an unwritable state dir: %v; want exit 2 naming it", err)
	}
	if l.snap() != before {
		t.Fatal("host changed")
	}
}

func TestVFCountChangeNeedsRecreate(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	if _, err := setup.Up(context.Background(), l.h, req(2), l.opts()); err != nil {
		t.Fatal(err)
	}
	before := l.snap()
	_, err := setup.Up(context.Background(), l.h, req(4), l.opts())
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "--vfs 4 cannot be done in place") ||
		!strings.Contains(err.Error(), "link drops") || !strings.Contains(outcome.FixOf(err), "--recreate") {
		t.Fatalf("VF count change: %v; want exit 2 saying what it disrupts and naming --recreate", err)
	}
	if l.snap() != before {
		t.Fatal("refused request changed the host")
	}
}

func TestCorruptJournalDownRefuses(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	if _, err := setup.Up(context.Background(), l.h, req(2), l.opts()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.state, "eth3.json"), []byte(`{"version":1,"pf":"eth3","steps":[{`), 0o644); err != nil {
		t.Fatal(err)
	}
	before := l.snap()
	_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(outcome.FixOf(err), "vfbypass status eth3") {
		t.Fatalf("down with a corrupt journal: %v; want exit 2 pointing at status", err)
	}
	if l.snap() != before {
		t.Fatal("down with a corrupt journal changed the host")
	}
}

// A hand-edited journal whose records this vfbypass cannot read is refused
// as a whole before anything is undone (exit 2, host unchanged), and status
// shows it as damaged rather than as "none".
func TestEditedJournalDownRefusesBeforeUndoing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, from, to string }{
		{"wrong type", `"want": 2`, `"want": "two"`},
		{"unknown kind", `"kind": "probe-vfs"`, `"kind": "frobnicate"`},
		{"unknown field", `"want": 2`, `"want": 2, "extra": 1`},
		{"null step", `"steps": [`, `"steps": [null,`},
		{"odd state", `"state": "applied"`, `"state": "weird"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t, hostsim.Options{})
			if _, err := setup.Up(context.Background(), l.h, req(2, setup.VFRequest{Index: 0, Trust: bp(true)}), l.opts()); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(l.state, "eth3.json")
			b, _ := os.ReadFile(p)
			if !strings.Contains(string(b), c.from) {
				t.Fatalf("journal has no %q:\n%s", c.from, b)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(b), c.from, c.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			before := l.snap()
			_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), p) {
				t.Errorf("down: %v (outcome %T); want exit 2 naming %s", err, outcome.Of(err), p)
			}
			if l.snap() != before {
				t.Error("down with an unreadable journal record changed the host")
			}
			st, err := inspect.Status(l.h, "eth3", l.state)
			if err != nil || st.PFs[0].Journal == nil || st.PFs[0].Journal.Damaged == "" {
				t.Errorf("status: %v; want the journal shown as damaged", err)
			}
		})
	}
}

// down reads the state directory but does not make one: a missing one means
// no journal; a file or "" is bad input.
func TestDownStateDir(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		dir, want string
	}{
		{missing, "no journal in " + missing},
		{file, file + " is not a directory"},
		{"", "state directory is empty"},
	} {
		_, err := setup.Down(context.Background(), l.h, "eth3", setup.Options{StateDir: c.dir})
		if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("down --state-dir %q: %v; want exit 2 and %q", c.dir, err, c.want)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("down created the state directory %s", missing)
	}
}

// down for a PF whose interface is gone (renamed, or the device removed)
// touches nothing and says what to do (exit 2), naming the PCI address.
func TestDownPFGone(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	if _, err := setup.Up(context.Background(), l.h, req(2), l.opts()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(l.root, "sys/class/net/eth3")); err != nil {
		t.Fatal(err)
	}
	before := l.snap()
	_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "no longer exists") || !strings.Contains(outcome.FixOf(err), "0000:04:00.1") {
		t.Errorf("down: %v (outcome %T); want exit 2 saying eth3 no longer exists, fix naming 0000:04:00.1", err, outcome.Of(err))
	}
	if l.snap() != before || !l.journalExists() {
		t.Error("down for a gone PF changed the host or dropped the journal")
	}
}

// A failure injected at each kernel call of up rolls back to the original host.
func TestFailureAtEachStepRollsBack(t *testing.T) {
	t.Parallel()
	faults := []hostsim.Fault{
		{Op: "write", Match: "*/sriov_drivers_autoprobe"},
		{Op: "write", Match: "*/sriov_numvfs"},
		{Op: "write", Match: "/sys/bus/pci/drivers_probe"},                         // VF 1 to ixgbevf
		{Op: "netlink", Match: "eth3/vf0/mac"},                                     // VF settings
		{Op: "netlink", Match: "eth3/vf0/trust"},                                   // after the MAC was set
		{Op: "write", Match: "*/driver_override"},                                  // vfio bind
		{Op: "write", Match: "/sys/bus/pci/drivers_probe", After: 1},               // the vfio probe
		{Op: "ethtool", Match: "eth3/rx-ntuple-filter", After: 3, Errno: unix.EIO}, // ntuple on
	}
	for _, f := range faults {
		if f.Errno == 0 {
			f.Errno = unix.EIO
		}
		t.Run(f.Op+" "+f.Match, func(t *testing.T) {
			l := newLab(t, hostsim.Options{})
			before := l.snap()
			if err := hostsim.AddFault(l.root, f); err != nil {
				t.Fatal(err)
			}
			r := req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01", Trust: bp(true)})
			res, err := setup.Up(context.Background(), l.h, r, l.opts())
			if !outcome.Is[*outcome.RolledBack](err) || !errors.Is(err, unix.EIO) {
				t.Fatalf("up with a fault: %v (outcome %T); want exit 1 wrapping EIO", err, outcome.Of(err))
			}
			if res.Changed {
				t.Error("a rolled-back up reports changed")
			}
			if after := l.snap(); after != before {
				t.Fatalf("rollback did not restore the host:\n%s", diff(before, after))
			}
			if l.journalExists() {
				t.Error("journal left after a complete rollback")
			}
		})
	}
}

// A failing undo leaves exit 3 and a journal that a later down finishes.
func TestRollbackFailureIsExit3AndDownFinishes(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	// Binding VF 0 fails; its rollback then fails to remove the VFs once.
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "write", Match: "*/driver_override", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AddFault(l.root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", After: 1, Errno: unix.EBUSY}); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Up(context.Background(), l.h, req(2), l.opts())
	if !outcome.Is[*outcome.RollbackIncomplete](err) || !strings.Contains(err.Error(), "numvfs") {
		t.Fatalf("up: %v (outcome %T); want exit 3 naming numvfs", err, outcome.Of(err))
	}
	if !l.journalExists() {
		t.Fatal("no journal after an incomplete rollback")
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); err != nil {
		t.Fatalf("down after exit 3: %v", err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("down did not restore the host:\n%s", diff(before, after))
	}
}

func TestConcurrentUpsAreSerialised(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	var wg sync.WaitGroup
	changed := make(chan bool, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := setup.Up(context.Background(), l.h, req(2), l.opts())
			if err != nil {
				t.Error(err)
				return
			}
			changed <- res.Changed
		}()
	}
	wg.Wait()
	close(changed)
	n := 0
	for c := range changed {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d of 2 concurrent ups changed the host; want exactly 1", n)
	}
}

func TestDriftIsReportedAndRepaired(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	r := req(2)
	if _, err := setup.Up(context.Background(), l.h, r, l.opts()); err != nil {
		t.Fatal(err)
	}
	// Someone takes VF 0 back to ixgbevf by hand.
	if err := l.h.FS.WriteAttr("/sys/bus/pci/drivers/vfio-pci/unbind", "0000:04:10.1"); err != nil {
		t.Fatal(err)
	}
	st, err := inspect.Status(l.h, "eth3", l.state)
	if err != nil || len(st.PFs) != 1 || len(st.PFs[0].Drift) != 1 || st.PFs[0].Drift[0] != (setup.Drift{Field: "vf0.driver", Want: "vfio-pci", Have: "none"}) {
		t.Fatalf("status after drift: %+v, %v; want vf0.driver: have none, want vfio-pci", st, err)
	}
	res, err := setup.Up(context.Background(), l.h, r, l.opts())
	if err != nil || !res.Changed {
		t.Fatalf("up after drift: changed=%v %v; want it re-applied", res.Changed, err)
	}
	if v, _ := sriov.LookupVF(l.h.FS, "eth3", 0); v.Driver != "vfio-pci" {
		t.Fatalf("VF 0 on %q after repair", v.Driver)
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); err != nil {
		t.Fatal(err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after drift repair and down:\n%s", diff(before, after))
	}
}

func TestUnviableIOMMUGroupRollsBack(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{SharedGroup: true})
	before := l.snap()
	_, err := setup.Up(context.Background(), l.h, req(2), l.opts())
	if !outcome.Is[*outcome.RolledBack](err) || !strings.Contains(err.Error(), "0000:04:00.1 (driver ixgbe)") {
		t.Fatalf("up with a shared group: %v; want exit 1 naming the PF in the group", err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after rollback:\n%s", diff(before, after))
	}
}

func TestExistingVFsNeedForce(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	if err := l.h.FS.WriteAttr("/sys/bus/pci/devices/0000:04:00.1/sriov_numvfs", "4"); err != nil {
		t.Fatal(err)
	}
	before := l.snap()
	if _, err := setup.Up(context.Background(), l.h, req(2), l.opts()); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "already has 4 VFs") {
		t.Fatalf("up over foreign VFs: %v; want exit 2", err)
	}
	if l.snap() != before {
		t.Fatal("host changed")
	}
	o := l.opts()
	o.Force = true
	if _, err := setup.Up(context.Background(), l.h, req(2), o); err != nil {
		t.Fatalf("up --force: %v", err)
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); err != nil {
		t.Fatal(err)
	}
	if n, _ := host.ReadInt(l.h.FS, "/sys/bus/pci/devices/0000:04:00.1/sriov_numvfs"); n != 4 {
		t.Fatalf("down left %d VFs; want the original 4 back", n)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	before := l.snap()
	res, err := setup.Up(context.Background(), l.h, req(2), setup.Options{StateDir: l.state, DryRun: true})
	if err != nil || !res.Changed || len(res.Steps) < 4 || len(res.Diff) != 4 {
		t.Fatalf("dry run: %+v %v; want changed (the real run would) and 4 fields in the diff", res, err)
	}
	for _, s := range res.Steps {
		if s.ID != "module-vfio-pci" && s.Status != "would-apply" {
			t.Errorf("dry-run step %s status %s", s.ID, s.Status)
		}
	}
	if l.snap() != before || l.journalExists() {
		t.Fatal("dry run changed something")
	}
}
