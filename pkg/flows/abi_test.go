//go:build linux && cgo

package flows

import (
	"testing"
	"unsafe"

	"github.com/vfbypass/vfbypass/pkg/flows/internal/abi"
)

// abiCheckers returns the checks of one member's offset and size, and of
// one type's size, against <linux/ethtool.h> (through internal/abi).
func abiCheckers(t *testing.T) (member func(name string, off, size uintptr), size func(name string, size uintptr)) {
	c, sizes := abi.Members(), abi.Sizes()
	member = func(name string, off, size uintptr) {
		t.Helper()
		m, ok := c[name]
		if !ok {
			t.Fatalf("internal/abi has no %s", name)
		}
		if m.Offset != off || m.Size != size {
			t.Errorf("%s: Go offset %d size %d, C offset %d size %d", name, off, size, m.Offset, m.Size)
		}
	}
	size = func(name string, want uintptr) {
		t.Helper()
		if got, ok := sizes[name]; !ok || got != want {
			t.Errorf("sizeof(%s): Go %d, C %d (known %v)", name, want, got, ok)
		}
	}
	return member, size
}

// TestABILayout compares every offset and size pkg/flows relies on with
// offsetof/sizeof from <linux/ethtool.h> (through cgo, internal/abi).
func TestABILayout(t *testing.T) {
	check, checkSize := abiCheckers(t)

	var fs FlowSpec
	check("ethtool_rx_flow_spec.flow_type", unsafe.Offsetof(fs.FlowType), unsafe.Sizeof(fs.FlowType))
	check("ethtool_rx_flow_spec.h_u", unsafe.Offsetof(fs.HU), unsafe.Sizeof(fs.HU))
	check("ethtool_rx_flow_spec.h_ext", unsafe.Offsetof(fs.HExt), unsafe.Sizeof(fs.HExt))
	check("ethtool_rx_flow_spec.m_u", unsafe.Offsetof(fs.MU), unsafe.Sizeof(fs.MU))
	check("ethtool_rx_flow_spec.m_ext", unsafe.Offsetof(fs.MExt), unsafe.Sizeof(fs.MExt))
	check("ethtool_rx_flow_spec.ring_cookie", unsafe.Offsetof(fs.RingCookie), unsafe.Sizeof(fs.RingCookie))
	check("ethtool_rx_flow_spec.location", unsafe.Offsetof(fs.Location), unsafe.Sizeof(fs.Location))
	checkSize("struct ethtool_rx_flow_spec", unsafe.Sizeof(fs))
	// The encoder's constants (MarshalBinary writes by these).
	check("ethtool_rx_flow_spec.flow_type", offFlowType, 4)
	check("ethtool_rx_flow_spec.h_u", offHU, unionSize)
	check("ethtool_rx_flow_spec.h_ext", offHExt, flowExtSize)
	check("ethtool_rx_flow_spec.m_u", offMU, unionSize)
	check("ethtool_rx_flow_spec.m_ext", offMExt, flowExtSize)
	check("ethtool_rx_flow_spec.ring_cookie", offRingCookie, 8)
	check("ethtool_rx_flow_spec.location", offLocation, 4)
	checkSize("struct ethtool_rx_flow_spec", FlowSpecSize)
	checkSize("union ethtool_flow_union", unionSize)

	var ext FlowSpecExt
	check("ethtool_flow_ext.padding", unsafe.Offsetof(ext.Padding), unsafe.Sizeof(ext.Padding))
	check("ethtool_flow_ext.h_dest", unsafe.Offsetof(ext.HDest), unsafe.Sizeof(ext.HDest))
	check("ethtool_flow_ext.vlan_etype", unsafe.Offsetof(ext.VlanEtype), unsafe.Sizeof(ext.VlanEtype))
	check("ethtool_flow_ext.vlan_tci", unsafe.Offsetof(ext.VlanTCI), unsafe.Sizeof(ext.VlanTCI))
	check("ethtool_flow_ext.data", unsafe.Offsetof(ext.Data), unsafe.Sizeof(ext.Data))
	check("ethtool_flow_ext.h_dest", extHDest, 6)
	check("ethtool_flow_ext.vlan_etype", extVlanEtype, 2)
	check("ethtool_flow_ext.vlan_tci", extVlanTCI, 2)
	check("ethtool_flow_ext.data", extData, 8)
	checkSize("struct ethtool_flow_ext", unsafe.Sizeof(ext))
	checkSize("struct ethtool_flow_ext", flowExtSize)

	var a tcpip4Spec
	check("ethtool_tcpip4_spec.ip4src", unsafe.Offsetof(a.ip4src), unsafe.Sizeof(a.ip4src))
	check("ethtool_tcpip4_spec.ip4dst", unsafe.Offsetof(a.ip4dst), unsafe.Sizeof(a.ip4dst))
	check("ethtool_tcpip4_spec.psrc", unsafe.Offsetof(a.psrc), unsafe.Sizeof(a.psrc))
	check("ethtool_tcpip4_spec.pdst", unsafe.Offsetof(a.pdst), unsafe.Sizeof(a.pdst))
	check("ethtool_tcpip4_spec.tos", unsafe.Offsetof(a.tos), unsafe.Sizeof(a.tos))
	checkSize("struct ethtool_tcpip4_spec", unsafe.Sizeof(a))
	var b ahespip4Spec
	check("ethtool_ah_espip4_spec.ip4src", unsafe.Offsetof(b.ip4src), unsafe.Sizeof(b.ip4src))
	check("ethtool_ah_espip4_spec.ip4dst", unsafe.Offsetof(b.ip4dst), unsafe.Sizeof(b.ip4dst))
	check("ethtool_ah_espip4_spec.spi", unsafe.Offsetof(b.spi), unsafe.Sizeof(b.spi))
	check("ethtool_ah_espip4_spec.tos", unsafe.Offsetof(b.tos), unsafe.Sizeof(b.tos))
	checkSize("struct ethtool_ah_espip4_spec", unsafe.Sizeof(b))
	var u usrip4Spec
	check("ethtool_usrip4_spec.ip4src", unsafe.Offsetof(u.ip4src), unsafe.Sizeof(u.ip4src))
	check("ethtool_usrip4_spec.ip4dst", unsafe.Offsetof(u.ip4dst), unsafe.Sizeof(u.ip4dst))
	check("ethtool_usrip4_spec.l4_4_bytes", unsafe.Offsetof(u.l4_4_bytes), unsafe.Sizeof(u.l4_4_bytes))
	check("ethtool_usrip4_spec.tos", unsafe.Offsetof(u.tos), unsafe.Sizeof(u.tos))
	check("ethtool_usrip4_spec.ip_ver", unsafe.Offsetof(u.ip_ver), unsafe.Sizeof(u.ip_ver))
	check("ethtool_usrip4_spec.proto", unsafe.Offsetof(u.proto), unsafe.Sizeof(u.proto))
	checkSize("struct ethtool_usrip4_spec", unsafe.Sizeof(u))
	check("ethtool_rx_flow_spec.h_u.usr_ip4_spec.ip_ver", uintptr(ipVerOffset), 1)
	// The offsets the driver models in internal/steer and internal/hostsim read,
	// in both structs they read them from (ixgbe takes tcp_ip4_spec's
	// fields from every IPv4 rule, usr_ip4_spec's included).
	for _, x := range []struct {
		member string
		off    int
		size   uintptr
	}{
		{"ethtool_tcpip4_spec.ip4src", OffIP4Src, 4}, {"ethtool_usrip4_spec.ip4src", OffIP4Src, 4},
		{"ethtool_tcpip4_spec.ip4dst", OffIP4Dst, 4}, {"ethtool_usrip4_spec.ip4dst", OffIP4Dst, 4},
		{"ethtool_tcpip4_spec.psrc", OffIP4Psrc, 2}, {"ethtool_usrip4_spec.l4_4_bytes", OffIP4Psrc, 4},
		{"ethtool_tcpip4_spec.pdst", OffIP4Pdst, 2},
		{"ethtool_tcpip4_spec.tos", OffIP4TOS, 1}, {"ethtool_usrip4_spec.tos", OffIP4TOS, 1},
		{"ethtool_usrip4_spec.ip_ver", OffIP4Ver, 1}, {"ethtool_usrip4_spec.proto", OffIP4Proto, 1},
		{"ethtool_usrip6_spec.l4_proto", OffIP6L4Proto, 1},
	} {
		check(x.member, uintptr(x.off), x.size)
	}
	var t6 tcpip6Spec
	check("ethtool_tcpip6_spec.ip6src", unsafe.Offsetof(t6.ip6src), unsafe.Sizeof(t6.ip6src))
	check("ethtool_tcpip6_spec.ip6dst", unsafe.Offsetof(t6.ip6dst), unsafe.Sizeof(t6.ip6dst))
	check("ethtool_tcpip6_spec.psrc", unsafe.Offsetof(t6.psrc), unsafe.Sizeof(t6.psrc))
	check("ethtool_tcpip6_spec.pdst", unsafe.Offsetof(t6.pdst), unsafe.Sizeof(t6.pdst))
	check("ethtool_tcpip6_spec.tclass", unsafe.Offsetof(t6.tclass), unsafe.Sizeof(t6.tclass))
	checkSize("struct ethtool_tcpip6_spec", unsafe.Sizeof(t6))
	var b6 ahespip6Spec
	check("ethtool_ah_espip6_spec.ip6src", unsafe.Offsetof(b6.ip6src), unsafe.Sizeof(b6.ip6src))
	check("ethtool_ah_espip6_spec.ip6dst", unsafe.Offsetof(b6.ip6dst), unsafe.Sizeof(b6.ip6dst))
	check("ethtool_ah_espip6_spec.spi", unsafe.Offsetof(b6.spi), unsafe.Sizeof(b6.spi))
	check("ethtool_ah_espip6_spec.tclass", unsafe.Offsetof(b6.tclass), unsafe.Sizeof(b6.tclass))
	checkSize("struct ethtool_ah_espip6_spec", unsafe.Sizeof(b6))
	var u6 usrip6Spec
	check("ethtool_usrip6_spec.ip6src", unsafe.Offsetof(u6.ip6src), unsafe.Sizeof(u6.ip6src))
	check("ethtool_usrip6_spec.ip6dst", unsafe.Offsetof(u6.ip6dst), unsafe.Sizeof(u6.ip6dst))
	check("ethtool_usrip6_spec.l4_4_bytes", unsafe.Offsetof(u6.l4_4_bytes), unsafe.Sizeof(u6.l4_4_bytes))
	check("ethtool_usrip6_spec.tclass", unsafe.Offsetof(u6.tclass), unsafe.Sizeof(u6.tclass))
	check("ethtool_usrip6_spec.l4_proto", unsafe.Offsetof(u6.l4_proto), unsafe.Sizeof(u6.l4_proto))
	checkSize("struct ethtool_usrip6_spec", unsafe.Sizeof(u6))
	var e ethHdr
	check("ethhdr.h_dest", unsafe.Offsetof(e.h_dest), unsafe.Sizeof(e.h_dest))
	check("ethhdr.h_source", unsafe.Offsetof(e.h_source), unsafe.Sizeof(e.h_source))
	check("ethhdr.h_proto", unsafe.Offsetof(e.h_proto), unsafe.Sizeof(e.h_proto))
	checkSize("struct ethhdr", unsafe.Sizeof(e))

	// struct ethtool_rxnfc, with its flexible rule_locs.
	check("ethtool_rxnfc.cmd", rxnfcCmd, 4)
	check("ethtool_rxnfc.flow_type", rxnfcFlowType, 4)
	check("ethtool_rxnfc.data", rxnfcData, 8)
	check("ethtool_rxnfc.fs", rxnfcFS, FlowSpecSize)
	check("ethtool_rxnfc.rule_cnt", rxnfcRuleCnt, 4)
	check("ethtool_rxnfc.rss_context", rxnfcRSSContext, 4)
	check("ethtool_rxnfc.rule_locs", rxnfcRuleLocs, 0)
	checkSize("struct ethtool_rxnfc", rxnfcSize)

	// struct ifreq as the ioctl passes it.
	var ifr ifreqData
	check("ifreq.ifr_name", unsafe.Offsetof(ifr.name), unsafe.Sizeof(ifr.name))
	check("ifreq.ifr_data", unsafe.Offsetof(ifr.data), unsafe.Sizeof(ifr.data))
	checkSize("struct ifreq", unsafe.Sizeof(ifr))
}

// TestABIFieldTables checks every field of every flow type: the value and
// mask offsets are those of the C member in h_u/m_u (or h_ext/m_ext) and the
// value fits the member.
func TestABIFieldTables(t *testing.T) {
	c := abi.Members()
	n := 0
	for _, ft := range flowTypes {
		for _, f := range ft.fields {
			h, m := "ethtool_rx_flow_spec.h_u."+f.cname, "ethtool_rx_flow_spec.m_u."+f.cname
			if f.ext != 0 {
				h, m = "ethtool_rx_flow_spec.h_ext."+f.cname, "ethtool_rx_flow_spec.m_ext."+f.cname
			}
			hc, ok1 := c[h]
			mc, ok2 := c[m]
			if !ok1 || !ok2 {
				t.Errorf("%s %s: internal/abi lacks %s or %s", ft.name, f.name, h, m)
				continue
			}
			if uintptr(f.off) != hc.Offset+uintptr(f.delta) || uintptr(f.moff) != mc.Offset+uintptr(f.delta) {
				t.Errorf("%s %s: offsets %d/%d, C %s at %d, %s at %d (+%d)", ft.name, f.name, f.off, f.moff, h, hc.Offset, m, mc.Offset, f.delta)
			}
			size := uintptr(f.kind.size() + f.delta)
			if size > hc.Size || (!f.alias && size != hc.Size) {
				t.Errorf("%s %s: %d bytes (+%d) in a %d-byte member %s", ft.name, f.name, f.kind.size(), f.delta, hc.Size, h)
			}
			n++
		}
	}
	if n < 80 {
		t.Fatalf("checked only %d fields", n)
	}
}

// TestABIConstants compares every constant with the C header's value.
func TestABIConstants(t *testing.T) {
	c := abi.Constants()
	for name, v := range map[string]uint64{
		"TCP_V4_FLOW": uint64(FlowTCPv4), "UDP_V4_FLOW": uint64(FlowUDPv4), "SCTP_V4_FLOW": uint64(FlowSCTPv4),
		"AH_ESP_V4_FLOW": uint64(FlowAHESPv4), "TCP_V6_FLOW": uint64(FlowTCPv6), "UDP_V6_FLOW": uint64(FlowUDPv6),
		"SCTP_V6_FLOW": uint64(FlowSCTPv6), "AH_ESP_V6_FLOW": uint64(FlowAHESPv6), "AH_V4_FLOW": uint64(FlowAHv4),
		"ESP_V4_FLOW": uint64(FlowESPv4), "AH_V6_FLOW": uint64(FlowAHv6), "ESP_V6_FLOW": uint64(FlowESPv6),
		"IPV4_USER_FLOW": uint64(FlowIPv4User), "IP_USER_FLOW": uint64(FlowIPv4User), "IPV6_USER_FLOW": uint64(FlowIPv6User),
		"IPV4_FLOW": uint64(FlowIPv4), "IPV6_FLOW": uint64(FlowIPv6), "ETHER_FLOW": uint64(FlowEther),
		"FLOW_EXT": uint64(FlowExt), "FLOW_MAC_EXT": uint64(FlowMACExt), "FLOW_RSS": uint64(FlowRSS),
		"ETH_RX_NFC_IP4":   uint64(EthRxNfcIP4),
		"RX_CLS_FLOW_DISC": RingDrop, "RX_CLS_FLOW_WAKE": RingWake,
		"RX_CLS_LOC_SPECIAL": uint64(RxClsLocSpecial), "RX_CLS_LOC_ANY": uint64(RxClsLocAny),
		"RX_CLS_LOC_FIRST": uint64(RxClsLocFirst), "RX_CLS_LOC_LAST": uint64(RxClsLocLast),
		"ETHTOOL_RX_FLOW_SPEC_RING": RingQueueMask, "ETHTOOL_RX_FLOW_SPEC_RING_VF": RingVFMask,
		"ETHTOOL_RX_FLOW_SPEC_RING_VF_OFF": RingVFShift,
		"ETH_RXFH_CONTEXT_ALLOC":           uint64(EthRxfhContextAlloc),
		"ETHTOOL_GRXRINGS":                 uint64(CmdGRXRings), "ETHTOOL_GRXCLSRLCNT": uint64(CmdGRXClsRlCnt),
		"ETHTOOL_GRXCLSRULE": uint64(CmdGRXClsRule), "ETHTOOL_GRXCLSRLALL": uint64(CmdGRXClsRlAll),
		"ETHTOOL_SRXCLSRLDEL": uint64(CmdSRXClsRlDel), "ETHTOOL_SRXCLSRLINS": uint64(CmdSRXClsRlIns),
		"SIOCETHTOOL": SIOCEthtool, "IFNAMSIZ": uint64(len(ifreqData{}.name)),
		"ETHTOOL_GRXFHINDIR": uint64(CmdGRXFHIndir), "ETHTOOL_SRXFHINDIR": uint64(CmdSRXFHIndir),
		"ETHTOOL_GCHANNELS": uint64(CmdGChannels),
	} {
		got, ok := c[name]
		if !ok {
			t.Errorf("internal/abi lacks %s", name)
		} else if got != v {
			t.Errorf("%s: Go %#x, C %#x", name, v, got)
		}
	}
	if len(c) != 43 {
		t.Errorf("internal/abi has %d constants; every one must be checked here", len(c))
	}
	for _, ft := range flowTypes {
		if c[map[string]string{
			"tcp4": "TCP_V4_FLOW", "udp4": "UDP_V4_FLOW", "sctp4": "SCTP_V4_FLOW", "ah4": "AH_V4_FLOW", "esp4": "ESP_V4_FLOW",
			"ip4": "IPV4_USER_FLOW", "tcp6": "TCP_V6_FLOW", "udp6": "UDP_V6_FLOW", "sctp6": "SCTP_V6_FLOW", "ah6": "AH_V6_FLOW",
			"esp6": "ESP_V6_FLOW", "ip6": "IPV6_USER_FLOW", "ether": "ETHER_FLOW",
		}[ft.name]] != uint64(ft.typ) {
			t.Errorf("flow-type %s has value %#x, not the header's", ft.name, ft.typ)
		}
	}
}
