package hostsim_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

func mustIndir(t *testing.T, h *host.Host) []uint32 {
	t.Helper()
	tbl, err := h.Ethtool.Indir("eth3")
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// weight is a table that spreads over the given queues in turn.
func weight(size int, queues ...uint32) []uint32 {
	t := make([]uint32, size)
	for i := range t {
		t[i] = queues[i%len(queues)]
	}
	return t
}

// The 82599 starts with 16 RSS queues, a 128-entry table i % 16
// (ixgbe_setup_reta), 16 of 16 combined channels and LRO on; an exact
// table written and reset with a zero-size write leaves the host byte for
// byte as it was.
func TestIxgbeIndirRoundTrip(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	before := mustSnapshot(t, root)
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
		t.Fatalf("initial table %v", got)
	}
	ch, err := h.Ethtool.Channels("eth3")
	if err != nil || ch.Combined != 16 || ch.MaxCombined != 16 || ch.Other != 1 {
		t.Errorf("Channels = %+v, %v", ch, err)
	}
	if n, err := h.Ethtool.RxRings("eth3"); err != nil || n != 16 {
		t.Errorf("RxRings = %d, %v", n, err)
	}
	if on, fixed, err := h.Ethtool.Feature("eth3", host.LROFeature); err != nil || !on || fixed {
		t.Errorf("LRO = %v fixed %v, %v; want on, changeable", on, fixed, err)
	}
	hidden := weight(128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14) // queue 15 out
	if err := h.Ethtool.SetIndir("eth3", hidden); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, hidden) {
		t.Fatalf("table after SetIndir %v", got)
	}
	if mustSnapshot(t, root) == before {
		t.Fatal("a written table left no trace in the simulator's state")
	}
	if err := h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	if after := mustSnapshot(t, root); after != before {
		t.Errorf("after the reset the host differs:\n%s\n---\n%s", before, after)
	}
}

// ethtool_set_rxfh_indir's and ixgbe_set_rxfh's refusals.
func TestIxgbeIndirRefusals(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	bad := flows.DefaultIndir(128, 16)
	bad[9] = 16
	for _, c := range []struct {
		name  string
		ifn   string
		table []uint32
		want  error
		text  string
	}{
		{"entry at the ring count", "eth3", bad, unix.EINVAL, "ethtool: write the RSS indirection table of eth3: ETHTOOL_SRXFHINDIR on eth3: invalid argument"},
		{"wrong size", "eth3", flows.DefaultIndir(64, 16), unix.EINVAL, "ETHTOOL_SRXFHINDIR on eth3: invalid argument"},
		{"no table (virtio-net)", "eth0", flows.DefaultIndir(128, 1), flows.ErrNotSupported, "ETHTOOL_SRXFHINDIR on eth0: operation not supported"},
		{"no such interface", "eth9", nil, unix.ENODEV, "ethtool: reset the RSS indirection table of eth9: ETHTOOL_SRXFHINDIR on eth9: no such device"},
	} {
		err := h.Ethtool.SetIndir(c.ifn, c.table)
		if !errors.Is(err, c.want) || !strings.Contains(errText(err), c.text) {
			t.Errorf("%s: %v; want %v and %q", c.name, err, c.want, c.text)
		}
	}
	if _, err := h.Ethtool.Indir("eth0"); !errors.Is(err, flows.ErrNotSupported) || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("Indir(eth0) = %v", err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
		t.Errorf("refused writes changed the table: %v", got)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The configured-by-user flag: while a written table uses queue 14,
// `ethtool -L combined 14` is refused (ethtool_set_channels); the zero-size
// reset clears the flag and the same request then works, leaving 14
// queues and the table i % 14 (ixgbe_setup_reta after the reset).
func TestConfiguredTableBlocksFewerChannels(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	if err := h.Ethtool.SetIndir("eth3", weight(128, 0, 14)); err != nil {
		t.Fatal(err)
	}
	err := hostsim.SetChannels(root, "eth3", 14)
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "too low for existing indirection table") {
		t.Fatalf("ethtool -L 14 with a configured table using queue 14: %v", err)
	}
	if err := hostsim.SetChannels(root, "eth3", 15); err != nil {
		t.Fatalf("ethtool -L 15 (above queue 14): %v", err)
	}
	// ixgbe's reset filled the table in again; the flag stays set.
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 15)) {
		t.Errorf("table after ethtool -L 15: %v", got)
	}
	if err := h.Ethtool.SetIndir("eth3", weight(128, 0, 14)); err != nil {
		t.Fatal(err)
	}
	if err := h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetChannels(root, "eth3", 14); err != nil {
		t.Fatalf("ethtool -L 14 after the reset: %v", err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 14)) {
		t.Errorf("table after ethtool -L 14: %v", got)
	}
	if err := hostsim.SetChannels(root, "eth3", 17); !errors.Is(err, unix.EINVAL) {
		t.Errorf("ethtool -L 17 on 16 CPUs: %v", err)
	}
}

// SR-IOV resets the 82599 into 4 RSS queues: the table is filled in again
// (a written one is lost), entries must be below 4, and disabling SR-IOV
// brings back 16; ntuple and LRO changes reset it too (ixgbe_set_features).
func TestIxgbeResetsRefillTheTable(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{})
	hidden := weight(128, 0, 1, 2)
	set := func() {
		t.Helper()
		if err := h.Ethtool.SetIndir("eth3", hidden); err != nil {
			t.Fatal(err)
		}
	}
	set()
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "4"); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 4)) {
		t.Errorf("table with 4 VFs: %v", got)
	}
	if ch, _ := h.Ethtool.Channels("eth3"); ch.Combined != 4 || ch.MaxCombined != 4 {
		t.Errorf("channels with VFs: %+v", ch)
	}
	if err := h.Ethtool.SetIndir("eth3", weight(128, 0, 4)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("entry 4 with 4 RSS queues: %v", err)
	}
	set()
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
		t.Errorf("table after SR-IOV off: %v", got)
	}
	_, h = open(t, hostsim.Options{}) // LRO stays off after SR-IOV: a new host
	for _, f := range []struct {
		name string
		on   bool
	}{{"rx-ntuple-filter", true}, {host.LROFeature, false}} {
		set()
		if err := h.Ethtool.SetFeature("eth3", f.name, f.on); err != nil {
			t.Fatal(err)
		}
		if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
			t.Errorf("%s %v did not reset the table: %v", f.name, f.on, got)
		}
		// The same value again is no change and no reset.
		set()
		if err := h.Ethtool.SetFeature("eth3", f.name, f.on); err != nil {
			t.Fatal(err)
		}
		if got := mustIndir(t, h); !slices.Equal(got, hidden) {
			t.Errorf("%s %v again reset the table", f.name, f.on)
		}
	}
	if on, _, _ := h.Ethtool.Feature("eth3", host.LROFeature); on {
		t.Error("LRO still on")
	}
}

// The 82576 on a 2-CPU guest: 2 of 8 combined channels, the table
// (j * 2) / 128 (igb_setup_mrqc), writable within 2 queues, kept across a
// reset that does not change the queue count; LRO fixed off. The zero-size
// reset writes i % 2, not igb's own layout.
func TestIgbIndir(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{Model: "82576", CPUs: 2})
	before := mustSnapshot(t, root)
	tbl := mustIndir(t, h)
	if tbl[0] != 0 || tbl[63] != 0 || tbl[64] != 1 || tbl[127] != 1 || len(tbl) != 128 {
		t.Fatalf("igb table %v", tbl)
	}
	ch, err := h.Ethtool.Channels("eth3")
	if err != nil || ch.Combined != 2 || ch.MaxCombined != 8 {
		t.Errorf("Channels = %+v, %v; want 2 of 8", ch, err)
	}
	if on, fixed, err := h.Ethtool.Feature("eth3", host.LROFeature); err != nil || on || !fixed {
		t.Errorf("igb LRO = %v fixed %v, %v", on, fixed, err)
	}
	if err := h.Ethtool.SetIndir("eth3", weight(128, 0)); err != nil { // ethtool -X eth3 weight 1 0
		t.Fatal(err)
	}
	if err := h.Ethtool.SetIndir("eth3", weight(128, 2)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("entry 2 of 2 queues: %v", err)
	}
	if err := h.Ethtool.SetIndir("eth3", tbl); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, tbl) {
		t.Errorf("exact restore: %v", got)
	}
	if err := h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 2)) {
		t.Errorf("igb after the zero-size reset: %v", got)
	}
	if mustSnapshot(t, root) == before {
		t.Error("the reset left igb's own layout: ethtool_rxfh_indir_default is i % rings")
	}
}

// ixgbe_xdp_setup: a native program is refused while SR-IOV or RSC is on;
// attaching one resets the PF, which refills the table; with a program on,
// LRO stays off. Generic XDP switches LRO off and keeps the table.
func TestXDPAttach(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{})
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EINVAL) {
		t.Errorf("native XDP with LRO on: %v", err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "2"); err != nil {
		t.Fatal(err)
	}
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, false); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EINVAL) {
		t.Errorf("native XDP with SR-IOV on: %v", err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	hidden := weight(128, 0, 1, 2)
	if err := h.Ethtool.SetIndir("eth3", hidden); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); err != nil {
		t.Fatal(err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
		t.Errorf("native XDP on ixgbe did not reset the table: %v", got)
	}
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, true); err != nil {
		t.Fatal(err)
	}
	if on, _, _ := h.Ethtool.Feature("eth3", host.LROFeature); on {
		t.Error("LRO came on with an XDP program attached")
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second program: %v", err)
	}
	if err := hostsim.DetachXDP(root, "eth3"); err != nil {
		t.Fatal(err)
	}
	// Generic: LRO off, table kept.
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, true); err != nil {
		t.Fatal(err)
	}
	if err := h.Ethtool.SetIndir("eth3", hidden); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPGeneric); err != nil {
		t.Fatal(err)
	}
	if on, _, _ := h.Ethtool.Feature("eth3", host.LROFeature); on || !slices.Equal(mustIndir(t, h), hidden) {
		t.Errorf("generic XDP: LRO %v, table %v", on, mustIndir(t, h))
	}
}
