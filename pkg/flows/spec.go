// Package flows models ethtool ntuple rules: ethtool's command-line grammar,
// the struct ethtool_rx_flow_spec the kernel takes, the ring_cookie that
// carries the target VF and queue, and the SIOCETHTOOL client that installs them.
package flows

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// FlowSpecExt mirrors struct ethtool_flow_ext (20 bytes). (The name FlowExt is
// the FLOW_EXT flag.)
type FlowSpecExt struct {
	Padding   [2]byte
	HDest     [6]byte // h_dest
	VlanEtype [2]byte // __be16
	VlanTCI   [2]byte // __be16
	Data      [8]byte // __be32 data[2]
}

// FlowSpec mirrors struct ethtool_rx_flow_spec (168 bytes on 64-bit hosts).
// Multi-byte fields inside HU, MU, HExt and MExt are big-endian, as the
// kernel has them; FlowType, RingCookie and Location are host integers.
type FlowSpec struct {
	FlowType   uint32
	HU         [52]byte // union ethtool_flow_union h_u
	HExt       FlowSpecExt
	MU         [52]byte // union ethtool_flow_union m_u
	MExt       FlowSpecExt
	_          [4]byte
	RingCookie uint64
	Location   uint32
	_          [4]byte
}

// Offsets inside h_u/m_u (union ethtool_flow_union) that the driver
// models in internal/steer and internal/hostsim read, taken from the Go mirrors
// below, which abi_test.go compares with the C header.
const (
	OffIP4Src     = int(unsafe.Offsetof(tcpip4Spec{}.ip4src))   // tcp_ip4_spec.ip4src (usr_ip4_spec too)
	OffIP4Dst     = int(unsafe.Offsetof(tcpip4Spec{}.ip4dst))   // tcp_ip4_spec.ip4dst
	OffIP4Psrc    = int(unsafe.Offsetof(tcpip4Spec{}.psrc))     // tcp_ip4_spec.psrc (usr_ip4_spec.l4_4_bytes)
	OffIP4Pdst    = int(unsafe.Offsetof(tcpip4Spec{}.pdst))     // tcp_ip4_spec.pdst
	OffIP4TOS     = int(unsafe.Offsetof(tcpip4Spec{}.tos))      // tcp_ip4_spec.tos (usr_ip4_spec.tos)
	OffIP4Ver     = int(unsafe.Offsetof(usrip4Spec{}.ip_ver))   // usr_ip4_spec.ip_ver
	OffIP4Proto   = int(unsafe.Offsetof(usrip4Spec{}.proto))    // usr_ip4_spec.proto
	OffIP6L4Proto = int(unsafe.Offsetof(usrip6Spec{}.l4_proto)) // usr_ip6_spec.l4_proto
)

// Go mirrors of the members of union ethtool_flow_union. The parser's field
// tables take their offsets from these types and abi_test.go compares every
// offset and size with the C header.
type (
	// tcpip4Spec is struct ethtool_tcpip4_spec (tcp4, udp4, sctp4).
	tcpip4Spec struct {
		ip4src [4]byte
		ip4dst [4]byte
		psrc   [2]byte
		pdst   [2]byte
		tos    uint8
		_      [3]byte
	}
	// ahespip4Spec is struct ethtool_ah_espip4_spec (ah4, esp4).
	ahespip4Spec struct {
		ip4src [4]byte
		ip4dst [4]byte
		spi    [4]byte
		tos    uint8
		_      [3]byte
	}
	// usrip4Spec is struct ethtool_usrip4_spec (ip4).
	usrip4Spec struct {
		ip4src     [4]byte
		ip4dst     [4]byte
		l4_4_bytes [4]byte
		tos        uint8
		ip_ver     uint8
		proto      uint8
		_          [1]byte
	}
	// tcpip6Spec is struct ethtool_tcpip6_spec (tcp6, udp6, sctp6).
	tcpip6Spec struct {
		ip6src [16]byte
		ip6dst [16]byte
		psrc   [2]byte
		pdst   [2]byte
		tclass uint8
		_      [3]byte
	}
	// ahespip6Spec is struct ethtool_ah_espip6_spec (ah6, esp6).
	ahespip6Spec struct {
		ip6src [16]byte
		ip6dst [16]byte
		spi    [4]byte
		tclass uint8
		_      [3]byte
	}
	// usrip6Spec is struct ethtool_usrip6_spec (ip6).
	usrip6Spec struct {
		ip6src     [16]byte
		ip6dst     [16]byte
		l4_4_bytes [4]byte
		tclass     uint8
		l4_proto   uint8
		_          [2]byte
	}
	// ethHdr is struct ethhdr (ether).
	ethHdr struct {
		h_dest   [6]byte
		h_source [6]byte
		h_proto  [2]byte
	}
)

// MarshalBinary encodes fs as the 168 bytes of struct ethtool_rx_flow_spec in
// host byte order (little-endian on amd64 and arm64), padding zeroed.
func (fs FlowSpec) MarshalBinary() ([]byte, error) {
	b := make([]byte, FlowSpecSize)
	fs.encode(b)
	return b, nil
}

func (fs *FlowSpec) encode(b []byte) {
	ne := binary.NativeEndian
	ne.PutUint32(b[offFlowType:], fs.FlowType)
	copy(b[offHU:offHU+unionSize], fs.HU[:])
	fs.HExt.encode(b[offHExt : offHExt+flowExtSize])
	copy(b[offMU:offMU+unionSize], fs.MU[:])
	fs.MExt.encode(b[offMExt : offMExt+flowExtSize])
	clear(b[offMExt+flowExtSize : offRingCookie])
	ne.PutUint64(b[offRingCookie:], fs.RingCookie)
	ne.PutUint32(b[offLocation:], fs.Location)
	clear(b[offLocation+4 : FlowSpecSize])
}

// UnmarshalBinary decodes the 168 bytes of struct ethtool_rx_flow_spec in
// host byte order; padding is ignored.
func (fs *FlowSpec) UnmarshalBinary(b []byte) error {
	if len(b) != FlowSpecSize {
		return fmt.Errorf("flows: struct ethtool_rx_flow_spec is %d bytes, got %d", FlowSpecSize, len(b))
	}
	ne := binary.NativeEndian
	*fs = FlowSpec{}
	fs.FlowType = ne.Uint32(b[offFlowType:])
	copy(fs.HU[:], b[offHU:offHU+unionSize])
	fs.HExt.decode(b[offHExt : offHExt+flowExtSize])
	copy(fs.MU[:], b[offMU:offMU+unionSize])
	fs.MExt.decode(b[offMExt : offMExt+flowExtSize])
	fs.RingCookie = ne.Uint64(b[offRingCookie:])
	fs.Location = ne.Uint32(b[offLocation:])
	return nil
}

func (e *FlowSpecExt) encode(b []byte) {
	copy(b[0:extHDest], e.Padding[:])
	copy(b[extHDest:extVlanEtype], e.HDest[:])
	copy(b[extVlanEtype:extVlanTCI], e.VlanEtype[:])
	copy(b[extVlanTCI:extData], e.VlanTCI[:])
	copy(b[extData:flowExtSize], e.Data[:])
}

func (e *FlowSpecExt) decode(b []byte) {
	copy(e.Padding[:], b[0:extHDest])
	copy(e.HDest[:], b[extHDest:extVlanEtype])
	copy(e.VlanEtype[:], b[extVlanEtype:extVlanTCI])
	copy(e.VlanTCI[:], b[extVlanTCI:extData])
	copy(e.Data[:], b[extData:flowExtSize])
}

// bytes returns the encoding of fs as an array (for the field tables, which
// address the C layout by offset).
func (fs *FlowSpec) bytes() [FlowSpecSize]byte {
	var b [FlowSpecSize]byte
	fs.encode(b[:])
	return b
}

// fromBytes is the inverse of bytes.
func fromBytes(b *[FlowSpecSize]byte) FlowSpec {
	var fs FlowSpec
	_ = fs.UnmarshalBinary(b[:]) // cannot fail: the length is right
	return fs
}

// BaseType is the flow type without the FLOW_EXT, FLOW_MAC_EXT and FLOW_RSS flags.
func (fs FlowSpec) BaseType() uint32 { return fs.FlowType &^ flowFlags }
