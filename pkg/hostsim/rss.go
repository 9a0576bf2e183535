package hostsim

// The simulated RSS indirection table, channels and LRO of the PF.
//
// ixgbe (drivers/net/ethernet/intel/ixgbe/ixgbe_ethtool.c, ixgbe_main.c,
// ixgbe_lib.c) on an 82599:
//   - ixgbe_get_rxfh_indir_size: ixgbe_rss_indir_tbl_entries, 128 entries
//     (512 only on X550);
//   - ixgbe_setup_reta fills entry i with i % rss_i on every reset (SR-IOV
//     on or off, an ntuple or LRO change through ixgbe_set_features and
//     ixgbe_do_reset, ethtool -L), whether or not the user configured it
//     (released kernels; a 2025 patch keeps it while the queue count does
//     not change);
//   - ixgbe_get_rxfh/ixgbe_get_reta report the entries masked to the RSS
//     queues (rss_m) with SR-IOV on;
//   - ixgbe_set_rxfh refuses (EINVAL) an entry at or above
//     min(num_rx_queues, ixgbe_rss_indir_tbl_max = 16), at least 2 with
//     SR-IOV;
//   - ixgbe_get_channels: max_combined = ixgbe_max_channels, 16 RSS queues
//     (ixgbe_max_rss_indices), or the RSS mask + 1 with SR-IOV (4 or 2);
//     one "other" vector; combined = the RSS queues in use;
//   - RSC (NETIF_F_LRO) is on by default on the 82599 (ixgbe_sw_init).
//
// igb (drivers/net/ethernet/intel/igb/igb_ethtool.c, igb_main.c) on an
// 82576:
//   - igb_get_rxfh_indir_size: IGB_RETA_SIZE, 128 entries;
//   - igb_setup_mrqc fills entry j with (j * rss_queues) / 128 only when
//     the queue count changed (rss_indir_tbl_init), so a user's table
//     survives resets;
//   - igb_set_rxfh refuses an entry at or above rss_queues (2 with VFs on
//     the 82576);
//   - igb_get_channels: max_combined = igb_max_channels =
//     igb_get_max_rss_queues (8; 2 with VFs on the 82576), combined =
//     rss_queues = min(that, online CPUs) (a 2-vCPU guest: 2 of 8);
//   - no NETIF_F_LRO at all: rx-lro (large-receive-offload) is fixed off.
//
// The kernel itself (net/ethtool/ioctl.c):
//   - ethtool_get_rxfh_indir / ethtool_set_rxfh_indir: EOPNOTSUPP without
//     get_rxfh_indir_size (veth, virtio-net here); a size other than the
//     driver's is EINVAL; an entry not below ETHTOOL_GRXRINGS' count is
//     EINVAL (ethtool_copy_validate_indir); size 0 writes
//     ethtool_rxfh_indir_default (i % rings) and clears
//     IFF_RXFH_CONFIGURED, any other write sets it;
//   - ethtool_set_channels refuses (EINVAL) counts above the maxima, and,
//     while IFF_RXFH_CONFIGURED is set, a receive count at or below the
//     highest queue the table uses (ethtool_get_max_rxfh_channel).
//
// The state persists in state.json ("rss"), so a snapshot compares it byte
// for byte: the table is kept only while it differs from what the driver
// would fill in itself, the configured flag only while set.

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/pkg/flows"
	"github.com/vfbypass/vfbypass/pkg/host"
)

const (
	// indirEntries is ixgbe_rss_indir_tbl_entries on an 82599 and
	// IGB_RETA_SIZE.
	indirEntries = 128
	// ixgbeRSSIndirTblMax is ixgbe_rss_indir_tbl_max on an 82599.
	ixgbeRSSIndirTblMax = 16
	// defaultCPUs is num_online_cpus of a simulated host made without
	// --cpus: enough for the drivers' full RSS.
	defaultCPUs = 16
)

// rssState is the PF's RSS and offload state beyond the queue layout.
type rssState struct {
	// Indir is adapter->rss_indir_tbl while it differs from what the
	// driver fills in itself for the current queue count (nil).
	Indir []uint32 `json:"indir,omitempty"`
	// Configured is IFF_RXFH_CONFIGURED.
	Configured bool `json:"configured,omitempty"`
	// Channels is the combined count set with ethtool -L; 0 is the
	// driver's default, min(its maximum, online CPUs).
	Channels int `json:"channels,omitempty"`
	// LROOff: RSC switched off (ixgbe has it on by default).
	LROOff bool `json:"lro_off,omitempty"`
	// XDP is the mode of the attached XDP program ("" none; AttachXDP).
	XDP string `json:"xdp,omitempty"`
}

func (st *state) ixgbe() bool { return st.Model.PFDriver == "ixgbe" }

func (st *state) cpus() int {
	if st.CPUs > 0 {
		return st.CPUs
	}
	return defaultCPUs
}

// maxChannels is ixgbe_max_channels (bounded by the online CPUs) or
// igb_max_channels (igb_get_max_rss_queues, not bounded by them).
func (st *state) maxChannels() int {
	switch {
	case len(st.VFs) > 0:
		return st.rxQueues()
	case st.ixgbe():
		return min(st.Model.RSSQueues, st.cpus())
	}
	return st.Model.RSSQueues
}

// defaultQueues is the RSS queue count a driver starts with:
// min(its maximum, online CPUs) (ixgbe_set_rss_queues, igb's rss_queues).
func (st *state) defaultQueues() int { return min(st.Model.RSSQueues, st.cpus()) }

// pfQueues is the PF's RSS queue count without VFs: what ethtool -L set,
// else the driver's default.
func (st *state) pfQueues() int {
	if st.RSS.Channels > 0 {
		return st.RSS.Channels
	}
	return st.defaultQueues()
}

// driverIndir is the table the driver fills in itself: ixgbe_setup_reta
// (i % rss_i, read back masked to the RSS queues) or igb_setup_mrqc
// ((j * rss_queues) / 128).
func (st *state) driverIndir() []uint32 {
	q := st.rxQueues()
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

// reset is what a PF reset does to the table: ixgbe_setup_reta fills it
// in again; igb_setup_mrqc only when the queue count changed (queuesBefore).
func (st *state) reset(queuesBefore int) {
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

// RxRings implements host.Ethtool (ETHTOOL_GRXRINGS: num_rx_queues in
// ixgbe_get_rxnfc and igb_get_rxnfc).
func (e *simEthtool) RxRings(ifname string) (int, error) {
	var n int
	err := e.rss(ifname, "rings", "read the RX ring count", func(st *state) error {
		if err := e.rssPF(st, ifname, "ETHTOOL_GRXRINGS"); err != nil {
			return err
		}
		n = st.rxQueues()
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
		rings := st.rxQueues()
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

// SetChannels does what `ethtool -L IF combined N` does on the simulated
// host at root: ethtool_set_channels' checks (EINVAL above the maximum, or
// at or below the highest queue of a table the user configured), then
// ixgbe_set_channels / igb_set_channels, which reset the PF with the new
// queue count (the table is filled in again).
func SetChannels(root, ifname string, combined int) error {
	h, err := Open(root)
	if err != nil {
		return err
	}
	e := h.Ethtool.(*simEthtool)
	return e.rss(ifname, "channels", "set the channels", func(st *state) error {
		op := func(errno unix.Errno) error {
			return &flows.OpError{Op: "ETHTOOL_SCHANNELS", Ifname: ifname, Err: errno}
		}
		if err := e.rssPF(st, ifname, "ETHTOOL_SCHANNELS"); err != nil {
			return err
		}
		if combined == st.rxQueues() {
			return nil
		}
		if combined < 1 || combined > st.maxChannels() {
			return op(unix.EINVAL)
		}
		if st.RSS.Configured && combined <= int(slices.Max(st.indir())) {
			return fmt.Errorf("%w (requested channel counts are too low for existing indirection table settings)", op(unix.EINVAL))
		}
		before := st.rxQueues()
		st.RSS.Channels = combined
		if combined == st.defaultQueues() {
			st.RSS.Channels = 0
		}
		st.reset(before)
		return nil
	})
}

// XDP program modes for AttachXDP.
const (
	XDPNative  = "native"  // XDP_FLAGS_DRV_MODE: the driver's ndo_bpf
	XDPGeneric = "generic" // XDP_FLAGS_SKB_MODE: the kernel's generic XDP
)

// AttachXDP does on the simulated host at root what attaching an XDP
// program to ifname does (as net_af_xdp's libxdp does for `vfbypass rx
// --queue`), with the refusals and side effects of the kernel:
//   - native on ixgbe: ixgbe_xdp_setup refuses (EINVAL) while SR-IOV is on
//     or any ring has RSC (LRO) on; attaching where none was resets the PF
//     (ixgbe_setup_tc), which refills the indirection table
//     (ixgbe_setup_reta);
//   - native on igb: igb_xdp_setup re-opens the device; the table stays
//     (the queue count does not change);
//   - generic: generic_xdp_install switches LRO off (dev_disable_lro),
//     with no reset;
//   - with a program on, ixgbe_fix_features keeps LRO off ("LRO is not
//     supported with XDP").
func AttachXDP(root, ifname, mode string) error {
	h, err := Open(root)
	if err != nil {
		return err
	}
	e := h.Ethtool.(*simEthtool)
	return e.rss(ifname, "xdp", "attach an XDP program", func(st *state) error {
		op := func(errno unix.Errno) error {
			return &flows.OpError{Op: "XDP_SETUP_PROG", Ifname: ifname, Err: errno}
		}
		if err := e.rssPF(st, ifname, "XDP_SETUP_PROG"); err != nil {
			return err
		}
		if st.RSS.XDP != "" {
			return op(unix.EBUSY) // dev_xdp_attach: a program is attached already
		}
		switch mode {
		case XDPGeneric:
			st.RSS.LROOff = st.RSS.LROOff || st.ixgbe()
		case XDPNative:
			if st.ixgbe() && (len(st.VFs) > 0 || !st.RSS.LROOff) {
				return op(unix.EINVAL)
			}
			st.reset(st.rxQueues())
		default:
			return op(unix.EINVAL)
		}
		st.RSS.XDP = mode
		return nil
	})
}

// DetachXDP removes the program AttachXDP attached (a native one on ixgbe
// resets the PF again).
func DetachXDP(root, ifname string) error {
	h, err := Open(root)
	if err != nil {
		return err
	}
	e := h.Ethtool.(*simEthtool)
	return e.rss(ifname, "xdp", "detach the XDP program", func(st *state) error {
		if err := e.rssPF(st, ifname, "XDP_SETUP_PROG"); err != nil {
			return err
		}
		if st.RSS.XDP == XDPNative {
			st.reset(st.rxQueues())
		}
		st.RSS.XDP = ""
		return nil
	})
}
