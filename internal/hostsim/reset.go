package hostsim

// Driver resets of the PF, by class, as ixgbe and igb do them (read in Linux
// 6.1 and 6.12, identical in both for what follows).
//
// ixgbe has two classes:
//   - close: ixgbe_close then ixgbe_open around the change. ixgbe_close
//     calls ixgbe_fdir_filter_exit, which deletes every ntuple rule of the
//     port; ixgbe_open configures the port again (ixgbe_configure →
//     ixgbe_setup_mrqc → ixgbe_setup_reta), which fills the RSS table with
//     the default whatever the user wrote. Caused by ip link set PF down
//     (ixgbe_close alone; up is ixgbe_open), and by ixgbe_setup_tc on a
//     running port: a sriov_numvfs change (ixgbe_pci_sriov_enable /
//     ixgbe_pci_sriov_disable → ixgbe_sriov_reinit), ethtool -L
//     (ixgbe_set_channels), DCB changes (dcb.go), and a native XDP program coming or
//     going (ixgbe_xdp_setup; replacing one program by another does not
//     reset).
//   - reinit: ixgbe_reinit_locked (ixgbe_down, ixgbe_up). The rule list is
//     kept and written back in location order (ixgbe_configure →
//     ixgbe_fdir_filter_restore); the RSS table is refilled. Caused by an
//     ntuple or LRO toggle (ixgbe_set_features → ixgbe_do_reset), an MTU
//     change (ixgbe_change_mtu) and a ring resize (ixgbe_set_ringparam, by
//     ixgbe_down and ixgbe_up).
//
// On a port that is down neither happens (ixgbe_setup_tc and ixgbe_do_reset
// only close, open or reinit a running port): it was closed when it went
// down, rules added since are kept in the list, and ixgbe_open writes them
// and fills the table when it comes up.
//
// igb keeps both: igb_down erases the filters from the hardware, igb_up and
// igb_open write the list back (igb_nfc_filter_restore), and igb_setup_mrqc
// refills the table only when the queue count changed.
//
// Every change the kernel announces and every reset is appended to the
// event feed (events.go); a reset's Detail names the driver functions.

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// resetClass is what a driver reset does to the rules and the table.
type resetClass int

const (
	// resetClose: ixgbe_close then ixgbe_open (ixgbe_setup_tc).
	resetClose resetClass = iota
	// resetReinit: ixgbe_reinit_locked, or ixgbe_down/ixgbe_up.
	resetReinit
	// resetDown: ixgbe_close alone (the port stays down).
	resetDown
	// resetOpen: ixgbe_open alone (the port comes up).
	resetOpen
)

// ixgbePktHdrPad is IXGBE_PKT_HDR_PAD (ETH_HLEN + ETH_FCS_LEN + 2 *
// VLAN_HLEN), and ixgbeRxBuf3K IXGBE_RXBUFFER_3K, the largest RX buffer
// ixgbe_rx_bufsz gives a ring: a frame above it cannot take native XDP.
const (
	ixgbePktHdrPad = 26
	ixgbeRxBuf3K   = 3072
)

// ixgbeResetDetail is the event's account of a reset of class c on ixgbe
// that found n rules.
func ixgbeResetDetail(c resetClass, n int) string {
	switch c {
	case resetClose:
		return fmt.Sprintf("ixgbe_close deleted %d ntuple rules (ixgbe_fdir_filter_exit); ixgbe_open refilled the RSS table (ixgbe_setup_reta)", n)
	case resetDown:
		return fmt.Sprintf("ixgbe_close deleted %d ntuple rules (ixgbe_fdir_filter_exit)", n)
	case resetOpen:
		return fmt.Sprintf("ixgbe_open wrote %d ntuple rules (ixgbe_fdir_filter_restore) and refilled the RSS table (ixgbe_setup_reta)", n)
	}
	return fmt.Sprintf("ixgbe_reinit_locked wrote %d ntuple rules back in location order (ixgbe_fdir_filter_restore) and refilled the RSS table (ixgbe_setup_reta)", n)
}

// portReset does to the PF what a driver reset of class c, caused by cause
// (the driver function, named in the event), does; queuesBefore is the
// queue count before the change.
func (s *Sim) portReset(st *state, c resetClass, cause string, queuesBefore int) error {
	if st.RSS.Down && c != resetDown && c != resetOpen {
		if !st.ixgbe() {
			st.refill(queuesBefore) // what igb_open's igb_setup_mrqc will do
		}
		return nil
	}
	var detail string
	switch {
	case st.ixgbe():
		t, err := s.loadTable(st.PF, nil)
		if err != nil {
			return err
		}
		if c == resetClose || c == resetDown {
			if err := s.saveTable(st.PF, &fdirTable{}); err != nil {
				return err
			}
		}
		detail = cause + ": " + ixgbeResetDetail(c, len(t.Rules))
	case st.rxQueues() != queuesBefore:
		detail = cause + ": igb kept the ntuple rules (igb_nfc_filter_restore) and refilled the RSS table for the new queue count (igb_setup_mrqc)"
	default:
		detail = cause + ": igb kept the ntuple rules (igb_nfc_filter_restore) and the RSS table (igb_setup_mrqc: same queue count)"
	}
	if c != resetDown {
		st.refill(queuesBefore)
	}
	return s.emit(host.Event{Link: st.PF, Kind: host.EventReset, Detail: detail})
}

// openSim opens the simulated host at root for the calls below.
func openSim(root string) (*simEthtool, error) {
	h, err := Open(root)
	if err != nil {
		return nil, err
	}
	return h.Ethtool.(*simEthtool), nil
}

// SetLink does `ip link set IF down|up` on the simulated host at root, for
// the PF: down is ixgbe_close (every ntuple rule deleted by
// ixgbe_fdir_filter_exit) or igb_close; up is ixgbe_open (ixgbe_configure:
// the RSS table refilled by ixgbe_setup_reta, rules added while down written
// by ixgbe_fdir_filter_restore) or igb_open (rules and table kept).
func SetLink(root, ifname string, up bool) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	what := map[bool]string{true: "up", false: "down"}[up]
	return e.s.lockedTx(func(st *state) error {
		if err := e.rssPF(st, ifname, "RTM_NEWLINK"); err != nil {
			return fmt.Errorf("ip link set %s %s: %w", ifname, what, err)
		}
		if st.RSS.Down == !up {
			return nil
		}
		carrier := map[bool]string{true: "1", false: "0"}[up]
		dir := "/sys/class/net/" + ifname + "/"
		if err := e.s.writeFile(dir+"operstate", what); err != nil {
			return err
		}
		if err := e.s.writeFile(dir+"carrier", carrier); err != nil {
			return err
		}
		if err := e.s.emit(host.Event{Link: ifname, Kind: host.EventLink, Detail: what}); err != nil {
			return err
		}
		q := st.rxQueues()
		if !up {
			err := e.s.portReset(st, resetDown, "link down", q)
			st.RSS.Down = true
			return err
		}
		st.RSS.Down = false
		return e.s.portReset(st, resetOpen, "link up", q)
	})
}

// mtuRange is the PF driver's min_mtu..max_mtu: ETH_MIN_MTU to
// IXGBE_MAX_JUMBO_FRAME_SIZE - (ETH_HLEN + ETH_FCS_LEN) = 9710 (ixgbe_probe),
// or to MAX_STD_JUMBO_FRAME_SIZE = 9216 (igb_probe).
func (st *state) mtuRange() (int, int) {
	if st.ixgbe() {
		return 68, 9710
	}
	return 68, 9216
}

func (st *state) mtu() int {
	if st.RSS.MTU > 0 {
		return st.RSS.MTU
	}
	return 1500
}

// SetMTU does `ip link set IF mtu N` for the PF: dev_validate_mtu refuses
// (EINVAL) an MTU outside the driver's range; ixgbe_change_mtu refuses one
// whose frame does not fit a 3K buffer while a native XDP program is
// attached, else resets a running port with ixgbe_reinit_locked (rules
// kept); igb_change_mtu runs igb_down/igb_up.
func SetMTU(root, ifname string, mtu int) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.s.lockedTx(func(st *state) error {
		op := func(errno unix.Errno) error {
			return fmt.Errorf("ip link set %s mtu %d: %w", ifname, mtu, errno)
		}
		if err := e.rssPF(st, ifname, "RTM_NEWLINK"); err != nil {
			return fmt.Errorf("ip link set %s mtu %d: %w", ifname, mtu, err)
		}
		lo, hi := st.mtuRange()
		if mtu < lo || mtu > hi {
			return op(unix.EINVAL)
		}
		if mtu == st.mtu() {
			return nil
		}
		if st.ixgbe() && st.RSS.XDP == XDPNative && mtu+ixgbePktHdrPad > ixgbeRxBuf3K {
			return fmt.Errorf("%w (ixgbe_change_mtu: requested MTU size is not supported with XDP)", op(unix.EINVAL))
		}
		st.RSS.MTU = mtu
		if mtu == 1500 {
			st.RSS.MTU = 0
		}
		if err := e.s.writeFile("/sys/class/net/"+ifname+"/mtu", fmt.Sprint(mtu)); err != nil {
			return err
		}
		if err := e.s.emit(host.Event{Link: ifname, Kind: host.EventMTU, Detail: fmt.Sprint(mtu)}); err != nil {
			return err
		}
		return e.s.portReset(st, resetReinit, map[bool]string{true: "ixgbe_change_mtu", false: "igb_change_mtu"}[st.ixgbe()], st.rxQueues())
	})
}

// ringDefault is IXGBE_DEFAULT_RXD (512) or IGB_DEFAULT_RXD (256); both
// drivers take 64 to 4096 descriptors (IXGBE_MIN_RXD/IXGBE_MAX_RXD,
// IGB_MIN_RXD/IGB_MAX_RXD) and round a request up to a multiple of 8
// (IXGBE_REQ_RX_DESCRIPTOR_MULTIPLE, REQ_RX_DESCRIPTOR_MULTIPLE).
func (st *state) ringDefault() int {
	if st.ixgbe() {
		return 512
	}
	return 256
}

// SetRxRing does `ethtool -G IF rx N` for the PF: the ethtool core refuses
// (EINVAL) more than the maximum; the driver clamps to its minimum and
// rounds up to a multiple of 8; a running port then goes through
// ixgbe_down/ixgbe_up (ixgbe_set_ringparam: rules kept and written back,
// table refilled, like ixgbe_reinit_locked) or igb_down/igb_up.
func SetRxRing(root, ifname string, n int) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.rss(ifname, "rings", "set the ring sizes", func(st *state) error {
		if err := e.rssPF(st, ifname, "ETHTOOL_SRINGPARAM"); err != nil {
			return err
		}
		if n < 1 || n > 4096 {
			return &flows.OpError{Op: "ETHTOOL_SRINGPARAM", Ifname: ifname, Err: unix.EINVAL} // ethtool_set_ringparam: above rx_max_pending
		}
		n = (max(n, 64) + 7) &^ 7
		cur := st.RSS.RxRing
		if cur == 0 {
			cur = st.ringDefault()
		}
		if n == cur {
			return nil
		}
		st.RSS.RxRing = n
		if n == st.ringDefault() {
			st.RSS.RxRing = 0
		}
		if err := e.s.emit(host.Event{Link: ifname, Kind: host.EventRings, Detail: fmt.Sprintf("rx %d", n)}); err != nil {
			return err
		}
		cause := map[bool]string{true: "ixgbe_set_ringparam", false: "igb_set_ringparam"}[st.ixgbe()]
		return e.s.portReset(st, resetReinit, cause, st.rxQueues())
	})
}

// SetChannels does what `ethtool -L IF combined N` does on the simulated
// host at root, with the checks of the ethtool core (ethtool_set_channels,
// ethnl_set_channels: no change is no call; EINVAL above the maximum; while
// the user configured the table, at or below its highest queue
// (ethtool_get_max_rxfh_channel, 6.1 and 6.12); at or below the highest
// queue of an ntuple rule (ethtool_get_max_rxnfc_channel through
// ethtool_check_max_channel: 6.12, not 6.1; the simulator refuses it as the
// stricter kernel does); when a queue that goes away has an AF_XDP socket
// bound (xsk_get_pool_from_qid)), then ixgbe_set_channels → ixgbe_setup_tc
// (a close: rules deleted, table refilled) or igb_set_channels →
// igb_reinit_queues.
func SetChannels(root, ifname string, combined int) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.rss(ifname, "channels", "set the channels", func(st *state) error {
		op := func(errno unix.Errno) error {
			return &flows.OpError{Op: "ETHTOOL_SCHANNELS", Ifname: ifname, Err: errno}
		}
		if err := e.rssPF(st, ifname, "ETHTOOL_SCHANNELS"); err != nil {
			return err
		}
		before := st.rxQueues()
		if combined == before {
			return nil
		}
		if combined < 1 || combined > st.maxChannels() {
			return op(unix.EINVAL)
		}
		if st.RSS.Configured && combined <= int(slices.Max(st.indir())) {
			return fmt.Errorf("%w (requested channel counts are too low for existing indirection table settings)", op(unix.EINVAL))
		}
		if q, err := e.s.maxRuleQueue(st); err != nil {
			return err
		} else if combined <= q {
			return fmt.Errorf("%w (requested channel counts are too low for existing ntuple filter settings)", op(unix.EINVAL))
		}
		if st.RSS.XSK > 0 && st.RSS.XSK-1 >= combined {
			return fmt.Errorf("%w (an AF_XDP socket is bound to queue %d)", op(unix.EINVAL), st.RSS.XSK-1)
		}
		st.RSS.Channels = combined
		if len(st.VFs) == 0 && combined == st.defaultQueues() {
			st.RSS.Channels = 0
		}
		if err := e.s.emit(host.Event{Link: ifname, Kind: host.EventChannels, Detail: fmt.Sprintf("combined %d", st.rxQueues())}); err != nil {
			return err
		}
		if st.ixgbe() {
			return e.s.portReset(st, resetClose, "ixgbe_set_channels → ixgbe_setup_tc", before)
		}
		return e.s.portReset(st, resetClose, "igb_set_channels → igb_reinit_queues", before)
	})
}

// maxRuleQueue is the highest RX queue an ntuple rule of the PF sends to
// (ethtool_get_max_rxnfc_channel: the ring of every rule but drop rules), -1
// without one.
func (s *Sim) maxRuleQueue(st *state) (int, error) {
	t, err := s.loadTable(st.PF, nil)
	if err != nil {
		return 0, err
	}
	q := -1
	for _, r := range t.Rules {
		if r.Action != flows.RingDrop {
			q = max(q, int(r.Action&0xffffffff))
		}
	}
	return q, nil
}
