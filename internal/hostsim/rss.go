package hostsim

// The simulated RSS indirection table, channels, queue layout and LRO of the
// PF. What resets them is in reset.go.
//
// ixgbe (drivers/net/ethernet/intel/ixgbe/, read in Linux 6.1 and 6.12,
// identical for all of this) on an 82599:
//   - ixgbe_sw_init: the RSS limit is min(16 = ixgbe_max_rss_indices,
//     online CPUs), the flow director limit min(63 = IXGBE_MAX_FDIR_INDICES,
//     online CPUs); RSC (NETIF_F_LRO) is on;
//   - ixgbe_set_rss_queues (no SR-IOV): with ATR's sample rate set (always,
//     ntuple on or off) num_rx_queues is the flow director limit, up to 63,
//     while RSS spreads over the RSS indices, at most 16;
//   - ixgbe_set_sriov_queues (SR-IOV): the PF keeps one pool; numvfs + 1
//     pools above 32 select 64-pool mode with min(RSS limit, 2) queues a
//     pool, else 32-pool mode with 4, 2 or 1 (RSS limit > 3, > 1, else);
//     the PF's pool is the last, numvfs, so its ring r is hardware queue
//     numvfs * queues_per_pool + r (VMDQ_P(0));
//   - ixgbe_get_rxnfc: ETHTOOL_GRXRINGS = min(num_rx_queues,
//     ixgbe_rss_indir_tbl_max = 16);
//   - ixgbe_get_channels: combined = the flow director indices without
//     SR-IOV, the RSS indices with it; ixgbe_max_channels: min(63, CPUs)
//     without SR-IOV, the RSS mask + 1 (4 or 2) with it; one "other";
//   - ixgbe_get_rxfh_indir_size: 128 entries (512 only on X550);
//     ixgbe_setup_reta fills entry i with i % rss_i (at least 2 with
//     SR-IOV) on every configure, whether or not the user configured it (a
//     2025 patch keeps it while the queue count does not change: not in
//     6.1 or 6.12); ixgbe_get_reta reports the entries masked to the RSS
//     mask with SR-IOV on;
//   - ixgbe_set_rxfh refuses (EINVAL) an entry at or above
//     min(num_rx_queues, 16), at least 2 with SR-IOV.
//
// igb (drivers/net/ethernet/intel/igb/, 6.1 and 6.12) on an 82576:
//   - igb_get_rxfh_indir_size: IGB_RETA_SIZE, 128 entries;
//   - igb_setup_mrqc fills entry j with (j * rss_queues) / 128 only when
//     the queue count changed (rss_indir_tbl_init), so a user's table
//     survives resets;
//   - igb_set_rxfh refuses an entry at or above rss_queues (2 with VFs on
//     the 82576);
//   - igb_get_channels: max_combined = igb_max_channels =
//     igb_get_max_rss_queues (8; 2 with VFs on the 82576), combined =
//     rss_queues = min(that, online CPUs) (a 2-vCPU guest: 2 of 8);
//     ETHTOOL_GRXRINGS = num_rx_queues;
//   - no NETIF_F_LRO at all: rx-lro (large-receive-offload) is fixed off.
//
// The kernel itself (net/ethtool/ioctl.c, 6.1 and 6.12):
//   - ethtool_get_rxfh_indir / ethtool_set_rxfh_indir: EOPNOTSUPP without
//     get_rxfh_indir_size (veth, virtio-net here); a size other than the
//     driver's is EINVAL; an entry not below ETHTOOL_GRXRINGS' count is
//     EINVAL (ethtool_copy_validate_indir); size 0 writes
//     ethtool_rxfh_indir_default (i % rings) and clears
//     IFF_RXFH_CONFIGURED, any other write sets it (no driver reset clears
//     it).
//
// The state persists in state.json ("rss"), so a snapshot compares it byte
// for byte: the table is kept only while it differs from what the driver
// would fill in itself, the configured flag only while set.

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

const (
	// indirEntries is ixgbe_rss_indir_tbl_entries on an 82599 and
	// IGB_RETA_SIZE.
	indirEntries = 128
	// ixgbeRSSIndirTblMax is ixgbe_rss_indir_tbl_max on an 82599, and
	// ixgbe_max_rss_indices.
	ixgbeRSSIndirTblMax = 16
	// ixgbeMaxFdirIndices is IXGBE_MAX_FDIR_INDICES (ixgbe.h): the most
	// queues the 82599's PF has without SR-IOV.
	ixgbeMaxFdirIndices = 63
	// ixgbeFdirDropQueue is IXGBE_FDIR_DROP_QUEUE (ixgbe_type.h): the
	// hardware queue a drop rule sends to.
	ixgbeFdirDropQueue = 127
	// defaultCPUs is num_online_cpus of a simulated host made without
	// --cpus.
	defaultCPUs = 16
)

// rssState is the PF's RSS, offload and port state beyond the queue layout.
type rssState struct {
	// Indir is adapter->rss_indir_tbl while it differs from what the
	// driver fills in itself for the current queue count (nil).
	Indir []uint32 `json:"indir,omitempty"`
	// Configured is IFF_RXFH_CONFIGURED.
	Configured bool `json:"configured,omitempty"`
	// Channels is the combined count set with ethtool -L (the flow
	// director limit on ixgbe); 0 is the driver's default.
	Channels int `json:"channels,omitempty"`
	// LROOff: RSC switched off (ixgbe has it on by default).
	LROOff bool `json:"lro_off,omitempty"`
	// NoRSC: IXGBE_FLAG2_RSC_CAPABLE cleared by __ixgbe_enable_sriov; only
	// a reload of the driver sets it again, so LRO stays off. It persists
	// in its own file (rscLatch), which Snapshot leaves out.
	NoRSC bool `json:"-"`
	// XDP is the mode of the attached XDP program ("" none).
	XDP string `json:"xdp,omitempty"`
	// XSK is the RX queue an AF_XDP socket is bound to, plus one (0 none).
	XSK int `json:"xsk,omitempty"`
	// Down: the PF is administratively down (ip link set PF down).
	Down bool `json:"down,omitempty"`
	// MTU is the PF's MTU when not 1500.
	MTU int `json:"mtu,omitempty"`
	// RxRing is the RX ring size when not the driver's default (512 on
	// ixgbe, 256 on igb).
	RxRing int `json:"rx_ring,omitempty"`
	// DCB: IXGBE_FLAG_DCB_ENABLED, switched on through dcbnl (dcb.go).
	DCB bool `json:"dcb,omitempty"`
}

func (st *state) ixgbe() bool { return st.Model.PFDriver == "ixgbe" }

// lroOn reports RSC on the ixgbe PF: on unless switched off or cleared by
// SR-IOV.
func (st *state) lroOn() bool { return st.ixgbe() && !st.RSS.LROOff && !st.RSS.NoRSC }

func (st *state) cpus() int {
	if st.CPUs > 0 {
		return st.CPUs
	}
	return defaultCPUs
}

// rssLimit is ring_feature[RING_F_RSS].limit: min(16, CPUs) from
// ixgbe_sw_init, or what ethtool -L set, capped at 16 (ixgbe_set_channels).
// igb's rss_queues.
func (st *state) rssLimit() int {
	if st.RSS.Channels > 0 {
		return min(st.RSS.Channels, st.Model.RSSQueues)
	}
	return min(st.Model.RSSQueues, st.cpus())
}

// defaultQueues is the PF's queue count without VFs and without ethtool
// -L: min(63, CPUs) on ixgbe (the flow director limit), igb's rss_queues.
func (st *state) defaultQueues() int {
	if st.ixgbe() {
		return min(ixgbeMaxFdirIndices, st.cpus())
	}
	return min(st.Model.RSSQueues, st.cpus())
}

// rxQueues is adapter->num_rx_queues: without VFs what ethtool -L set,
// else defaultQueues; with VFs one pool of queuesPerPool on ixgbe, 2 on igb
// (igb_set_sriov_capability / igb_init_queue_configuration on the 82576).
func (st *state) rxQueues() int {
	switch {
	case len(st.VFs) == 0 && st.RSS.Channels > 0:
		return st.RSS.Channels
	case len(st.VFs) == 0:
		return st.defaultQueues()
	case !st.ixgbe():
		return 2
	}
	return st.queuesPerPool()
}

// pools64 reports 64-pool mode: more than 32 pools (numvfs + the PF's).
func (st *state) pools64() bool { return len(st.VFs)+1 > 32 }

// queuesPerPool is adapter->num_rx_queues_per_pool (ixgbe_set_sriov_queues).
func (st *state) queuesPerPool() int {
	l := st.rssLimit()
	switch {
	case len(st.VFs) == 0:
		return 1
	case st.pools64():
		return min(l, 2)
	case l > 3:
		return 4
	case l > 1:
		return 2
	}
	return 1
}

// rssIndices is ring_feature[RING_F_RSS].indices, the queues RSS spreads
// over: at most 16 on ixgbe without VFs, the pool's queues with them.
func (st *state) rssIndices() int {
	if st.ixgbe() && len(st.VFs) == 0 {
		return min(st.rxQueues(), ixgbeRSSIndirTblMax)
	}
	return st.rxQueues()
}

// rxRings is ETHTOOL_GRXRINGS: min(num_rx_queues, 16) on ixgbe
// (ixgbe_get_rxnfc), num_rx_queues on igb (igb_get_rxnfc).
func (st *state) rxRings() int {
	if st.ixgbe() {
		return min(st.rxQueues(), ixgbeRSSIndirTblMax)
	}
	return st.rxQueues()
}

// maxChannels is ixgbe_max_channels (min(63, CPUs); with SR-IOV the RSS
// mask + 1, 4 in 32-pool and 2 in 64-pool mode, bounded by the CPUs) or
// igb_max_channels (igb_get_max_rss_queues, not bounded by the CPUs).
func (st *state) maxChannels() int {
	switch {
	case !st.ixgbe() && len(st.VFs) > 0:
		return st.rxQueues()
	case !st.ixgbe():
		return st.Model.RSSQueues
	case len(st.VFs) > 0 && st.pools64():
		return min(2, st.cpus())
	case len(st.VFs) > 0:
		return min(4, st.cpus())
	}
	return min(ixgbeMaxFdirIndices, st.cpus())
}

// pfHardwareQueue is the hardware queue of the PF's ring r: with SR-IOV
// the PF's pool is the last (VMDQ_P(0) = numvfs), so ring r is
// numvfs * queues_per_pool + r (ixgbe_cache_ring_sriov).
func (st *state) pfHardwareQueue(r int) int {
	if len(st.VFs) == 0 {
		return r
	}
	return len(st.VFs)*st.queuesPerPool() + r
}

// PFRingDrops reports what no ioctl shows: whether PF ring r of the
// simulated ixgbe at root is hardware queue IXGBE_FDIR_DROP_QUEUE (127),
// where ixgbe_add_ethtool_fdir_entry sends drop rules (action -1). The
// driver takes a rule to that ring, and the rule drops; the drop rules
// deliver to that ring. With 63 VFs (2 queues a pool) it is ring 1, with
// 31 VFs (4 a pool) ring 3.
func PFRingDrops(root string, r int) (bool, error) {
	e, err := openSim(root)
	if err != nil {
		return false, err
	}
	var drops bool
	err = e.s.locked(func(st *state) error {
		drops = st.ixgbe() && st.pfHardwareQueue(r) == ixgbeFdirDropQueue
		return nil
	})
	return drops, err
}

// driverIndir is the table the driver fills in itself: ixgbe_setup_reta
// (i % rss_i, at least 2 with SR-IOV, read back masked to the RSS queues)
// or igb_setup_mrqc ((j * rss_queues) / 128).
func (st *state) driverIndir() []uint32 {
	q := st.rssIndices()
	if st.ixgbe() && len(st.VFs) > 0 {
		q = max(q, 2)
	}
	t := make([]uint32, indirEntries)
	for i := range t {
		if st.ixgbe() {
			t[i] = uint32(i % q)
		} else {
			t[i] = uint32(i * q / indirEntries)
		}
	}
	return t
}

// indir is the table as ETHTOOL_GRXFHINDIR reads it.
func (st *state) indir() []uint32 {
	if st.RSS.Indir != nil {
		return slices.Clone(st.RSS.Indir)
	}
	return st.driverIndir()
}

// storeIndir keeps t unless it is what the driver fills in itself.
func (st *state) storeIndir(t []uint32) {
	st.RSS.Indir = nil
	if !slices.Equal(t, st.driverIndir()) {
		st.RSS.Indir = slices.Clone(t)
	}
}

// refill is what a configure does to the table: ixgbe_setup_reta fills it
// in again; igb_setup_mrqc only when the queue count changed
// (queuesBefore).
func (st *state) refill(queuesBefore int) {
	if st.ixgbe() || st.rxQueues() != queuesBefore {
		st.RSS.Indir = nil
	}
}

// rssPF checks that ifname exists and is the PF with a driver that has an
// indirection table; other interfaces (virtio-net eth0) have none.
func (e *simEthtool) rssPF(st *state, ifname, op string) error {
	if err := e.s.netdev(ifname, &flows.OpError{Op: op, Ifname: ifname, Err: unix.ENODEV}); err != nil {
		return err
	}
	if ifname != st.PF {
		return &flows.OpError{Op: op, Ifname: ifname, Err: unix.EOPNOTSUPP}
	}
	return nil
}

// rss runs f under the simulator's lock after the fault list, wording
// errors as the real client does (host.EthtoolError).
func (e *simEthtool) rss(ifname, key, what string, f func(st *state) error) error {
	err := e.s.fault("ethtool", ifname+"/"+key)
	if err == nil {
		err = e.s.locked(f)
	}
	if err != nil {
		return host.EthtoolError(what, ifname, err)
	}
	return nil
}

// RxRings implements host.Ethtool (ETHTOOL_GRXRINGS: rxRings).
func (e *simEthtool) RxRings(ifname string) (int, error) {
	var n int
	err := e.rss(ifname, "rings", "read the RX ring count", func(st *state) error {
		if err := e.rssPF(st, ifname, "ETHTOOL_GRXRINGS"); err != nil {
			return err
		}
		n = st.rxRings()
		return nil
	})
	return n, err
}

// Channels implements host.Ethtool (ixgbe_get_channels, igb_get_channels;
// virtio-net's eth0 has one combined channel).
func (e *simEthtool) Channels(ifname string) (flows.Channels, error) {
	var ch flows.Channels
	err := e.rss(ifname, "channels", "read the channels", func(st *state) error {
		if err := e.s.netdev(ifname, &flows.OpError{Op: "ETHTOOL_GCHANNELS", Ifname: ifname, Err: unix.ENODEV}); err != nil {
			return err
		}
		if ifname != st.PF {
			ch = flows.Channels{MaxCombined: 1, Combined: 1}
			return nil
		}
		ch = flows.Channels{MaxCombined: uint32(st.maxChannels()), MaxOther: 1, Other: 1, Combined: uint32(st.rxQueues())}
		return nil
	})
	return ch, err
}

// Indir implements host.Ethtool.
func (e *simEthtool) Indir(ifname string) ([]uint32, error) {
	var t []uint32
	err := e.rss(ifname, "indir", "read the RSS indirection table", func(st *state) error {
		if err := e.rssPF(st, ifname, "ETHTOOL_GRXFHINDIR"); err != nil {
			return err
		}
		t = st.indir()
		return nil
	})
	return t, err
}

// SetIndir implements host.Ethtool, with the checks of
// ethtool_set_rxfh_indir, then ixgbe_set_rxfh or igb_set_rxfh.
func (e *simEthtool) SetIndir(ifname string, table []uint32) error {
	what := "write the RSS indirection table"
	if len(table) == 0 {
		what = "reset the RSS indirection table"
	}
	if err := e.s.fault("ethtool-set", ifname+"/indir"); err != nil {
		return err
	}
	return e.rss(ifname, "indir", what, func(st *state) error {
		if err := e.rssPF(st, ifname, "ETHTOOL_SRXFHINDIR"); err != nil {
			return err
		}
		op := func(errno unix.Errno) error {
			return &flows.OpError{Op: "ETHTOOL_SRXFHINDIR", Ifname: ifname, Err: errno}
		}
		rings := st.rxRings()
		if len(table) == 0 {
			st.storeIndir(flows.DefaultIndir(indirEntries, rings))
			st.RSS.Configured = false
			return nil
		}
		if len(table) != indirEntries {
			return op(unix.EINVAL) // user_size != dev_size
		}
		limit := st.driverIndirLimit()
		for _, q := range table {
			if int(q) >= rings || int(q) >= limit {
				return op(unix.EINVAL) // ethtool_copy_validate_indir, or the driver's "Verify user input"
			}
		}
		st.storeIndir(table)
		st.RSS.Configured = true
		return nil
	})
}

// driverIndirLimit is the bound set_rxfh puts on entries: ixgbe_set_rxfh's
// max_queues, igb_set_rxfh's num_queues.
func (st *state) driverIndirLimit() int {
	if st.ixgbe() {
		m := min(st.rxQueues(), ixgbeRSSIndirTblMax)
		if len(st.VFs) > 0 && m < 2 {
			m = 2
		}
		return m
	}
	return st.rxQueues()
}
