package setup_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// TestRepairDriftRestoresTheJournaledRequest: RepairDrift brings drifted fields back
// to the journal's request with up's plan; it refuses a VF count change
// (a repair never recreates) and, after down, changes nothing.
func TestRepairDriftRestoresTheJournaledRequest(t *testing.T) {
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
	res, err := setup.RepairDrift(context.Background(), l.h, "eth3", l.opts())
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
	if _, err := setup.RepairDrift(context.Background(), l.h, "eth3", l.opts()); !errors.Is(err, setup.ErrNotRepairable) {
		t.Fatalf("repair of a VF count: %v; want ErrNotRepairable", err)
	}
	if n, err := l.h.FS.ReadFile("/sys/class/net/eth3/device/sriov_numvfs"); err != nil || string(n) != "0\n" {
		t.Fatalf("sriov_numvfs after the refused repair: %q %v; want 0", n, err)
	}
	l.down()
	snap := l.snap()
	if _, err := setup.RepairDrift(context.Background(), l.h, "eth3", l.opts()); !errors.Is(err, setup.ErrNotUp) {
		t.Fatalf("repair after down: %v; want ErrNotUp", err)
	}
	if l.snap() != snap || l.journalExists() {
		t.Fatal("a repair after down changed the host or made a journal")
	}
}
