//go:build linux && cgo

package flows

import (
	"testing"

	"github.com/vfbypass/vfbypass/pkg/flows/internal/abi"
)

// TestABIRSSLayout compares the offsets and sizes the RSS and channel
// commands write by with struct ethtool_rxfh_indir and struct
// ethtool_channels from <linux/ethtool.h> (through cgo, internal/abi).
func TestABIRSSLayout(t *testing.T) {
	c := abi.Members()
	sizes := abi.Sizes()
	check := func(name string, off, size uintptr) {
		t.Helper()
		m, ok := c[name]
		if !ok {
			t.Fatalf("internal/abi has no %s", name)
		}
		if m.Offset != off || m.Size != size {
			t.Errorf("%s: Go offset %d size %d, C offset %d size %d", name, off, size, m.Offset, m.Size)
		}
	}
	check("ethtool_rxfh_indir.cmd", rxfhCmd, 4)
	check("ethtool_rxfh_indir.size", rxfhSize, 4)
	check("ethtool_rxfh_indir.ring_index", rxfhRingIndex, 0) // flexible array of __u32
	if got := sizes["struct ethtool_rxfh_indir"]; got != rxfhIndirSize {
		t.Errorf("sizeof(struct ethtool_rxfh_indir): Go %d, C %d", rxfhIndirSize, got)
	}
	// Channels decodes field i from offset 4+4*i, in this order.
	for i, f := range []string{"max_rx", "max_tx", "max_other", "max_combined", "rx_count", "tx_count", "other_count", "combined_count"} {
		check("ethtool_channels."+f, uintptr(4+4*i), 4)
	}
	check("ethtool_channels.cmd", 0, 4)
	if got := sizes["struct ethtool_channels"]; got != channelsSize {
		t.Errorf("sizeof(struct ethtool_channels): Go %d, C %d", channelsSize, got)
	}
}
