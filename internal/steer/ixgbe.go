package steer

// What ixgbe's flow director takes, as the tool knows it: the one place in
// vfbypass that decides which rules an ixgbe port accepts, what it files them
// as, and how it reports them back. It is written from
// drivers/net/ethernet/intel/ixgbe/ixgbe_ethtool.c (ixgbe_flowspec_to_flow_type,
// ixgbe_add_ethtool_fdir_entry, ixgbe_get_ethtool_fdir_entry) and
// ixgbe_82599.c (ixgbe_fdir_set_input_mask_82599). The simulator has its own
// model (internal/hostsim/rules.go); ixgbe_prop_test.go holds the two against
// each other.

import (
	"fmt"
	"net"
	"strings"

	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// IXGBE_ATR_FLOW_TYPE_* (ixgbe_type.h): ixgbe's L4 classes.
const (
	atrIPv4 uint8 = 0x0 // IXGBE_ATR_FLOW_TYPE_IPV4
	atrUDP  uint8 = 0x1 // IXGBE_ATR_FLOW_TYPE_UDPV4
	atrTCP  uint8 = 0x2 // IXGBE_ATR_FLOW_TYPE_TCPV4
	atrSCTP uint8 = 0x3 // IXGBE_ATR_FLOW_TYPE_SCTPV4

	atrL4TypeMask     uint8 = 0x3 // IXGBE_ATR_L4TYPE_MASK
	atrL4TypeIPv6Mask uint8 = 0x4 // IXGBE_ATR_L4TYPE_IPV6_MASK

	// ixgbeDropQueue is IXGBE_FDIR_DROP_QUEUE (ixgbe_type.h): the
	// hardware queue ixgbe_add_ethtool_fdir_entry gives a drop rule.
	ixgbeDropQueue = 127
)

// ixgbeDropRing is the PF ring that is hardware queue 127 with numVFs VFs
// of qpp queues a pool, or -1: with SR-IOV the PF's pool is the last
// (VMDQ_P(0) = numvfs, ixgbe_cache_ring_sriov), so its ring r is hardware
// queue numvfs * qpp + r; ring 1 with 63 VFs (2 a pool), ring 3 with 31 (4
// a pool). A rule to that ring drops, and a drop rule (action -1) delivers
// to it, that is to the kernel.
func ixgbeDropRing(numVFs int, qpp uint32) int {
	r := ixgbeDropQueue - numVFs*int(qpp)
	if numVFs == 0 || r < 0 || r >= int(qpp) {
		return -1
	}
	return r
}

// ixgbeIgnoredUserDef is the part of a rule's user-def value that ixgbe
// ignores: ixgbe_add_ethtool_fdir_entry takes only (unsigned
// char)ntohl(h_ext.data[1]), the low byte (the VM pool); 0 when none.
func ixgbeIgnoredUserDef(fs flows.FlowSpec) uint64 {
	if fs.FlowType&flows.FlowExt == 0 {
		return 0
	}
	var v uint64
	for _, b := range fs.HExt.Data[:7] {
		v = v<<8 | uint64(b)
	}
	return v << 8
}

// fdirInput is the part of ixgbe's union ixgbe_atr_input that an ethtool
// rule fills: the filter, or the port's input mask. Multi-byte fields keep
// network order, as the driver copies them.
type fdirInput struct {
	flowType         uint8
	srcIP, dstIP     [4]byte
	srcPort, dstPort [2]byte
	pool             uint8
	vlan, flex       [2]byte
}

func (a fdirInput) and(m fdirInput) fdirInput {
	a.flowType &= m.flowType
	a.pool &= m.pool
	for i := range a.srcIP {
		a.srcIP[i] &= m.srcIP[i]
		a.dstIP[i] &= m.dstIP[i]
	}
	for i := range a.srcPort {
		a.srcPort[i] &= m.srcPort[i]
		a.dstPort[i] &= m.dstPort[i]
		a.vlan[i] &= m.vlan[i]
		a.flex[i] &= m.flex[i]
	}
	return a
}

// ixgbeFlowType is ixgbe_flowspec_to_flow_type: the IPv4 flow types, with
// FLOW_EXT the only flag; an ip4 rule is filed by h_u.proto alone (its
// mask is not looked at), and is plain IPv4 only when proto is 0 and not
// masked in. why says what ixgbe refuses, in the user's words ("" when
// it takes the rule; a %s in it stands for the rule's flow-type word).
func ixgbeFlowType(fs flows.FlowSpec) (ft uint8, why string) {
	switch {
	case fs.FlowType&flows.FlowRSS != 0:
		return 0, "context: ixgbe has no additional RSS contexts, a rule steers to a queue or a VF"
	case fs.FlowType&flows.FlowMACExt != 0:
		return 0, "dst-mac: ixgbe's perfect filters cannot match a destination MAC"
	}
	switch fs.BaseType() {
	case flows.FlowTCPv4:
		return atrTCP, ""
	case flows.FlowUDPv4:
		return atrUDP, ""
	case flows.FlowSCTPv4:
		return atrSCTP, ""
	case flows.FlowIPv4User:
		switch fs.HU[flows.OffIP4Proto] {
		case 6:
			return atrTCP, ""
		case 17:
			return atrUDP, ""
		case 132:
			return atrSCTP, ""
		case 0:
			if fs.MU[flows.OffIP4Proto] == 0 {
				return atrIPv4, ""
			}
		}
		return 0, fmt.Sprintf("l4proto %d: ixgbe's ip4 rules take l4proto 6 (TCP), 17 (UDP), 132 (SCTP) or none", fs.HU[flows.OffIP4Proto])
	}
	return 0, "flow-type %s: ixgbe's perfect filters take IPv4 TCP, UDP, SCTP and plain IPv4 only"
}

// ixgbeSplit is what ixgbe_add_ethtool_fdir_entry makes of a rule: its
// filter (not yet masked) and its input mask. ok is false (with why) for a
// flow type ixgbe refuses.
func ixgbeSplit(fs flows.FlowSpec) (in, mask fdirInput, why string) {
	ft, why := ixgbeFlowType(fs)
	if why != "" {
		return in, mask, why
	}
	in.flowType = ft
	mask.flowType = atrL4TypeIPv6Mask | atrL4TypeMask
	if ft == atrIPv4 {
		mask.flowType &= atrL4TypeIPv6Mask
	}
	copy(in.srcIP[:], fs.HU[flows.OffIP4Src:])
	copy(mask.srcIP[:], fs.MU[flows.OffIP4Src:])
	copy(in.dstIP[:], fs.HU[flows.OffIP4Dst:])
	copy(mask.dstIP[:], fs.MU[flows.OffIP4Dst:])
	copy(in.srcPort[:], fs.HU[flows.OffIP4Psrc:])
	copy(mask.srcPort[:], fs.MU[flows.OffIP4Psrc:])
	copy(in.dstPort[:], fs.HU[flows.OffIP4Pdst:])
	copy(mask.dstPort[:], fs.MU[flows.OffIP4Pdst:])
	if fs.FlowType&flows.FlowExt != 0 {
		// (unsigned char)ntohl(data[1]): the low byte of data[1].
		in.pool, mask.pool = fs.HExt.Data[7], fs.MExt.Data[7]
		in.vlan, mask.vlan = fs.HExt.VlanTCI, fs.MExt.VlanTCI
		in.flex, mask.flex = fs.HExt.VlanEtype, fs.MExt.VlanEtype
	}
	return in, mask, ""
}

// hwRefusal is ixgbe_fdir_set_input_mask_82599's check of the mask the
// first rule of a port sets (its failure is the insert's EINVAL, "Error
// writing mask"); "" when the 82599 can program it.
func (m fdirInput) hwRefusal() string {
	switch m.pool & 0x7f {
	case 0, 0x7f:
	default:
		return fmt.Sprintf("user-def pool mask %#02x: the 82599 compares the pool (low 7 bits of user-def) entirely or not at all", m.pool)
	}
	if m.flowType&atrL4TypeMask == 0 && (m.srcPort != [2]byte{} || m.dstPort != [2]byte{}) {
		return "src-port/dst-port (l4data) in an ip4 rule without l4proto: the 82599 compares ports only for TCP, UDP and SCTP"
	}
	switch (uint16(m.vlan[0])<<8 | uint16(m.vlan[1])) & 0xefff {
	case 0x0000, 0x0fff, 0xe000, 0xefff:
	default:
		return fmt.Sprintf("vlan mask %#04x: the 82599 compares the VLAN ID (0x0fff), the priority (0xe000), both or neither", uint16(m.vlan[0])<<8|uint16(m.vlan[1]))
	}
	if f := uint16(m.flex[0])<<8 | uint16(m.flex[1]); f != 0 && f != 0xffff {
		return fmt.Sprintf("vlan-etype (flex bytes) mask %#04x: the 82599 compares both bytes or neither", f)
	}
	return ""
}

// maskDiff names the fields whose masks differ between the port's mask
// (have) and a rule's (want), in ethtool's words.
func maskDiff(have, want fdirInput) []string {
	var out []string
	if (have.flowType&atrL4TypeMask == 0) != (want.flowType&atrL4TypeMask == 0) {
		// IXGBE_ATR_L4TYPE_MASK is part of the mask for L4 types and left
		// out for plain IPv4.
		out = append(out, fmt.Sprintf("flow-type mask (installed rules: %s, this rule: %s)", l4Class(have.flowType), l4Class(want.flowType)))
	}
	field := func(name string, h, w []byte, show func([]byte) string) {
		if string(h) != string(w) {
			out = append(out, fmt.Sprintf("%s mask (installed rules compare %s, this rule %s)", name, show(h), show(w)))
		}
	}
	field("src-ip", have.srcIP[:], want.srcIP[:], showIP)
	field("dst-ip", have.dstIP[:], want.dstIP[:], showIP)
	field("src-port", have.srcPort[:], want.srcPort[:], showHex)
	field("dst-port", have.dstPort[:], want.dstPort[:], showHex)
	field("user-def pool", []byte{have.pool}, []byte{want.pool}, showHex)
	field("vlan", have.vlan[:], want.vlan[:], showHex)
	field("vlan-etype", have.flex[:], want.flex[:], showHex)
	return out
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func showIP(b []byte) string {
	if isZero(b) {
		return "none"
	}
	return net.IP(b).String()
}

func showHex(b []byte) string {
	if isZero(b) {
		return "none"
	}
	return fmt.Sprintf("0x%x", b)
}

func l4Class(ft uint8) string {
	if ft&atrL4TypeMask == 0 {
		return "ip4, any L4 type"
	}
	return "tcp4/udp4/sctp4, L4 type compared"
}

// ixgbeReported is the rule as ixgbe holds it and
// ixgbe_get_ethtool_fdir_entry reports it back: the flow type of its class
// (IP_USER_FLOW with ip_ver ETH_RX_NFC_IP4 for plain IPv4) with FLOW_EXT,
// the filter ANDed with the port mask, the port mask, and the pool in
// data[1]. ok is false for a rule ixgbe refuses.
func ixgbeReported(fs flows.FlowSpec) (flows.FlowSpec, bool) {
	in, mask, why := ixgbeSplit(fs)
	if why != "" {
		return fs, false
	}
	in = in.and(mask)
	var out flows.FlowSpec
	switch in.flowType {
	case atrTCP:
		out.FlowType = flows.FlowTCPv4
	case atrUDP:
		out.FlowType = flows.FlowUDPv4
	case atrSCTP:
		out.FlowType = flows.FlowSCTPv4
	default:
		out.FlowType = flows.FlowIPv4User
		out.HU[flows.OffIP4Ver] = flows.EthRxNfcIP4
	}
	out.FlowType |= flows.FlowExt
	copy(out.HU[flows.OffIP4Src:], in.srcIP[:])
	copy(out.MU[flows.OffIP4Src:], mask.srcIP[:])
	copy(out.HU[flows.OffIP4Dst:], in.dstIP[:])
	copy(out.MU[flows.OffIP4Dst:], mask.dstIP[:])
	copy(out.HU[flows.OffIP4Psrc:], in.srcPort[:])
	copy(out.MU[flows.OffIP4Psrc:], mask.srcPort[:])
	copy(out.HU[flows.OffIP4Pdst:], in.dstPort[:])
	copy(out.MU[flows.OffIP4Pdst:], mask.dstPort[:])
	out.HExt.VlanTCI, out.MExt.VlanTCI = in.vlan, mask.vlan
	out.HExt.VlanEtype, out.MExt.VlanEtype = in.flex, mask.flex
	out.HExt.Data[7], out.MExt.Data[7] = in.pool, mask.pool
	out.RingCookie, out.Location = fs.RingCookie, fs.Location
	return out, true
}

// ixgbeKey is what an ixgbe rule matches: its filter ANDed with its mask,
// and the mask. A rule as requested, as journaled, and as the driver
// reports it back have the same key.
func ixgbeKey(fs flows.FlowSpec) (string, bool) {
	in, mask, why := ixgbeSplit(fs)
	if why != "" {
		return "", false
	}
	return fmt.Sprintf("ixgbe %x %x", in.and(mask), mask), true
}

// ixgbeCheck is ixgbe_add_ethtool_fdir_entry's verdict on a rule for a
// port whose mask is set by ref (nil for an empty table): the flow type,
// the one mask per port, and the mask the hardware can program. ("" when
// the driver takes it.) The ring_cookie and the location are checked with
// every driver's (checkTarget, checkLocation).
func ixgbeCheck(fs flows.FlowSpec, ref *flows.FlowSpec) (why string, diff []string) {
	_, mask, why := ixgbeSplit(fs)
	if why != "" {
		return why, nil
	}
	if ref == nil {
		return mask.hwRefusal(), nil
	}
	_, have, rwhy := ixgbeSplit(*ref)
	if rwhy != "" {
		return "", nil // a rule ixgbe would not hold: nothing to compare with
	}
	if have != mask {
		return "", maskDiff(have, mask)
	}
	return "", nil
}

// ixgbeRefusal turns ixgbeCheck's verdict into the error prepare returns.
func (e *env) ixgbeRefusal(what, flowType string, fs flows.FlowSpec, ref *flows.FlowSpec, refWords string) error {
	why, diff := ixgbeCheck(fs, ref)
	switch {
	case why != "":
		if strings.Contains(why, "%s") {
			why = fmt.Sprintf(why, flowType)
		}
		return outcome.Invalid("leave that out: ixgbe's flow director takes tcp4, udp4, sctp4 and ip4 (with l4proto 6, 17, 132 or none) rules, without dst-mac and context, with masks the 82599 can program",
			"%s: %s (driver ixgbe) cannot take this rule: %s", what, e.pf, why)
	case len(diff) > 0:
		return outcome.Invalid(fmt.Sprintf("match on the same fields with the same masks as the installed rules (e.g. %s), or remove those first ('vfbypass steer clear %s', or --all for rules vfbypass did not add)", refWords, e.pf),
			"%s: ixgbe keeps one field mask per port and this rule's differs: %s (kernel masks: set bits are compared; ethtool's 'm' gives the bits to ignore)", what, strings.Join(diff, "; "))
	}
	return nil
}

// HiddenQueueIndir is the RSS indirection table of size entries that keeps
// RX queue q out of RSS on a port whose ETHTOOL_GRXRINGS answers rings: the
// entries spread evenly over the rings below rings but q. The ethtool core
// refuses an entry at or above rings (ethtool_copy_validate_indir, 6.1 and
// 6.12), and ixgbe answers rings = min(num_rx_queues, 16) while a rule may
// target any of up to 63 queues: a queue at or above rings is outside RSS
// already, so needed is false and no table is to be written.
func HiddenQueueIndir(size, rings int, q uint32) (table []uint32, needed bool, err error) {
	if int(q) >= rings {
		return nil, false, nil
	}
	weights := make([]uint32, rings)
	for i := range weights {
		weights[i] = 1
	}
	weights[q] = 0
	table, err = flows.WeightIndir(size, weights)
	if err != nil {
		return nil, false, fmt.Errorf("RSS table without queue %d: %w", q, err)
	}
	return table, true, nil
}
