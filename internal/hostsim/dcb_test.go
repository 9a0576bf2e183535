package hostsim_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// DCB as ixgbe takes it: while on, native XDP is refused
// (ixgbe_xdp_setup); switching it off is a close again; switching it on
// with a native program attached is refused only after the close deleted
// the rules (ixgbe_setup_tc); asking for the current state does nothing.
func TestDCBAndNativeXDP(t *testing.T) {
	t.Parallel()
	root, h, dev := upHost(t, hostsim.Options{Ntuple: true}, "")
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, false); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetDCB(root, "eth3", true); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "DCB") {
		t.Errorf("native XDP with DCB on: %v; want EINVAL naming DCB", err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPGeneric); err != nil {
		t.Errorf("generic XDP with DCB on: %v", err)
	} else if err := hostsim.DetachXDP(root, "eth3"); err != nil {
		t.Fatal(err)
	}
	rule := func() {
		t.Helper()
		if _, err := dev.Insert(tcp4().dstPort(80).at(5).pfQueue(3).FlowSpec, 0); err != nil {
			t.Fatal(err)
		}
	}
	rule()
	stop := events(t, h)
	if err := hostsim.SetDCB(root, "eth3", true); err != nil {
		t.Fatal(err)
	}
	if got := stop(); len(got) != 0 {
		t.Errorf("DCB on while on: events %q; want none", got)
	}
	if err := hostsim.SetDCB(root, "eth3", false); err != nil {
		t.Fatal(err)
	}
	if n, _, err := dev.RuleCount(); err != nil || n != 0 {
		t.Errorf("rules after DCB off: %d, %v; want 0", n, err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); err != nil {
		t.Fatalf("native XDP with DCB off: %v", err)
	}
	rule()
	if err := hostsim.SetDCB(root, "eth3", true); !errors.Is(err, unix.EINVAL) {
		t.Errorf("DCB on with native XDP: %v; want EINVAL", err)
	}
	if n, _, err := dev.RuleCount(); err != nil || n != 0 {
		t.Errorf("rules after the refused DCB on: %d, %v; want 0 (ixgbe_setup_tc closed the port first)", n, err)
	}
	if err := hostsim.DetachXDP(root, "eth3"); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); err != nil {
		t.Errorf("native XDP after the refused DCB on (DCB must still be off): %v", err)
	}
}

// igb has no dcbnl_ops: DCB is EOPNOTSUPP and nothing changes.
func TestDCBOnIgb(t *testing.T) {
	t.Parallel()
	root, _ := open(t, hostsim.Options{Model: "82576", CPUs: 2})
	before, err := hostsim.Snapshot(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetDCB(root, "eth3", true); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("DCB on igb: %v; want EOPNOTSUPP", err)
	}
	if after, err := hostsim.Snapshot(root); err != nil || after != before {
		t.Errorf("the host changed: %v", err)
	}
}
