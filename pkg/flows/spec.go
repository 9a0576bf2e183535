// Package flows models ethtool ntuple rules: ethtool's command-line grammar,
// the struct ethtool_rx_flow_spec the kernel takes, the ring_cookie that
// carries the target VF and queue, and the SIOCETHTOOL client that installs them.
package flows

// FlowExt mirrors struct ethtool_flow_ext (20 bytes).
type FlowExt struct {
	Padding   [2]byte
	HDest     [6]byte // h_dest
	VlanEtype [2]byte // __be16
	VlanTCI   [2]byte // __be16
	Data      [8]byte // __be32 data[2]
}

// FlowSpec mirrors struct ethtool_rx_flow_spec (168 bytes on 64-bit hosts).
type FlowSpec struct {
	FlowType   uint32
	HU         [52]byte // union ethtool_flow_union h_u
	HExt       FlowExt
	MU         [52]byte // union ethtool_flow_union m_u
	MExt       FlowExt
	_          [4]byte
	RingCookie uint64
	Location   uint32
	_          [4]byte
}
