package host

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// NetlinkLinks implements Links with rtnetlink on a netlink.Handle, which
// may be bound to a network namespace.
type NetlinkLinks struct {
	h *netlink.Handle
}

// NewNetlinkLinks returns Links acting through h; nil means the calling
// thread's network namespace.
func NewNetlinkLinks(h *netlink.Handle) *NetlinkLinks {
	if h == nil {
		h = &netlink.Handle{}
	}
	return &NetlinkLinks{h: h}
}

func (n *NetlinkLinks) link(pf string) (netlink.Link, error) {
	l, err := n.h.LinkByName(pf)
	if err != nil {
		return nil, fmt.Errorf("netlink: find interface %s: %w", pf, err)
	}
	return l, nil
}

// VFs implements Links.
func (n *NetlinkLinks) VFs(pf string) ([]VFInfo, error) {
	l, err := n.link(pf)
	if err != nil {
		return nil, err
	}
	var out []VFInfo
	for _, v := range l.Attrs().Vfs {
		out = append(out, VFInfo{Index: v.ID, MAC: v.Mac, VLAN: v.Vlan, QoS: v.Qos, Spoofchk: v.Spoofchk, Trust: v.Trust != 0})
	}
	return out, nil
}

func (n *NetlinkLinks) set(pf string, vf int, what string, f func(netlink.Link) error) error {
	l, err := n.link(pf)
	if err != nil {
		return err
	}
	if err := f(l); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) {
			return fmt.Errorf("netlink: set %s of VF %d on %s: %w (%w: %s has no SR-IOV VFs, its driver takes no VF settings)", what, vf, pf, err, flows.ErrNotSupported, pf)
		}
		return fmt.Errorf("netlink: set %s of VF %d on %s: %w", what, vf, pf, err)
	}
	return nil
}

// SetVFMAC implements Links.
func (n *NetlinkLinks) SetVFMAC(pf string, vf int, mac net.HardwareAddr) error {
	return n.set(pf, vf, "MAC", func(l netlink.Link) error { return n.h.LinkSetVfHardwareAddr(l, vf, mac) })
}

// SetVFVLAN implements Links.
func (n *NetlinkLinks) SetVFVLAN(pf string, vf, vlan, qos int) error {
	return n.set(pf, vf, "VLAN", func(l netlink.Link) error { return n.h.LinkSetVfVlanQos(l, vf, vlan, qos) })
}

// SetVFTrust implements Links.
func (n *NetlinkLinks) SetVFTrust(pf string, vf int, on bool) error {
	return n.set(pf, vf, "trust", func(l netlink.Link) error { return n.h.LinkSetVfTrust(l, vf, on) })
}

// SetVFSpoofchk implements Links.
func (n *NetlinkLinks) SetVFSpoofchk(pf string, vf int, on bool) error {
	return n.set(pf, vf, "spoofchk", func(l netlink.Link) error { return n.h.LinkSetVfSpoofchk(l, vf, on) })
}
