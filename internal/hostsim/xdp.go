package hostsim

// XDP programs and AF_XDP sockets on the PF, as the kernel takes them
// (net/core/dev.c dev_xdp_attach, net/xdp/xsk.c xsk_bind, 6.1 and 6.12)
// and as ixgbe_xdp_setup and igb_xdp_setup react to them.

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// XDP program modes for AttachXDP.
const (
	XDPNative  = "native"  // XDP_FLAGS_DRV_MODE: the driver's ndo_bpf
	XDPGeneric = "generic" // XDP_FLAGS_SKB_MODE: the kernel's generic XDP
)

// xdpAttach is one attach request.
type xdpAttach struct {
	mode    string
	queue   int  // the RX queue an AF_XDP socket binds to, -1 none
	replace bool // without XDP_FLAGS_UPDATE_IF_NOEXIST
}

// AttachXDP does on the simulated host at root what attaching an XDP
// program to ifname does (see attachXDP); a program already attached in the
// same mode is EBUSY, as for libbpf's XDP_FLAGS_UPDATE_IF_NOEXIST.
func AttachXDP(root, ifname, mode string) error {
	return attach(root, ifname, xdpAttach{mode: mode, queue: -1})
}

// AttachXSK is AttachXDP with an AF_XDP socket bound to RX queue queue, as
// DPDK's af_xdp PMD does for `vfbypass rx --queue`.
func AttachXSK(root, ifname, mode string, queue int) error {
	return attach(root, ifname, xdpAttach{mode: mode, queue: queue})
}

// ReplaceXDP replaces the attached program with another in the same mode
// (or attaches one where none is): ixgbe_xdp_setup resets only when a
// program comes or goes, so a replacement does not.
func ReplaceXDP(root, ifname, mode string) error {
	return attach(root, ifname, xdpAttach{mode: mode, queue: -1, replace: true})
}

func attach(root, ifname string, a xdpAttach) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.rss(ifname, "xdp", "attach an XDP program", func(st *state) error {
		if err := e.rssPF(st, ifname, "XDP_SETUP_PROG"); err != nil {
			return err
		}
		return e.s.attachXDP(st, ifname, a)
	})
}

// attachXDP follows dev_xdp_attach and the driver:
//   - native and generic cannot be on together (EEXIST); a program in the
//     same mode is EBUSY with XDP_FLAGS_UPDATE_IF_NOEXIST, else replaced
//     without a reset;
//   - native on ixgbe: ixgbe_xdp_setup refuses (EINVAL) while SR-IOV or
//     DCB is on (dcb.go), while any ring has RSC
//     (LRO) on, or when the frame does not fit the ring's buffer; a program
//     where none was resets the port through ixgbe_setup_tc (a close: rules
//     deleted, table refilled);
//   - native on igb: igb_xdp_setup closes and opens the port (rules and
//     table kept);
//   - generic: generic_xdp_install switches LRO off (dev_disable_lro), which
//     on ixgbe is a feature change and resets the port (ixgbe_set_features
//     → ixgbe_reinit_locked);
//   - an AF_XDP socket binds to a queue below the RX queue count (xsk_bind,
//     xp_assign_dev: EINVAL otherwise).
func (s *Sim) attachXDP(st *state, ifname string, a xdpAttach) error {
	op := func(errno unix.Errno, why string) error {
		err := &flows.OpError{Op: "XDP_SETUP_PROG", Ifname: ifname, Err: errno}
		if why == "" {
			return err
		}
		return fmt.Errorf("%w (%s)", err, why)
	}
	if a.mode != XDPNative && a.mode != XDPGeneric {
		return op(unix.EINVAL, "")
	}
	if a.queue >= st.rxQueues() {
		return op(unix.EINVAL, fmt.Sprintf("xsk_bind: queue %d is not below the %d RX queues", a.queue, st.rxQueues()))
	}
	switch {
	case st.RSS.XDP != "" && st.RSS.XDP != a.mode:
		return op(unix.EEXIST, "native and generic XDP can't be active at the same time")
	case st.RSS.XDP != "" && !a.replace:
		return op(unix.EBUSY, "an XDP program is attached already")
	case st.RSS.XDP != "":
		if a.queue >= 0 {
			st.RSS.XSK = a.queue + 1
		}
		return s.emit(host.Event{Link: ifname, Kind: host.EventXDP, Detail: "replaced " + a.mode})
	}
	q := st.rxQueues()
	switch {
	case a.mode == XDPGeneric:
		if st.lroOn() {
			st.RSS.LROOff = true
			if err := s.emit(host.Event{Link: ifname, Kind: host.EventFeatures, Detail: host.LROFeature + " off (dev_disable_lro)"}); err != nil {
				return err
			}
			if err := s.portReset(st, resetReinit, "generic_xdp_install → dev_disable_lro → ixgbe_set_features", q); err != nil {
				return err
			}
		}
	case st.ixgbe():
		if why := st.ixgbeXDPRefusal(); why != "" {
			return op(unix.EINVAL, why)
		}
		if err := s.portReset(st, resetClose, "ixgbe_xdp_setup → ixgbe_setup_tc", q); err != nil {
			return err
		}
	default:
		if err := s.portReset(st, resetClose, "igb_xdp_setup", q); err != nil {
			return err
		}
	}
	st.RSS.XDP = a.mode
	if a.queue >= 0 {
		st.RSS.XSK = a.queue + 1
	}
	return s.emit(host.Event{Link: ifname, Kind: host.EventXDP, Detail: "attached " + a.mode})
}

// ixgbeXDPRefusal is why ixgbe_xdp_setup refuses a native program (EINVAL),
// or "".
func (st *state) ixgbeXDPRefusal() string {
	switch {
	case len(st.VFs) > 0:
		return "ixgbe_xdp_setup: SR-IOV is on"
	case st.RSS.DCB:
		return "ixgbe_xdp_setup: DCB is on"
	case st.lroOn():
		return "ixgbe_xdp_setup: a ring has RSC (LRO) on"
	case st.mtu()+ixgbePktHdrPad > ixgbeRxBuf3K:
		return "ixgbe_xdp_setup: the frame does not fit the RX buffer"
	}
	return ""
}

// DetachXDP removes the attached program and the AF_XDP socket (as the
// kernel does when the receiver exits): a native one resets the port again
// (ixgbe_xdp_setup → ixgbe_setup_tc, a close; igb_xdp_setup); LRO, switched
// off for a generic one, stays off.
func DetachXDP(root, ifname string) error {
	e, err := openSim(root)
	if err != nil {
		return err
	}
	return e.rss(ifname, "xdp", "detach the XDP program", func(st *state) error {
		if err := e.rssPF(st, ifname, "XDP_SETUP_PROG"); err != nil {
			return err
		}
		return e.s.detachXDP(st, ifname)
	})
}

func (s *Sim) detachXDP(st *state, ifname string) error {
	mode := st.RSS.XDP
	st.RSS.XSK = 0
	if mode == "" {
		return nil
	}
	st.RSS.XDP = ""
	if mode == XDPNative {
		cause := "ixgbe_xdp_setup → ixgbe_setup_tc"
		if !st.ixgbe() {
			cause = "igb_xdp_setup"
		}
		if err := s.portReset(st, resetClose, cause, st.rxQueues()); err != nil {
			return err
		}
	}
	return s.emit(host.Event{Link: ifname, Kind: host.EventXDP, Detail: "detached " + mode})
}

// XDPChanged implements host.Ethtool: the receiver attached (a native
// program with an AF_XDP socket on queue, as DPDK's af_xdp PMD asks libbpf
// for on a driver with ndo_bpf) or detached its program; the simulator does
// what the kernel did then.
func (e *simEthtool) XDPChanged(ifname string, queue int, attached bool) error {
	what := "detach the XDP program"
	if attached {
		what = "attach an XDP program"
	}
	return e.rss(ifname, "xdp", what, func(st *state) error {
		if err := e.rssPF(st, ifname, "XDP_SETUP_PROG"); err != nil {
			return err
		}
		if !attached {
			return e.s.detachXDP(st, ifname)
		}
		return e.s.attachXDP(st, ifname, xdpAttach{mode: XDPNative, queue: queue})
	})
}
