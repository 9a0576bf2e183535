package flows

import "unsafe"

// valueKind is how ethtool reads a field's value and mask words.
type valueKind uint8

const (
	kindU8   valueKind = iota // number 0-255, one byte
	kindBE16                  // number 0-65535, big-endian
	kindBE32                  // 32-bit number, big-endian
	kindBE64                  // 64-bit number, big-endian (user-def)
	kindIP4                   // dotted-quad IPv4 address
	kindIP6                   // IPv6 address
	kindMAC                   // xx:xx:xx:xx:xx:xx
)

// size is the number of bytes a value of kind k takes in the struct.
func (k valueKind) size() int {
	switch k {
	case kindU8:
		return 1
	case kindBE16:
		return 2
	case kindBE32, kindIP4:
		return 4
	case kindBE64:
		return 8
	case kindIP6:
		return 16
	case kindMAC:
		return 6
	}
	return 0
}

// ethtool's flags for "this option was given" (NFC_FLAG_* and NTUPLE_FLAG_*
// in its rxclass.c). A flag seen twice makes ethtool refuse the rule. spi and
// l4data use the value of src-port|dst-port, so on ip4/ip6 (where all four
// name the same l4_4_bytes) they exclude each other and the ports.
const (
	optRing      uint32 = 0x0001
	optLoc       uint32 = 0x0002
	optSAddr     uint32 = 0x0004
	optDAddr     uint32 = 0x0008
	optSPort     uint32 = 0x0010
	optDPort     uint32 = 0x0020
	optSPI       uint32 = 0x0030
	optTOS       uint32 = 0x0040
	optProto     uint32 = 0x0080
	optVlan      uint32 = 0x0100
	optUserDef   uint32 = 0x0200
	optVlanEtype uint32 = 0x0400
	optMAC       uint32 = 0x0800
	optRingVF    uint32 = 0x1000
	optRingQueue uint32 = 0x2000
)

// field is one match field of a flow type: its ethtool name, how its value is
// read, and where value and mask sit in the encoded struct.
type field struct {
	name  string
	kind  valueKind
	flag  uint32
	off   int    // value offset in struct ethtool_rx_flow_spec
	moff  int    // mask offset
	ext   uint32 // FLOW_EXT or FLOW_MAC_EXT that the field sets
	cname string // C member below h_u/h_ext, for the ABI test ("tcp_ip4_spec.ip4src")
	delta int    // bytes past cname (dst-port inside l4_4_bytes)
	// alias marks a field that another field of the flow type covers
	// (ip4's src-port/dst-port/spi inside l4data); Words and Format use
	// the covering field.
	alias bool
	// label is ethtool -n's name of the field; hexOut prints values in hex.
	label  string
	hexOut bool
}

// flowType is one ethtool flow-type word.
type flowType struct {
	name   string
	typ    uint32
	title  string // "Rule Type" line of ethtool -n
	fields []field
}

func uf(name string, kind valueKind, flag uint32, off uintptr, cname, label string) field {
	return field{name: name, kind: kind, flag: flag, off: offHU + int(off), moff: offMU + int(off), cname: cname, label: label}
}

func withDelta(f field, d int) field {
	f.off += d
	f.moff += d
	f.delta = d
	return f
}

func aliasOf(f field) field { f.alias = true; return f }

func hexField(f field) field { f.hexOut = true; return f }

// Fields of struct ethtool_flow_ext, shared by every flow type (dst-mac by
// all but ether).
var (
	extVlanEtypeField = field{name: "vlan-etype", kind: kindBE16, flag: optVlanEtype, off: offHExt + extVlanEtype, moff: offMExt + extVlanEtype, ext: FlowExt, cname: "vlan_etype", label: "VLAN EtherType", hexOut: true}
	extVlanField      = field{name: "vlan", kind: kindBE16, flag: optVlan, off: offHExt + extVlanTCI, moff: offMExt + extVlanTCI, ext: FlowExt, cname: "vlan_tci", label: "VLAN", hexOut: true}
	extUserDefField   = field{name: "user-def", kind: kindBE64, flag: optUserDef, off: offHExt + extData, moff: offMExt + extData, ext: FlowExt, cname: "data", label: "User-defined", hexOut: true}
	extDstMACField    = field{name: "dst-mac", kind: kindMAC, flag: optMAC, off: offHExt + extHDest, moff: offMExt + extHDest, ext: FlowMACExt, cname: "h_dest", label: "Dest MAC addr"}
)

var (
	tcp4Fields = []field{
		uf("src-ip", kindIP4, optSAddr, unsafe.Offsetof(tcpip4Spec{}.ip4src), "tcp_ip4_spec.ip4src", "Src IP addr"),
		uf("dst-ip", kindIP4, optDAddr, unsafe.Offsetof(tcpip4Spec{}.ip4dst), "tcp_ip4_spec.ip4dst", "Dest IP addr"),
		uf("tos", kindU8, optTOS, unsafe.Offsetof(tcpip4Spec{}.tos), "tcp_ip4_spec.tos", "TOS"),
		uf("src-port", kindBE16, optSPort, unsafe.Offsetof(tcpip4Spec{}.psrc), "tcp_ip4_spec.psrc", "Src port"),
		uf("dst-port", kindBE16, optDPort, unsafe.Offsetof(tcpip4Spec{}.pdst), "tcp_ip4_spec.pdst", "Dest port"),
	}
	ahesp4Fields = []field{
		uf("src-ip", kindIP4, optSAddr, unsafe.Offsetof(ahespip4Spec{}.ip4src), "esp_ip4_spec.ip4src", "Src IP addr"),
		uf("dst-ip", kindIP4, optDAddr, unsafe.Offsetof(ahespip4Spec{}.ip4dst), "esp_ip4_spec.ip4dst", "Dest IP addr"),
		uf("tos", kindU8, optTOS, unsafe.Offsetof(ahespip4Spec{}.tos), "esp_ip4_spec.tos", "TOS"),
		hexField(uf("spi", kindBE32, optSPI, unsafe.Offsetof(ahespip4Spec{}.spi), "esp_ip4_spec.spi", "SPI")),
	}
	usr4Fields = []field{
		uf("src-ip", kindIP4, optSAddr, unsafe.Offsetof(usrip4Spec{}.ip4src), "usr_ip4_spec.ip4src", "Src IP addr"),
		uf("dst-ip", kindIP4, optDAddr, unsafe.Offsetof(usrip4Spec{}.ip4dst), "usr_ip4_spec.ip4dst", "Dest IP addr"),
		uf("tos", kindU8, optTOS, unsafe.Offsetof(usrip4Spec{}.tos), "usr_ip4_spec.tos", "TOS"),
		uf("l4proto", kindU8, optProto, unsafe.Offsetof(usrip4Spec{}.proto), "usr_ip4_spec.proto", "Protocol"),
		hexField(uf("l4data", kindBE32, optSPI, unsafe.Offsetof(usrip4Spec{}.l4_4_bytes), "usr_ip4_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(uf("spi", kindBE32, optSPI, unsafe.Offsetof(usrip4Spec{}.l4_4_bytes), "usr_ip4_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(uf("src-port", kindBE16, optSPort, unsafe.Offsetof(usrip4Spec{}.l4_4_bytes), "usr_ip4_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(withDelta(uf("dst-port", kindBE16, optDPort, unsafe.Offsetof(usrip4Spec{}.l4_4_bytes), "usr_ip4_spec.l4_4_bytes", "L4 bytes"), 2)),
	}
	tcp6Fields = []field{
		uf("src-ip", kindIP6, optSAddr, unsafe.Offsetof(tcpip6Spec{}.ip6src), "tcp_ip6_spec.ip6src", "Src IP addr"),
		uf("dst-ip", kindIP6, optDAddr, unsafe.Offsetof(tcpip6Spec{}.ip6dst), "tcp_ip6_spec.ip6dst", "Dest IP addr"),
		uf("tclass", kindU8, optTOS, unsafe.Offsetof(tcpip6Spec{}.tclass), "tcp_ip6_spec.tclass", "Traffic Class"),
		uf("src-port", kindBE16, optSPort, unsafe.Offsetof(tcpip6Spec{}.psrc), "tcp_ip6_spec.psrc", "Src port"),
		uf("dst-port", kindBE16, optDPort, unsafe.Offsetof(tcpip6Spec{}.pdst), "tcp_ip6_spec.pdst", "Dest port"),
	}
	ahesp6Fields = []field{
		uf("src-ip", kindIP6, optSAddr, unsafe.Offsetof(ahespip6Spec{}.ip6src), "esp_ip6_spec.ip6src", "Src IP addr"),
		uf("dst-ip", kindIP6, optDAddr, unsafe.Offsetof(ahespip6Spec{}.ip6dst), "esp_ip6_spec.ip6dst", "Dest IP addr"),
		uf("tclass", kindU8, optTOS, unsafe.Offsetof(ahespip6Spec{}.tclass), "esp_ip6_spec.tclass", "Traffic Class"),
		hexField(uf("spi", kindBE32, optSPI, unsafe.Offsetof(ahespip6Spec{}.spi), "esp_ip6_spec.spi", "SPI")),
	}
	usr6Fields = []field{
		uf("src-ip", kindIP6, optSAddr, unsafe.Offsetof(usrip6Spec{}.ip6src), "usr_ip6_spec.ip6src", "Src IP addr"),
		uf("dst-ip", kindIP6, optDAddr, unsafe.Offsetof(usrip6Spec{}.ip6dst), "usr_ip6_spec.ip6dst", "Dest IP addr"),
		uf("tclass", kindU8, optTOS, unsafe.Offsetof(usrip6Spec{}.tclass), "usr_ip6_spec.tclass", "Traffic Class"),
		uf("l4proto", kindU8, optProto, unsafe.Offsetof(usrip6Spec{}.l4_proto), "usr_ip6_spec.l4_proto", "Protocol"),
		hexField(uf("l4data", kindBE32, optSPI, unsafe.Offsetof(usrip6Spec{}.l4_4_bytes), "usr_ip6_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(uf("spi", kindBE32, optSPI, unsafe.Offsetof(usrip6Spec{}.l4_4_bytes), "usr_ip6_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(uf("src-port", kindBE16, optSPort, unsafe.Offsetof(usrip6Spec{}.l4_4_bytes), "usr_ip6_spec.l4_4_bytes", "L4 bytes")),
		aliasOf(withDelta(uf("dst-port", kindBE16, optDPort, unsafe.Offsetof(usrip6Spec{}.l4_4_bytes), "usr_ip6_spec.l4_4_bytes", "L4 bytes"), 2)),
	}
	etherFields = []field{
		uf("src", kindMAC, optSAddr, unsafe.Offsetof(ethHdr{}.h_source), "ether_spec.h_source", "Src MAC addr"),
		uf("dst", kindMAC, optDAddr, unsafe.Offsetof(ethHdr{}.h_dest), "ether_spec.h_dest", "Dest MAC addr"),
		hexField(uf("proto", kindBE16, optProto, unsafe.Offsetof(ethHdr{}.h_proto), "ether_spec.h_proto", "Ethertype")),
	}
)

// ipExt and etherExt are the struct ethtool_flow_ext fields each flow type
// takes after its own (ether has no dst-mac: its own dst is the MAC).
var (
	ipExt    = []field{extVlanEtypeField, extVlanField, extUserDefField, extDstMACField}
	etherExt = []field{extVlanEtypeField, extVlanField, extUserDefField}
)

func withExt(own, ext []field) []field {
	return append(append([]field{}, own...), ext...)
}

// flowTypes lists ethtool 6.1's flow-type words in its order.
var flowTypes = []flowType{
	{"tcp4", FlowTCPv4, "TCP over IPv4", withExt(tcp4Fields, ipExt)},
	{"udp4", FlowUDPv4, "UDP over IPv4", withExt(tcp4Fields, ipExt)},
	{"sctp4", FlowSCTPv4, "SCTP over IPv4", withExt(tcp4Fields, ipExt)},
	{"ah4", FlowAHv4, "IPSEC AH over IPv4", withExt(ahesp4Fields, ipExt)},
	{"esp4", FlowESPv4, "IPSEC ESP over IPv4", withExt(ahesp4Fields, ipExt)},
	{"ip4", FlowIPv4User, "Raw IPv4", withExt(usr4Fields, ipExt)},
	{"tcp6", FlowTCPv6, "TCP over IPv6", withExt(tcp6Fields, ipExt)},
	{"udp6", FlowUDPv6, "UDP over IPv6", withExt(tcp6Fields, ipExt)},
	{"sctp6", FlowSCTPv6, "SCTP over IPv6", withExt(tcp6Fields, ipExt)},
	{"ah6", FlowAHv6, "IPSEC AH over IPv6", withExt(ahesp6Fields, ipExt)},
	{"esp6", FlowESPv6, "IPSEC ESP over IPv6", withExt(ahesp6Fields, ipExt)},
	{"ip6", FlowIPv6User, "Raw IPv6", withExt(usr6Fields, ipExt)},
	{"ether", FlowEther, "Raw Ethernet", withExt(etherFields, etherExt)},
}

// ipVerOffset is where ethtool writes ETH_RX_NFC_IP4 for ip4 rules.
var ipVerOffset = offHU + int(unsafe.Offsetof(usrip4Spec{}.ip_ver))

func flowTypeByName(name string) (*flowType, bool) {
	for i := range flowTypes {
		if flowTypes[i].name == name {
			return &flowTypes[i], true
		}
	}
	return nil, false
}

func flowTypeByValue(typ uint32) (*flowType, bool) {
	for i := range flowTypes {
		if flowTypes[i].typ == typ {
			return &flowTypes[i], true
		}
	}
	return nil, false
}

func (ft *flowType) field(name string) (field, bool) {
	for _, f := range ft.fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// canonical returns the fields that Words and Format use: every field
// except the aliases.
func (ft *flowType) canonical() []field {
	var out []field
	for _, f := range ft.fields {
		if !f.alias {
			out = append(out, f)
		}
	}
	return out
}

// FlowTypeNames returns ethtool's flow-type words in ethtool's order.
func FlowTypeNames() []string {
	names := make([]string, len(flowTypes))
	for i, ft := range flowTypes {
		names[i] = ft.name
	}
	return names
}

// flowTypesWith returns the flow types that take a field named name.
func flowTypesWith(name string) []string {
	var out []string
	for i := range flowTypes {
		if _, ok := flowTypes[i].field(name); ok {
			out = append(out, flowTypes[i].name)
		}
	}
	return out
}
