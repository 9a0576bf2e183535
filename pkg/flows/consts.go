package flows

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Flow types of struct ethtool_rx_flow_spec's flow_type, with their C names
// from <linux/ethtool.h>. The hash-only types (AH_ESP_V4_FLOW, IPV4_FLOW...)
// are listed for completeness; ntuple rules use the spec types.
const (
	FlowTCPv4    uint32 = 0x01 // TCP_V4_FLOW
	FlowUDPv4    uint32 = 0x02 // UDP_V4_FLOW
	FlowSCTPv4   uint32 = 0x03 // SCTP_V4_FLOW
	FlowAHESPv4  uint32 = 0x04 // AH_ESP_V4_FLOW (hash only)
	FlowTCPv6    uint32 = 0x05 // TCP_V6_FLOW
	FlowUDPv6    uint32 = 0x06 // UDP_V6_FLOW
	FlowSCTPv6   uint32 = 0x07 // SCTP_V6_FLOW
	FlowAHESPv6  uint32 = 0x08 // AH_ESP_V6_FLOW (hash only)
	FlowAHv4     uint32 = 0x09 // AH_V4_FLOW
	FlowESPv4    uint32 = 0x0a // ESP_V4_FLOW
	FlowAHv6     uint32 = 0x0b // AH_V6_FLOW
	FlowESPv6    uint32 = 0x0c // ESP_V6_FLOW
	FlowIPv4User uint32 = 0x0d // IPV4_USER_FLOW (IP_USER_FLOW)
	FlowIPv6User uint32 = 0x0e // IPV6_USER_FLOW
	FlowIPv4     uint32 = 0x10 // IPV4_FLOW (hash only)
	FlowIPv6     uint32 = 0x11 // IPV6_FLOW (hash only)
	FlowEther    uint32 = 0x12 // ETHER_FLOW

	FlowExt    uint32 = 0x80000000 // FLOW_EXT: h_ext/m_ext vlan_etype, vlan_tci, data are valid
	FlowMACExt uint32 = 0x40000000 // FLOW_MAC_EXT: h_ext/m_ext h_dest is valid
	FlowRSS    uint32 = 0x20000000 // FLOW_RSS: rss_context of struct ethtool_rxnfc is valid

	// flowFlags are the flag bits of flow_type; the rest is the flow type.
	flowFlags = FlowExt | FlowMACExt | FlowRSS
)

// EthRxNfcIP4 is the ip_ver value of struct ethtool_usrip4_spec for IPv4
// (ETH_RX_NFC_IP4); ethtool sets it for every ip4 rule.
const EthRxNfcIP4 uint8 = 1 // ETH_RX_NFC_IP4

// Rule locations and ring_cookie values with a special meaning.
const (
	RxClsLocSpecial uint32 = 0x80000000 // RX_CLS_LOC_SPECIAL: flag in GRXCLSRLCNT data and in a location
	RxClsLocAny     uint32 = 0xffffffff // RX_CLS_LOC_ANY: the driver picks any free location
	RxClsLocFirst   uint32 = 0xfffffffe // RX_CLS_LOC_FIRST: the driver picks the first (highest priority) one
	RxClsLocLast    uint32 = 0xfffffffd // RX_CLS_LOC_LAST: the driver picks the last (lowest priority) one

	// RingDrop is the ring_cookie that discards matching packets (RX_CLS_FLOW_DISC).
	RingDrop uint64 = ^uint64(0) // RX_CLS_FLOW_DISC
	// RingWake is the ring_cookie that wakes the system (RX_CLS_FLOW_WAKE).
	RingWake uint64 = 0xfffffffffffffffe // RX_CLS_FLOW_WAKE

	RingQueueMask uint64 = unix.ETHTOOL_RX_FLOW_SPEC_RING
	RingVFMask    uint64 = unix.ETHTOOL_RX_FLOW_SPEC_RING_VF
	RingVFShift          = unix.ETHTOOL_RX_FLOW_SPEC_RING_VF_OFF

	// EthRxfhContextAlloc is the rss_context value that asks for a new RSS
	// context (ETH_RXFH_CONTEXT_ALLOC); a rule cannot use it.
	EthRxfhContextAlloc uint32 = 0xffffffff // ETH_RXFH_CONTEXT_ALLOC
)

// SIOCETHTOOL commands for ntuple rules (ETHTOOL_* in <linux/ethtool.h>),
// from golang.org/x/sys/unix; abi_test.go checks them against the header.
// The flow types, flags and RX_CLS_* values above are not in x/sys/unix.
const (
	CmdGRXRings    uint32 = unix.ETHTOOL_GRXRINGS
	CmdGRXClsRlCnt uint32 = unix.ETHTOOL_GRXCLSRLCNT
	CmdGRXClsRule  uint32 = unix.ETHTOOL_GRXCLSRULE
	CmdGRXClsRlAll uint32 = unix.ETHTOOL_GRXCLSRLALL
	CmdSRXClsRlDel uint32 = unix.ETHTOOL_SRXCLSRLDEL
	CmdSRXClsRlIns uint32 = unix.ETHTOOL_SRXCLSRLINS

	// SIOCEthtool is the ioctl request number (SIOCETHTOOL, <linux/sockios.h>).
	SIOCEthtool = unix.SIOCETHTOOL
)

// cmdName is the C name of a SIOCETHTOOL command, for error messages.
func cmdName(cmd uint32) string {
	switch cmd {
	case CmdGRXRings:
		return "ETHTOOL_GRXRINGS"
	case CmdGRXClsRlCnt:
		return "ETHTOOL_GRXCLSRLCNT"
	case CmdGRXClsRule:
		return "ETHTOOL_GRXCLSRULE"
	case CmdGRXClsRlAll:
		return "ETHTOOL_GRXCLSRLALL"
	case CmdSRXClsRlDel:
		return "ETHTOOL_SRXCLSRLDEL"
	case CmdSRXClsRlIns:
		return "ETHTOOL_SRXCLSRLINS"
	case CmdGRXFHIndir:
		return "ETHTOOL_GRXFHINDIR"
	case CmdSRXFHIndir:
		return "ETHTOOL_SRXFHINDIR"
	case CmdGChannels:
		return "ETHTOOL_GCHANNELS"
	}
	return fmt.Sprintf("ETHTOOL_%#x", cmd)
}

// Byte layout of struct ethtool_rx_flow_spec and of struct ethtool_rxnfc
// on 64-bit Linux; abi_test.go checks every number against the C header.
const (
	// FlowSpecSize is sizeof(struct ethtool_rx_flow_spec).
	FlowSpecSize = 168

	offFlowType   = 0   // flow_type
	offHU         = 4   // h_u
	offHExt       = 56  // h_ext
	offMU         = 76  // m_u
	offMExt       = 128 // m_ext
	offRingCookie = 152 // ring_cookie
	offLocation   = 160 // location

	unionSize   = 52 // sizeof(union ethtool_flow_union)
	flowExtSize = 20 // sizeof(struct ethtool_flow_ext)

	// Offsets inside struct ethtool_flow_ext.
	extHDest     = 2  // h_dest
	extVlanEtype = 8  // vlan_etype
	extVlanTCI   = 10 // vlan_tci
	extData      = 12 // data

	// struct ethtool_rxnfc.
	rxnfcCmd        = 0   // cmd
	rxnfcFlowType   = 4   // flow_type
	rxnfcData       = 8   // data
	rxnfcFS         = 16  // fs
	rxnfcRuleCnt    = 184 // rule_cnt (union with rss_context)
	rxnfcRSSContext = 184 // rss_context
	rxnfcRuleLocs   = 188 // rule_locs[]
	rxnfcSize       = 192 // sizeof(struct ethtool_rxnfc)
)
