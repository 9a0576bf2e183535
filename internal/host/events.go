package host

import (
	"context"
	"time"
)

// EventKind is what a kernel notification is about.
type EventKind string

// The notifications a watcher of a PF acts on. The real kernel sends them as
// rtnetlink link messages (link, mtu, vf) and ethtool netlink notifications
// (channels, features, rings); the simulator writes the same kinds to its
// event feed, including for the driver resets it models (reset, xdp).
const (
	// EventLink: IFF_UP or carrier changed.
	EventLink EventKind = "link"
	// EventMTU: the MTU changed.
	EventMTU EventKind = "mtu"
	// EventVF: a VF's settings (MAC, VLAN, trust, spoofchk) changed.
	EventVF EventKind = "vf"
	// EventChannels: the channel (queue) counts changed.
	EventChannels EventKind = "channels"
	// EventFeatures: a feature such as rx-ntuple-filter or rx-lro changed.
	EventFeatures EventKind = "features"
	// EventRings: the ring sizes changed.
	EventRings EventKind = "rings"
	// EventXDP: an XDP program was attached or detached.
	EventXDP EventKind = "xdp"
	// EventReset: the driver reset the port (the simulator names the
	// driver function in Detail; the real kernel has no such message and
	// shows a reset as the link messages around it).
	EventReset EventKind = "reset"
)

// Event is one kernel notification about a network interface.
type Event struct {
	Time time.Time `json:"time"`
	// Link is the interface the notification is about.
	Link string    `json:"link"`
	Kind EventKind `json:"kind"`
	// Detail is a short human-readable account ("down", "combined 2",
	// "ixgbe_close: rules flushed").
	Detail string `json:"detail,omitempty"`
}

// Events subscribes to the kernel's notifications about an interface.
type Events interface {
	// Subscribe delivers the events about ifname (and, for a PF, its VFs)
	// that happen after it returns, until ctx is done; the channel is
	// closed then, or when the source fails (the error is reported by
	// Err after the close).
	Subscribe(ctx context.Context, ifname string) (<-chan Event, error)
	// Err is why the last subscription's channel closed before its
	// context was done, or nil.
	Err() error
}
