package hostsim_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// spec builds a struct ethtool_rx_flow_spec by hand (the simulator is
// tested against the kernel ABI, not against our parser).
type spec struct{ flows.FlowSpec }

func tcp4() *spec {
	s := &spec{}
	s.FlowType = 0x01 // TCP_V4_FLOW
	return s
}

func (s *spec) typ(t uint32) *spec { s.FlowType = t; return s }

// dstPort matches the destination port exactly (tcp_ip4_spec.pdst).
func (s *spec) dstPort(p uint16) *spec {
	binary.BigEndian.PutUint16(s.HU[10:], p)
	binary.BigEndian.PutUint16(s.MU[10:], 0xffff)
	return s
}

// srcIP matches the source address exactly (tcp_ip4_spec.ip4src).
func (s *spec) srcIP(a, b, c, d byte) *spec {
	copy(s.HU[0:], []byte{a, b, c, d})
	copy(s.MU[0:], []byte{0xff, 0xff, 0xff, 0xff})
	return s
}

func (s *spec) proto(p, m byte) *spec { s.HU[14], s.MU[14] = p, m; return s }
func (s *spec) at(loc uint32) *spec   { s.Location = loc; return s }
func (s *spec) to(vf int, q uint32) *spec {
	s.RingCookie = uint64(vf+1)<<32 | uint64(q)
	return s
}
func (s *spec) pfQueue(q uint32) *spec { s.RingCookie = uint64(q); return s }
func (s *spec) drop() *spec            { s.RingCookie = ^uint64(0); return s }

// upHost is an 82599 with VFs enabled (n) and ntuple on.
func upHost(t *testing.T, o hostsim.Options, n string) (string, *host.Host, flows.Device) {
	t.Helper()
	root, h := open(t, o)
	if n != "" {
		if err := h.FS.WriteAttr(pf+"/sriov_numvfs", n); err != nil {
			t.Fatal(err)
		}
	}
	dev, err := h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return root, h, dev
}

// ixgbe_add_ethtool_fdir_entry's refusals, each with the kernel's errno.
func TestIxgbeInsertFollowsTheDriver(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		o     hostsim.Options
		vfs   string
		first *spec // installed before
		ins   *spec
		want  error
	}{
		{"VF 0 queue 0", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(0, 0).at(5), nil},
		{"last VF, last queue of its pool", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(1, 3).at(5), nil},
		{"ntuple off", hostsim.Options{}, "2", nil, tcp4().dstPort(80).to(0, 0).at(5), unix.EOPNOTSUPP},
		{"VF field beyond num_vfs", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(2, 0).at(5), unix.EINVAL},
		{"queue beyond the pool (4 per pool)", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(0, 4).at(5), unix.EINVAL},
		{"2 queues per pool beyond 32 pools", hostsim.Options{Ntuple: true}, "40", nil, tcp4().dstPort(80).to(39, 2).at(5), unix.EINVAL},
		{"VF target without VFs", hostsim.Options{Ntuple: true}, "", nil, tcp4().dstPort(80).to(0, 0).at(5), unix.EINVAL},
		{"PF queue below num_rx_queues", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).pfQueue(3).at(5), nil},
		{"PF queue at num_rx_queues", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).pfQueue(4).at(5), unix.EINVAL},
		{"PF queue 15 of 16 without VFs", hostsim.Options{Ntuple: true}, "", nil, tcp4().dstPort(80).pfQueue(15).at(5), nil},
		{"drop", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).drop().at(5), nil},
		{"location at the table size", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(0, 0).at(2046), unix.EINVAL},
		{"location 2045 is the last", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(0, 0).at(2045), nil},
		{"RX_CLS_LOC_ANY", hostsim.Options{Ntuple: true}, "2", nil, tcp4().dstPort(80).to(0, 0).at(0xffffffff), unix.EINVAL},
		{"tcp6", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x05).to(0, 0).at(5), unix.EINVAL},
		{"ip6", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x0e).to(0, 0).at(5), unix.EINVAL},
		{"ether", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x12).to(0, 0).at(5), unix.EINVAL},
		{"FLOW_MAC_EXT", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x01|0x40000000).to(0, 0).at(5), unix.EINVAL},
		{"FLOW_RSS", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x01|0x20000000).to(0, 0).at(5), unix.EINVAL},
		{"ip4 proto 0 unmasked", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x0d).srcIP(10, 0, 0, 1).to(0, 0).at(5), nil},
		{"ip4 proto tcp", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x0d).proto(6, 0xff).to(0, 0).at(5), nil},
		{"ip4 proto 0 masked in", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x0d).proto(0, 0xff).to(0, 0).at(5), unix.EINVAL},
		{"ip4 proto icmp", hostsim.Options{Ntuple: true}, "2", nil, tcp4().typ(0x0d).proto(1, 0xff).to(0, 0).at(5), unix.EINVAL},
		{"same mask", hostsim.Options{Ntuple: true}, "2", tcp4().dstPort(80).to(0, 0).at(1), tcp4().dstPort(443).to(1, 0).at(2), nil},
		{"second mask", hostsim.Options{Ntuple: true}, "2", tcp4().dstPort(80).to(0, 0).at(1), tcp4().srcIP(10, 0, 0, 1).to(1, 0).at(2), unix.EINVAL},
		{"second mask replacing the only rule", hostsim.Options{Ntuple: true}, "2", tcp4().dstPort(80).to(0, 0).at(1), tcp4().srcIP(10, 0, 0, 1).to(1, 0).at(1), unix.EINVAL},
		{"ip4 after tcp4: flow-type mask differs", hostsim.Options{Ntuple: true}, "2", tcp4().dstPort(80).to(0, 0).at(1), tcp4().typ(0x0d).to(1, 0).at(2), unix.EINVAL},
		{"udp4 after tcp4: same mask", hostsim.Options{Ntuple: true}, "2", tcp4().dstPort(80).to(0, 0).at(1), tcp4().typ(0x02).dstPort(53).to(1, 0).at(2), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, dev := upHost(t, c.o, c.vfs)
			if c.first != nil {
				if _, err := dev.Insert(c.first.FlowSpec, 0); err != nil {
					t.Fatal(err)
				}
			}
			before, _, _ := dev.RuleLocations()
			loc, err := dev.Insert(c.ins.FlowSpec, 0)
			if c.want == nil {
				if err != nil || loc != c.ins.Location {
					t.Fatalf("insert: loc %d, %v", loc, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("insert: %v, want %v", err, c.want)
			}
			if after, _, _ := dev.RuleLocations(); len(after) != len(before) {
				t.Fatalf("a refused insert changed the table: %v -> %v", before, after)
			}
		})
	}
}

// What ixgbe_get_ethtool_fdir_entry reports back.
func TestIxgbeReportsRulesAsTheDriver(t *testing.T) {
	t.Parallel()
	root, _, dev := upHost(t, hostsim.Options{Ntuple: true}, "2")
	ins := tcp4().dstPort(80).to(1, 2).at(7)
	ins.HU[9] = 0x34                    // psrc low byte, masked out by a zero mask
	ins.HU[12], ins.MU[12] = 0x10, 0xff // tos: ixgbe has no field for it
	if _, err := dev.Insert(ins.FlowSpec, 0); err != nil {
		t.Fatal(err)
	}
	// A second device (another process) sees the same table.
	h2, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dev2, _ := h2.Rules("eth3")
	got, ctx, err := dev2.Rule(7)
	if err != nil || ctx != 0 {
		t.Fatal(err, ctx)
	}
	if got.FlowType != 0x80000001 {
		t.Errorf("flow_type %#x, want TCP_V4_FLOW|FLOW_EXT", got.FlowType)
	}
	if got.RingCookie != 2<<32|2 {
		t.Errorf("ring_cookie %#x, want the cookie as inserted (VF field 2, queue 2)", got.RingCookie)
	}
	if got.Location != 7 {
		t.Errorf("location %d", got.Location)
	}
	if binary.BigEndian.Uint16(got.HU[10:]) != 80 || binary.BigEndian.Uint16(got.MU[10:]) != 0xffff {
		t.Errorf("dst port %x/%x", got.HU[10:12], got.MU[10:12])
	}
	if got.HU[9] != 0 || got.HU[12] != 0 || got.MU[12] != 0 {
		t.Errorf("stored values are masked and tos is not kept: psrc %x tos %x/%x", got.HU[8:10], got.HU[12], got.MU[12])
	}
	n, special, err := dev2.RuleCount()
	if err != nil || n != 1 || special {
		t.Errorf("rule count: %d %v %v", n, special, err)
	}
	if locs, size, err := dev2.RuleLocations(); err != nil || len(locs) != 1 || size != 2046 {
		t.Errorf("rule list: %v, table size %d, %v", locs, size, err)
	}
	if rings, err := dev2.RxRings(); err != nil || rings != 4 {
		t.Errorf("rx rings with 2 VFs: %d %v, want 4", rings, err)
	}

	ip := tcp4().typ(0x0d).srcIP(10, 0, 0, 1).drop().at(0)
	dev.Delete(7)
	if _, err := dev.Insert(ip.FlowSpec, 0); err != nil {
		t.Fatalf("after the last rule went, a new mask is allowed: %v", err)
	}
	got, _, _ = dev2.Rule(0)
	if got.FlowType != 0x8000000d || got.HU[13] != 1 || got.HU[14] != 0 || got.RingCookie != ^uint64(0) {
		t.Errorf("ip4 rule reported as %#x ip_ver %d proto %d cookie %#x", got.FlowType, got.HU[13], got.HU[14], got.RingCookie)
	}
	if _, _, err := dev2.Rule(1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("empty location: %v, want EINVAL", err)
	}
	if err := dev2.Delete(1); !errors.Is(err, unix.EINVAL) {
		t.Errorf("delete of an empty location: %v, want EINVAL", err)
	}
	if err := dev2.Delete(0); err != nil {
		t.Fatal(err)
	}
	if locs, _, err := dev.RuleLocations(); err != nil || len(locs) != 0 {
		t.Errorf("locations after delete: %v %v", locs, err)
	}
}

func TestRuleTableSizeAndReplace(t *testing.T) {
	t.Parallel()
	root, _, dev := upHost(t, hostsim.Options{Ntuple: true}, "2")
	if err := hostsim.SetRuleTableSize(root, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(tcp4().dstPort(1).to(0, 0).at(4).FlowSpec, 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("location 4 of 4: %v", err)
	}
	for loc := uint32(0); loc < 4; loc++ {
		if _, err := dev.Insert(tcp4().dstPort(uint16(loc)).to(0, 0).at(loc).FlowSpec, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dev.Insert(tcp4().dstPort(99).to(1, 1).at(2).FlowSpec, 0); err != nil {
		t.Fatalf("replace at location 2: %v", err)
	}
	got, _, _ := dev.Rule(2)
	if n, _, _ := dev.RuleCount(); n != 4 || binary.BigEndian.Uint16(got.HU[10:]) != 99 {
		t.Fatalf("replace: %d rules, port %d", n, binary.BigEndian.Uint16(got.HU[10:]))
	}
}

// igb on an 82576 has the rxnfc ops but no NETIF_F_NTUPLE; a netdev
// without rxnfc ops (virtio-net here, veth on a real host) answers
// EOPNOTSUPP to everything; a missing one ENODEV.
func TestRuleTablesOfOtherDevices(t *testing.T) {
	t.Parallel()
	_, h := open(t, hostsim.Options{Model: "82576"})
	dev, err := h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(tcp4().dstPort(80).pfQueue(0).FlowSpec, 0); !errors.Is(err, unix.EOPNOTSUPP) || !errors.Is(err, flows.ErrNotSupported) {
		t.Errorf("igb insert: %v, want EOPNOTSUPP", err)
	}
	if locs, size, err := dev.RuleLocations(); err != nil || len(locs) != 0 || size != 16 {
		t.Errorf("igb list: %v, table size %d, %v", locs, size, err)
	}
	if err := dev.Delete(0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("igb delete: %v, want EINVAL", err)
	}
	virtio, err := h.Rules("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := virtio.RuleLocations(); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("eth0 list: %v, want EOPNOTSUPP", err)
	}
	if _, err := h.Rules("eth9"); !errors.Is(err, unix.ENODEV) {
		t.Errorf("eth9: %v, want ENODEV", err)
	}
}

// Faults on op "ethtool-rule" (key IF/insert, IF/delete, IF/get, IF/list,
// IF/count, IF/rings) fail the call and change nothing.
func TestRuleFaults(t *testing.T) {
	t.Parallel()
	root, _, dev := upHost(t, hostsim.Options{Ntuple: true}, "2")
	before := mustSnapshot(t, root)
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/insert", Errno: unix.EIO}); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Insert(tcp4().dstPort(80).to(0, 0).at(3).FlowSpec, 0); !errors.Is(err, unix.EIO) {
		t.Fatalf("insert with a fault: %v", err)
	}
	if after := mustSnapshot(t, root); after != before {
		t.Fatal("a failed insert changed the host")
	}
	if _, err := dev.Insert(tcp4().dstPort(80).to(0, 0).at(3).FlowSpec, 0); err != nil {
		t.Fatalf("the fault fires once: %v", err)
	}
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "ethtool-rule", Match: "eth3/delete", Errno: unix.EBUSY}); err != nil {
		t.Fatal(err)
	}
	if err := dev.Delete(3); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("delete with a fault: %v", err)
	}
	if locs, _, _ := dev.RuleLocations(); len(locs) != 1 {
		t.Fatalf("a failed delete removed the rule: %v", locs)
	}
}
