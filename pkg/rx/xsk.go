package rx

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// XSKMode says how the kernel serves the AF_XDP sockets of this process
// (net_af_xdp's, one per queue) and how the XDP program that feeds them is
// attached to the interface.
type XSKMode struct {
	// Sockets is the number of AF_XDP sockets the process holds.
	Sockets int `json:"sockets"`
	// ZeroCopy is true when every socket runs in zero-copy mode (the
	// driver's own RX ring fills the UMEM), false when the kernel copies
	// each frame into it (copy mode: generic XDP, or a driver without
	// zero-copy support such as veth's).
	ZeroCopy bool `json:"zero_copy"`
	// XDPMode is the XDP program's attach mode on the interface: "native"
	// (in the driver), "generic" (SKB mode, after the kernel built an
	// skb), "offload", "multi" or "none".
	XDPMode string `json:"xdp_mode"`
	// How says where the answer comes from.
	How string `json:"how"`
}

// String renders m for people: "copy mode (XDP native)".
func (m XSKMode) String() string {
	mode := "copy mode"
	if m.ZeroCopy {
		mode = "zero-copy mode"
	}
	return fmt.Sprintf("%s (XDP program %s)", mode, m.XDPMode)
}

// ProbeXSK reads the mode of this process's AF_XDP sockets from the kernel:
// getsockopt(SOL_XDP, XDP_OPTIONS) on each (XDP_OPTIONS_ZEROCOPY), and the
// XDP attach mode of iface from rtnetlink (IFLA_XDP_ATTACHED). Call it once
// the port is set up (net_af_xdp binds its sockets in the RX queue set-up).
func ProbeXSK(iface string) (XSKMode, error) {
	m := XSKMode{How: "getsockopt(SOL_XDP, XDP_OPTIONS) on the process's AF_XDP sockets; IFLA_XDP_ATTACHED of " + iface}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return m, fmt.Errorf("list /proc/self/fd: %w", err)
	}
	zc := 0
	for _, d := range fds {
		fd, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + d.Name()); err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil || dom != unix.AF_XDP {
			continue
		}
		opts, err := unix.GetsockoptInt(fd, unix.SOL_XDP, unix.XDP_OPTIONS)
		if err != nil {
			return m, fmt.Errorf("AF_XDP socket fd %d: getsockopt XDP_OPTIONS: %w", fd, err)
		}
		m.Sockets++
		if opts&unix.XDP_OPTIONS_ZEROCOPY != 0 {
			zc++
		}
	}
	if m.Sockets == 0 {
		return m, fmt.Errorf("no AF_XDP socket in this process (is the port a net_af_xdp one, and set up?)")
	}
	m.ZeroCopy = zc == m.Sockets
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return m, fmt.Errorf("interface %s: %w", iface, err)
	}
	m.XDPMode = xdpAttachMode(link.Attrs().Xdp)
	return m, nil
}

// xdpAttachedMulti is XDP_ATTACHED_MULTI (include/uapi/linux/if_link.h),
// which the netlink package does not name.
const xdpAttachedMulti = 4

// xdpAttachMode names IFLA_XDP_ATTACHED's value (XDP_ATTACHED_* in
// include/uapi/linux/if_link.h).
func xdpAttachMode(x *netlink.LinkXdp) string {
	if x == nil {
		return "none"
	}
	switch x.AttachMode {
	case nl.XDP_ATTACHED_DRV:
		return "native"
	case nl.XDP_ATTACHED_SKB:
		return "generic"
	case nl.XDP_ATTACHED_HW:
		return "offload"
	case xdpAttachedMulti:
		return "multi"
	case nl.XDP_ATTACHED_NONE:
		return "none"
	}
	return "unknown " + strconv.Itoa(int(x.AttachMode))
}

// ErrNotAFXDP is returned by AFXDPVdev for an interface name that cannot be
// one (empty, or with characters a devargs list would split on).
var ErrNotAFXDP = errors.New("not an interface name")

// AFXDPVdev is the net_af_xdp device that receives from queue q of iface
// alone: "net_af_xdp0,iface=IFACE,start_queue=Q,queue_count=1".
func AFXDPVdev(iface string, q int) (string, error) {
	if iface == "" || len(iface) >= unix.IFNAMSIZ || strings.ContainsAny(iface, ",= /") {
		return "", fmt.Errorf("interface %q: %w", iface, ErrNotAFXDP)
	}
	if q < 0 {
		return "", fmt.Errorf("queue %d: must be 0 or more", q)
	}
	return fmt.Sprintf("net_af_xdp0,iface=%s,start_queue=%d,queue_count=1", iface, q), nil
}
