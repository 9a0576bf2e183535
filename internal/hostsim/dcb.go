package hostsim

// DCB on the PF, as ixgbe takes it through dcbnl (ixgbe_dcb_nl.c and
// ixgbe_main.c, Linux 6.1 and 6.12, identical in both for what follows).
//
// ixgbe_dcbnl_set_state (CEE, the mode ixgbe_sw_init starts in) and
// ixgbe_dcbnl_ieee_setets both end in ixgbe_setup_tc, with 8 traffic classes
// on the 82599 (dcb_cfg.num_tcs.pg_tcs) or 0 to switch DCB off. On a
// running port ixgbe_setup_tc is a close (reset.go): ixgbe_close deletes
// every ntuple rule, ixgbe_open refills the RSS table. With a native XDP
// program attached, switching DCB on is refused (EINVAL) only after that
// close and open: the rules are gone all the same. While DCB is on,
// ixgbe_xdp_setup refuses a native program (xdp.go).
//
// Not modelled: the queue layout DCB implies (ixgbe_set_dcb_queues: 8
// queues per class, RSS over the first class's queues; with SR-IOV,
// ixgbe_set_dcb_sriov_queues), which the simulator leaves as without DCB,
// and the DCB settings themselves (priority groups, PFC, apps).
//
// igb has no dcbnl_ops: dcbnl answers EOPNOTSUPP for it.

import (
	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// SetDCB switches DCB on or off on the PF ifname of the simulated host at
// root, as `dcb`/lldptool do through dcbnl (DCB_CMD_SSTATE →
// ixgbe_dcbnl_set_state → ixgbe_setup_tc). Asking for the state the port
// is in changes nothing; igb is EOPNOTSUPP (no dcbnl_ops).
func SetDCB(root, ifname string, on bool) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.rss(ifname, "dcb", "set DCB", func(st *state) error {
		op := func(errno unix.Errno) error {
			return &flows.OpError{Op: "DCB_CMD_SSTATE", Ifname: ifname, Err: errno}
		}
		if err := e.rssPF(st, ifname, "DCB_CMD_SSTATE"); err != nil {
			return err
		}
		if !st.ixgbe() {
			return op(unix.EOPNOTSUPP)
		}
		if st.RSS.DCB == on {
			return nil // ixgbe_dcbnl_set_state: nothing to do
		}
		const cause = "ixgbe_dcbnl_set_state → ixgbe_setup_tc"
		if on && st.RSS.XDP == XDPNative {
			if err := e.s.portReset(st, resetClose, cause+" (DCB is not supported with XDP)", st.rxQueues()); err != nil {
				return err
			}
			return op(unix.EINVAL)
		}
		st.RSS.DCB = on
		return e.s.portReset(st, resetClose, cause, st.rxQueues())
	})
}
