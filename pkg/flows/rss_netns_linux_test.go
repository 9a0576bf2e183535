//go:build linux

package flows

import (
	"strings"
	"testing"
)

// TestVethHasNoIndirectionTable talks SIOCETHTOOL to a real kernel: a veth
// has no get_rxfh_indir_size, so ethtool_get_rxfh_indir and
// ethtool_set_rxfh_indir answer EOPNOTSUPP (for the exact write and the
// size-0 reset alike), while veth_get_channels answers the queue counts
// the veth was made with.
func TestVethHasNoIndirectionTable(t *testing.T) {
	dev := openInVeth(t, "vfbr0", "numtxqueues 3 numrxqueues 4", OpenRSS)
	defer dev.Close()

	_, err := dev.Indir()
	checkNotSupported(t, err, "ETHTOOL_GRXFHINDIR on vfbr0: operation not supported")
	checkNotSupported(t, dev.SetIndir([]uint32{0, 0}), "ETHTOOL_SRXFHINDIR on vfbr0: operation not supported")
	checkNotSupported(t, dev.ResetIndir(), "ETHTOOL_SRXFHINDIR on vfbr0: operation not supported")

	ch, err := dev.Channels()
	if err != nil {
		t.Fatalf("Channels: %v", err)
	}
	// veth_get_channels: max_rx/max_tx = the queues allocated, rx/tx =
	// real_num_rx_queues/real_num_tx_queues, no combined channels.
	if ch.MaxRx != 4 || ch.MaxTx != 3 || ch.Rx != 4 || ch.Tx != 3 || ch.Combined != 0 || ch.RxQueues() != 4 {
		t.Errorf("Channels of a 4-rx/3-tx veth = %+v", ch)
	}
	if _, err := dev.RxRings(); err == nil || !strings.HasPrefix(err.Error(), "ETHTOOL_GRXRINGS on vfbr0: ") {
		t.Errorf("RxRings on veth (no get_rxnfc) = %v", err)
	}
}
