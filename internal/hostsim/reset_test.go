package hostsim_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// events collects what the feed announces about eth3 until stop is called.
func events(t *testing.T, h *host.Host) (stop func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := h.Events.Subscribe(ctx, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	return func() []string {
		time.Sleep(30 * time.Millisecond) // a few polls of the feed
		cancel()
		var got []string
		for ev := range ch {
			got = append(got, string(ev.Kind)+" "+ev.Detail)
		}
		return got
	}
}

// Each reset class of ixgbe, caused as an operator or the tool causes it,
// with a rule at location 5 and a user table hiding queue 3: a close
// deletes the rule, a reinit keeps it; both refill the table; the feed
// names the change and the driver function.
func TestIxgbeResetClasses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		do        func(root string, h *host.Host) error
		ruleKept  bool
		wantEvent []string // kinds in order, and a word of the reset's Detail
	}{
		{"link down and up", func(root string, _ *host.Host) error {
			if err := hostsim.SetLink(root, "eth3", false); err != nil {
				return err
			}
			return hostsim.SetLink(root, "eth3", true)
		}, false, []string{"link", "reset ixgbe_fdir_filter_exit", "link", "reset ixgbe_open"}},
		{"sriov_numvfs on a running PF", func(_ string, h *host.Host) error {
			return h.FS.WriteAttr(pf+"/sriov_numvfs", "2")
		}, false, []string{"reset ixgbe_sriov_reinit"}},
		{"ethtool -L", func(root string, _ *host.Host) error { return hostsim.SetChannels(root, "eth3", 8) },
			false, []string{"channels", "reset ixgbe_setup_tc"}},
		{"native XDP attach", func(root string, h *host.Host) error {
			if err := h.Ethtool.SetFeature("eth3", host.LROFeature, false); err != nil {
				return err
			}
			return hostsim.AttachXDP(root, "eth3", hostsim.XDPNative)
		}, false, []string{"features", "reset ixgbe_reinit_locked", "reset ixgbe_xdp_setup", "xdp"}},
		{"DCB on", func(root string, _ *host.Host) error { return hostsim.SetDCB(root, "eth3", true) },
			false, []string{"reset ixgbe_dcbnl_set_state"}},
		{"ntuple off", func(_ string, h *host.Host) error { return h.Ethtool.SetFeature("eth3", host.NtupleFeature, false) },
			true, []string{"features", "reset ixgbe_fdir_filter_restore"}},
		{"MTU", func(root string, _ *host.Host) error { return hostsim.SetMTU(root, "eth3", 9000) },
			true, []string{"mtu", "reset ixgbe_change_mtu"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, h, dev := upHost(t, hostsim.Options{Ntuple: true}, "")
			if _, err := dev.Insert(tcp4().dstPort(80).at(5).pfQueue(3).FlowSpec, 0); err != nil {
				t.Fatal(err)
			}
			if err := h.Ethtool.SetIndir("eth3", weight(128, 0, 1, 2)); err != nil {
				t.Fatal(err)
			}
			stop := events(t, h)
			if err := c.do(root, h); err != nil {
				t.Fatal(err)
			}
			got := stop()
			n, _, err := dev.RuleCount()
			if err != nil || (n == 1) != c.ruleKept {
				t.Errorf("rules after: %d, %v; kept = %v", n, err, c.ruleKept)
			}
			if tbl := mustIndir(t, h); !slices.Contains(tbl, 3) {
				t.Errorf("the table was not refilled: %v", tbl)
			}
			if len(got) != len(c.wantEvent) {
				t.Fatalf("events %q; want %d like %q", got, len(c.wantEvent), c.wantEvent)
			}
			for i, w := range c.wantEvent {
				kind, word, _ := strings.Cut(w, " ")
				if !strings.HasPrefix(got[i], kind+" ") || !strings.Contains(got[i], word) {
					t.Errorf("event %d = %q; want kind %s naming %s", i, got[i], kind, word)
				}
			}
		})
	}
}

// igb keeps rules and a user table across a link reset and a native XDP
// attach (igb_nfc_filter_restore; igb_setup_mrqc with the same queue
// count).
func TestIgbKeepsTheTableAcrossResets(t *testing.T) {
	t.Parallel()
	root, h := open(t, hostsim.Options{Model: "82576", CPUs: 2})
	user := weight(128, 1, 0)
	if err := h.Ethtool.SetIndir("eth3", user); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { return hostsim.SetLink(root, "eth3", false) },
		func() error { return hostsim.SetLink(root, "eth3", true) },
		func() error { return hostsim.AttachXDP(root, "eth3", hostsim.XDPNative) },
		func() error { return hostsim.DetachXDP(root, "eth3") },
		func() error { return hostsim.SetMTU(root, "eth3", 4000) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := mustIndir(t, h); !slices.Equal(got, user) {
			t.Fatalf("igb lost the user's table: %v", got)
		}
	}
}

// A port that is down is not reset by a numvfs change; rules added while
// down are written when it comes up.
func TestDownPortKeepsRulesUntilUp(t *testing.T) {
	t.Parallel()
	root, h, dev := upHost(t, hostsim.Options{Ntuple: true}, "")
	if err := hostsim.SetLink(root, "eth3", false); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(tcp4().dstPort(80).at(1).pfQueue(0).FlowSpec, 0); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetChannels(root, "eth3", 4); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetLink(root, "eth3", true); err != nil {
		t.Fatal(err)
	}
	if n, _, err := dev.RuleCount(); err != nil || n != 1 {
		t.Errorf("rules after down, ethtool -L, up: %d, %v; want 1", n, err)
	}
	if b, err := h.FS.ReadFile("/sys/class/net/eth3/operstate"); err != nil || strings.TrimSpace(string(b)) != "up" {
		t.Errorf("operstate %q, %v", b, err)
	}
}

// The refusals around XDP, SR-IOV and channels, each with its errno:
// native XDP with SR-IOV or LRO on; sriov_numvfs with native XDP on; a
// channel shrink below a rule's queue (6.12) or a bound AF_XDP socket.
func TestXDPSRIOVAndChannelRefusals(t *testing.T) {
	t.Parallel()
	root, h, dev := upHost(t, hostsim.Options{Ntuple: true}, "")
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "RSC") {
		t.Errorf("native XDP with LRO on: %v", err)
	}
	if err := h.Ethtool.SetFeature("eth3", host.LROFeature, false); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXSK(root, "eth3", hostsim.XDPNative, 9); err != nil {
		t.Fatal(err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "2"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("sriov_numvfs with native XDP: %v; want EINVAL", err)
	}
	if err := hostsim.SetChannels(root, "eth3", 9); !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "AF_XDP") {
		t.Errorf("ethtool -L 9 with a socket on queue 9: %v", err)
	}
	if err := hostsim.ReplaceXDP(root, "eth3", hostsim.XDPNative); err != nil {
		t.Errorf("replace: %v", err)
	}
	if err := hostsim.DetachXDP(root, "eth3"); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(tcp4().dstPort(80).at(1).pfQueue(11).FlowSpec, 0); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.SetChannels(root, "eth3", 11); !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "ntuple") {
		t.Errorf("ethtool -L 11 with a rule to queue 11: %v", err)
	}
	if err := h.FS.WriteAttr(pf+"/sriov_numvfs", "2"); err != nil {
		t.Fatal(err)
	}
	if err := hostsim.AttachXDP(root, "eth3", hostsim.XDPNative); !errors.Is(err, unix.EINVAL) || !strings.Contains(errText(err), "SR-IOV") {
		t.Errorf("native XDP with SR-IOV: %v", err)
	}
}

// More CPUs than ixgbe's 16 RSS queues: num_rx_queues (GCHANNELS) goes up
// to 63, GRXRINGS and the table stay at 16; a PF rule to queue 40 is taken,
// a table entry 16 is not.
func TestIxgbeManyCPUs(t *testing.T) {
	t.Parallel()
	_, h, dev := upHost(t, hostsim.Options{Ntuple: true, CPUs: 64}, "")
	ch, err := h.Ethtool.Channels("eth3")
	if err != nil || ch.Combined != 63 || ch.MaxCombined != 63 {
		t.Errorf("channels %+v, %v; want 63 of 63", ch, err)
	}
	if n, err := h.Ethtool.RxRings("eth3"); err != nil || n != 16 {
		t.Errorf("GRXRINGS %d, %v; want 16", n, err)
	}
	if got := mustIndir(t, h); !slices.Equal(got, flows.DefaultIndir(128, 16)) {
		t.Errorf("table %v", got)
	}
	if _, err := dev.Insert(tcp4().dstPort(80).at(1).pfQueue(40).FlowSpec, 0); err != nil {
		t.Errorf("rule to queue 40 of 63: %v", err)
	}
	if err := h.Ethtool.SetIndir("eth3", weight(128, 0, 16)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("table entry 16: %v", err)
	}
}

// Queues per pool from the RSS limit and the VF count
// (ixgbe_set_sriov_queues): 4 with 4+ CPUs in 32-pool mode, 2 with 2
// CPUs, 1 with one; 2 in 64-pool mode.
func TestQueuesPerPool(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ cpus, vfs, want int }{{16, 31, 4}, {2, 4, 2}, {1, 4, 1}, {16, 32, 2}, {1, 63, 1}} {
		_, h := open(t, hostsim.Options{CPUs: c.cpus})
		if err := h.FS.WriteAttr(pf+"/sriov_numvfs", itoa(c.vfs)); err != nil {
			t.Fatal(err)
		}
		if q, err := h.Ethtool.RxQueues("eth3"); err != nil || q != c.want {
			t.Errorf("%d CPUs, %d VFs: %d queues a pool, %v; want %d", c.cpus, c.vfs, q, err, c.want)
		}
	}
}

// IXGBE_FDIR_DROP_QUEUE is hardware queue 127: PF ring 1 with 63 VFs, ring
// 3 with 31, none without VFs.
func TestDropQueueRing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ vfs, ring int }{{63, 1}, {31, 3}, {0, -1}} {
		root, h := open(t, hostsim.Options{})
		if c.vfs > 0 {
			if err := h.FS.WriteAttr(pf+"/sriov_numvfs", itoa(c.vfs)); err != nil {
				t.Fatal(err)
			}
		}
		for r := 0; r < 4; r++ {
			drops, err := hostsim.PFRingDrops(root, r)
			if err != nil || drops != (r == c.ring) {
				t.Errorf("%d VFs, ring %d: drops %v, %v", c.vfs, r, drops, err)
			}
		}
	}
}
