//go:build linux && cgo

package flows

import "testing"

// TestABIRSSLayout compares the offsets and sizes the RSS and channel
// commands write by with struct ethtool_rxfh_indir and struct
// ethtool_channels from <linux/ethtool.h> (through cgo, internal/abi).
func TestABIRSSLayout(t *testing.T) {
	check, checkSize := abiCheckers(t)
	check("ethtool_rxfh_indir.cmd", rxfhCmd, 4)
	check("ethtool_rxfh_indir.size", rxfhSize, 4)
	check("ethtool_rxfh_indir.ring_index", rxfhRingIndex, 0) // flexible array of __u32
	checkSize("struct ethtool_rxfh_indir", rxfhIndirSize)
	// Channels decodes field i from offset 4+4*i, in this order.
	for i, f := range []string{"max_rx", "max_tx", "max_other", "max_combined", "rx_count", "tx_count", "other_count", "combined_count"} {
		check("ethtool_channels."+f, uintptr(4+4*i), 4)
	}
	check("ethtool_channels.cmd", 0, 4)
	checkSize("struct ethtool_channels", channelsSize)
}
