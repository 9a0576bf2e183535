package setup_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// TestRepairDriftRestoresTheJournaledRequest: RepairDrift brings drifted fields back
// to the journal's request with up's plan; it refuses a VF count change
// (a repair never recreates) and, after down, changes nothing.
func TestRepairDriftRestoresTheJournaledRequest(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := base()
	r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
	l.up(r, l.opts())
	hw, _ := net.ParseMAC(macB)
	if err := l.h.Links.SetVFMAC("eth3", 0, hw); err != nil {
		t.Fatal(err)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Delete(2045); err != nil {
		t.Fatal(err)
	}
	dev.Close()
	if d := l.drift(); len(d) != 2 {
		t.Fatalf("drift before the repair: %v; want vf0.mac and rule@2045", d)
	}
	res, err := setup.RepairDrift(context.Background(), l.h, "eth3", nil, l.opts())
	if err != nil || !res.Changed {
		t.Fatalf("repair: changed %v, %v", res.Changed, err)
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift after the repair: %v", d)
	}

	// Someone removes the VFs: only up --recreate may make them again.
	if err := l.h.FS.WriteAttr("/sys/class/net/eth3/device/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.RepairDrift(context.Background(), l.h, "eth3", nil, l.opts()); !errors.Is(err, setup.ErrNotRepairable) {
		t.Fatalf("repair of a VF count: %v; want ErrNotRepairable", err)
	}
	if n, err := l.h.FS.ReadFile("/sys/class/net/eth3/device/sriov_numvfs"); err != nil || string(n) != "0\n" {
		t.Fatalf("sriov_numvfs after the refused repair: %q %v; want 0", n, err)
	}
	l.down()
	snap := l.snap()
	if _, err := setup.RepairDrift(context.Background(), l.h, "eth3", nil, l.opts()); !errors.Is(err, setup.ErrNotUp) {
		t.Fatalf("repair after down: %v; want ErrNotUp", err)
	}
	if l.snap() != snap || l.journalExists() {
		t.Fatal("a repair after down changed the host or made a journal")
	}
}

// TestRepairDriftLeavesHeldFieldsAlone: a repair holding some drifted fields
// (a watcher's fields in backoff) repairs the others only, within one step
// (VF 0's MAC held, its trust repaired) and among the rules (one held rule
// stays missing and its location free, the other comes back where it was).
func TestRepairDriftLeavesHeldFieldsAlone(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{})
	r := req(2, setup.VFRequest{Index: 0, MAC: macA, Trust: bp(true)})
	r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789"), rule(1, "flow-type udp4 dst-port 4790")}
	l.up(r, l.opts())
	hw, _ := net.ParseMAC(macB)
	if err := l.h.Links.SetVFMAC("eth3", 0, hw); err != nil {
		t.Fatal(err)
	}
	if err := l.h.Links.SetVFTrust("eth3", 0, false); err != nil {
		t.Fatal(err)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []uint32{2045, 2044} {
		if err := dev.Delete(loc); err != nil {
			t.Fatal(err)
		}
	}
	dev.Close()
	want := []string{"rule@2044", "rule@2045", "vf0.mac", "vf0.trust"}
	if got := driftFields(l.drift()); !slices.Equal(got, want) {
		t.Fatalf("drift before the repair: %v; want %v", got, want)
	}
	res, err := setup.RepairDrift(context.Background(), l.h, "eth3", []string{"vf0.mac", "rule@2045"}, l.opts())
	if err != nil || !res.Changed {
		t.Fatalf("repair: changed %v, %v", res.Changed, err)
	}
	if got := driftFields(l.drift()); !slices.Equal(got, []string{"rule@2045", "vf0.mac"}) {
		t.Fatalf("drift after the repair holding vf0.mac and rule@2045: %v; want exactly those", got)
	}
	vfs, err := l.h.Links.VFs("eth3")
	if err != nil || vfs[0].MAC.String() != macB || !vfs[0].Trust {
		t.Fatalf("VF 0 after the repair: %+v %v; want the drifted MAC %s kept, trust on again", vfs, err, macB)
	}
	// Held: nothing else may take the held rule's location meanwhile.
	dev, err = l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if _, _, err := dev.Rule(2045); err == nil {
		t.Fatal("a rule is at the held location 2045")
	}
	if _, _, err := dev.Rule(2044); err != nil {
		t.Fatalf("rule 2044 not installed again at its location: %v", err)
	}
	// Once nothing is held, the repair is up's whole plan again.
	if _, err := setup.RepairDrift(context.Background(), l.h, "eth3", nil, l.opts()); err != nil {
		t.Fatal(err)
	}
	if d := l.drift(); len(d) != 0 {
		t.Fatalf("drift after the repair holding nothing: %v", d)
	}
}

// driftFields are the drifted fields, sorted.
func driftFields(d []setup.Drift) []string {
	out := make([]string, 0, len(d))
	for _, x := range d {
		out = append(out, x.Field)
	}
	slices.Sort(out)
	return out
}
