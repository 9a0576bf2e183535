package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/mdlayher/genetlink"
	mnl "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// KernelEvents implements Events with the kernel's own notifications:
// rtnetlink link messages (RTNLGRP_LINK: IFF_UP, carrier, MTU, XDP, and a
// change of VF settings, which arrives as a link message without them)
// and the ethtool netlink family's monitor group (channels, features,
// rings). Linux 6.1 and 6.12 send nothing for an RSS table write, an ntuple
// rule insert or delete, or a driver rebind.
type KernelEvents struct {
	// ns is the network namespace listened in (nil: the caller's).
	ns  *netns.NsHandle
	mu  sync.Mutex
	err error
}

// NewKernelEvents listens in namespace ns (nil: the calling thread's).
func NewKernelEvents(ns *netns.NsHandle) *KernelEvents { return &KernelEvents{ns: ns} }

// Err implements Events.
func (k *KernelEvents) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *KernelEvents) setErr(err error) {
	k.mu.Lock()
	k.err = err
	k.mu.Unlock()
}

// linkState is what a link message is compared on.
type linkState struct {
	up, carrier bool
	mtu         int
	xdp         uint32
}

func stateOf(l netlink.Link) linkState {
	a := l.Attrs()
	s := linkState{up: a.Flags&net.FlagUp != 0, carrier: a.RawFlags&unix.IFF_LOWER_UP != 0, mtu: a.MTU}
	if a.Xdp != nil && a.Xdp.Attached {
		s.xdp = a.Xdp.ProgId
	}
	return s
}

// Subscribe implements Events.
func (k *KernelEvents) Subscribe(ctx context.Context, ifname string) (<-chan Event, error) {
	h := &netlink.Handle{}
	if k.ns != nil {
		var err error
		if h, err = netlink.NewHandleAt(*k.ns); err != nil {
			return nil, fmt.Errorf("netlink: events of %s: %w", ifname, err)
		}
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netlink: events of %s: find the interface: %w", ifname, err)
	}
	k.setErr(nil)
	done := make(chan struct{})
	links := make(chan netlink.LinkUpdate, 64)
	opts := netlink.LinkSubscribeOptions{Namespace: k.ns, ErrorCallback: func(err error) {
		select {
		case <-done: // the socket was closed on purpose
		default:
			k.setErr(fmt.Errorf("rtnetlink: %w", err))
		}
	}}
	if err := netlink.LinkSubscribeWithOptions(links, done, opts); err != nil {
		close(done)
		return nil, fmt.Errorf("rtnetlink: subscribe to link messages: %w", err)
	}
	eth, err := dialEthtoolMonitor(k.ns)
	if err != nil {
		close(done)
		return nil, err
	}
	ethEvents := make(chan Event, 64)
	go k.readEthtool(eth, ifname, ethEvents, done)
	out := make(chan Event, 64)
	go k.forward(ctx, ifname, stateOf(l), links, ethEvents, out, func() {
		close(done)
		eth.Close()
		go func() {
			for range links { // the subscription closes it once its socket is closed
			}
		}()
	})
	return out, nil
}

// forward turns link messages about ifname into events and passes the
// ethtool events on, until ctx is done or a source fails.
func (k *KernelEvents) forward(ctx context.Context, ifname string, prev linkState, links <-chan netlink.LinkUpdate, eth <-chan Event, out chan<- Event, stop func()) {
	defer close(out)
	defer stop()
	for {
		var evs []Event
		select {
		case <-ctx.Done():
			return
		case u, ok := <-links:
			if !ok {
				if k.Err() == nil {
					k.setErr(errors.New("rtnetlink: the link subscription ended"))
				}
				return
			}
			if u.Attrs().Name != ifname {
				continue
			}
			evs = linkEvents(&prev, u)
		case ev, ok := <-eth:
			if !ok {
				return
			}
			evs = []Event{ev}
		}
		for _, ev := range evs {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// linkEvents compares a link message with the state before it.
func linkEvents(prev *linkState, u netlink.LinkUpdate) []Event {
	now, name := time.Now(), u.Attrs().Name
	ev := func(k EventKind, d string) Event { return Event{Time: now, Link: name, Kind: k, Detail: d} }
	if u.Header.Type == unix.RTM_DELLINK {
		return []Event{ev(EventLink, "removed")}
	}
	s := stateOf(u.Link)
	var out []Event
	if s.up != prev.up {
		out = append(out, ev(EventLink, map[bool]string{true: "up", false: "down"}[s.up]))
	}
	if s.carrier != prev.carrier {
		out = append(out, ev(EventLink, map[bool]string{true: "carrier on", false: "carrier off"}[s.carrier]))
	}
	if s.mtu != prev.mtu {
		out = append(out, ev(EventMTU, fmt.Sprint(s.mtu)))
	}
	if s.xdp != prev.xdp {
		out = append(out, ev(EventXDP, map[bool]string{true: "attached", false: "detached"}[s.xdp != 0]))
	}
	if len(out) == 0 {
		// A notification sends no IFLA_VFINFO_LIST (no RTEXT_FILTER_VF):
		// a VF setting changed, or an attribute not compared here.
		out = append(out, ev(EventVF, "link changed"))
	}
	*prev = s
	return out
}

// dialEthtoolMonitor joins the ethtool netlink family's monitor group.
func dialEthtoolMonitor(ns *netns.NsHandle) (*genetlink.Conn, error) {
	cfg := &mnl.Config{}
	if ns != nil {
		cfg.NetNS = int(*ns)
	}
	c, err := genetlink.Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("ethtool netlink: dial: %w", err)
	}
	fam, err := c.GetFamily(unix.ETHTOOL_GENL_NAME)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ethtool netlink: family %s (Linux 5.6 or later): %w", unix.ETHTOOL_GENL_NAME, err)
	}
	for _, g := range fam.Groups {
		if g.Name == unix.ETHTOOL_MCGRP_MONITOR_NAME {
			if err := c.JoinGroup(g.ID); err != nil {
				c.Close()
				return nil, fmt.Errorf("ethtool netlink: join %s: %w", g.Name, err)
			}
			return c, nil
		}
	}
	c.Close()
	return nil, fmt.Errorf("ethtool netlink: family %s has no %s group", unix.ETHTOOL_GENL_NAME, unix.ETHTOOL_MCGRP_MONITOR_NAME)
}

// ethtoolKind is the event of a notification a watcher acts on, by its
// message type.
func ethtoolKind(cmd uint8) (EventKind, bool) {
	switch cmd {
	case unix.ETHTOOL_MSG_CHANNELS_NTF:
		return EventChannels, true
	case unix.ETHTOOL_MSG_FEATURES_NTF:
		return EventFeatures, true
	case unix.ETHTOOL_MSG_RINGS_NTF:
		return EventRings, true
	}
	return "", false
}

// readEthtool delivers the monitor group's notifications about ifname
// until the connection is closed.
func (k *KernelEvents) readEthtool(c *genetlink.Conn, ifname string, out chan<- Event, done <-chan struct{}) {
	defer close(out)
	for {
		msgs, _, err := c.Receive()
		if err != nil {
			select {
			case <-done:
			default:
				k.setErr(fmt.Errorf("ethtool netlink: receive: %w", err))
			}
			return
		}
		for _, m := range msgs {
			kind, ok := ethtoolKind(m.Header.Command)
			if !ok || ethtoolDevName(m.Data) != ifname {
				continue
			}
			select {
			case out <- Event{Time: time.Now(), Link: ifname, Kind: kind, Detail: "ethtool " + string(kind)}:
			case <-done:
				return
			}
		}
	}
}

// ethtoolDevName is the interface a notification is about: its header
// (attribute 1 of every ETHTOOL_MSG_*_NTF) names it.
func ethtoolDevName(b []byte) string {
	ad, err := mnl.NewAttributeDecoder(b)
	if err != nil {
		return ""
	}
	var name string
	for ad.Next() {
		if ad.Type() != unix.ETHTOOL_A_CHANNELS_HEADER {
			continue
		}
		ad.Nested(func(nad *mnl.AttributeDecoder) error {
			for nad.Next() {
				if nad.Type() == unix.ETHTOOL_A_HEADER_DEV_NAME {
					name = nad.String()
				}
			}
			return nil
		})
	}
	return name
}
