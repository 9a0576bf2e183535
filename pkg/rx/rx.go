// Package rx is a thin cgo binding to DPDK 22.11: EAL initialisation, port
// discovery by PCI address or vdev name, a mempool, port and queue set-up, and
// a receive loop written in C that runs on EAL lcores and counts what it
// receives in C memory, which Go reads while the loop runs.
//
// The loop never calls into Go: Go starts it once per lcore
// (rte_eal_remote_launch on worker lcores, or a direct call on the main lcore
// when there is no worker) and stops it with an atomic flag.
//
// EAL can be initialised once per process (rte_eal_init refuses a second
// call, even after a failed first one, and rte_eal_cleanup does not make it
// callable again). InitEAL therefore returns ErrEALUsed on a second call; that
// once-guard is the only package-level mutable state, and EAL forces it.
// Tests run each EAL scenario in a subprocess.
//
// Build: the package needs cgo and libdpdk-dev (pkg-config libdpdk). With
// the build tag nodpdk, or without cgo, it compiles to a stub whose InitEAL
// returns ErrNoDPDK. PMDs are not linked in: EAL loads Debian's PMD plugins
// from its default plugin directory (/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0).
package rx

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrNoDPDK is returned by InitEAL in a build without DPDK (tag nodpdk or no cgo).
var ErrNoDPDK = errors.New("this build has no DPDK (built with -tags nodpdk or without cgo)")

// ErrEALUsed is returned by InitEAL when EAL was already initialised (or its
// initialisation was attempted) in this process.
var ErrEALUsed = errors.New("DPDK EAL can be initialised only once per process")

// ErrClosed is returned by operations on a closed EAL or port.
var ErrClosed = errors.New("closed")

// Error is a failure DPDK reported: the call, its errno (rte_errno or the
// negative return value) and DPDK's own text for it (rte_strerror).
type Error struct {
	// Op is the DPDK call that failed, with its arguments where useful.
	Op string
	// Errno is the error number; values below 1000 are Linux errnos, above
	// are DPDK's own (E_RTE_SECONDARY, E_RTE_NO_CONFIG).
	Errno int
	// Msg is DPDK's message ("rte_eal_init: Cannot allocate memory").
	Msg string
}

// Error returns DPDK's message for the failure.
func (e *Error) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: errno %d", e.Op, e.Errno)
}

// Unwrap returns the errno as a syscall.Errno for Linux errnos, so that
// errors.Is(err, syscall.ENODEV) works.
func (e *Error) Unwrap() error { return errnoErr(e.Errno) }

// PortConfig says how to set up a port. Zero values pick the defaults noted.
type PortConfig struct {
	// RxQueues is the number of RX queues (default 1). With more than one,
	// RSS spreads IP/TCP/UDP flows over them where the PMD supports it.
	RxQueues int
	// TxQueues is the number of TX queues (default 1; some PMDs refuse 0).
	// Set NoTx to configure none.
	TxQueues int
	// NoTx configures no TX queue.
	NoTx bool
	// RxDesc is the RX ring size per queue (default: the PMD's preference, else 1024).
	RxDesc int
	// Mbufs is the mempool size (default 8191). It must hold every RX
	// ring's descriptors plus the per-lcore caches plus a burst in flight.
	Mbufs int
	// MbufCache is the per-lcore mempool cache (default 256, at most 512).
	MbufCache int
	// Promisc points to true to switch promiscuous mode on, to false to
	// switch it off; nil leaves the port's default.
	Promisc *bool
}

// LoopConfig says how to run the receive loop.
type LoopConfig struct {
	// Lcores are the lcores that poll; queues are dealt to them round-robin.
	// Default: every worker lcore, or the main lcore when there is none.
	Lcores []int
	// Burst is the number of mbufs asked per rte_eth_rx_burst (default 32, at most 512).
	Burst int
	// Match, when set, makes the loop also count the packets of one flow
	// (parsed per packet in C; off by default so the plain loop stays as
	// fast as testpmd's rxonly).
	Match *Flow
}

// Flow is an IPv4 flow to count: zero fields match anything.
type Flow struct {
	// Proto is the IP protocol number (6 TCP, 17 UDP); 0 any.
	Proto uint8
	// Src and Dst are IPv4 addresses; the zero Addr matches any.
	Src, Dst netip.Addr
	// SrcPort and DstPort are TCP/UDP ports; 0 matches any.
	SrcPort, DstPort uint16
}

// String renders f in the words ParseFlow reads.
func (f Flow) String() string {
	var b []string
	switch f.Proto {
	case 6:
		b = append(b, "tcp")
	case 17:
		b = append(b, "udp")
	case 0:
	default:
		b = append(b, "proto "+strconv.Itoa(int(f.Proto)))
	}
	if f.Src.IsValid() {
		b = append(b, "src-ip "+f.Src.String())
	}
	if f.Dst.IsValid() {
		b = append(b, "dst-ip "+f.Dst.String())
	}
	if f.SrcPort != 0 {
		b = append(b, "src-port "+strconv.Itoa(int(f.SrcPort)))
	}
	if f.DstPort != 0 {
		b = append(b, "dst-port "+strconv.Itoa(int(f.DstPort)))
	}
	if len(b) == 0 {
		return "any"
	}
	return strings.Join(b, " ")
}

// ParseFlow reads a flow in ethtool-like words: "udp dst-ip 10.0.0.2
// dst-port 4789", also "tcp4"/"udp4", "proto N", "src-ip A", "src-port P".
func ParseFlow(s string) (Flow, error) {
	var f Flow
	w := strings.Fields(s)
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "tcp", "tcp4":
			f.Proto = 6
			continue
		case "udp", "udp4":
			f.Proto = 17
			continue
		case "proto", "src-ip", "dst-ip", "src-port", "dst-port":
		default:
			return f, fmt.Errorf("flow %q: unknown word %q (use tcp|udp|proto N, src-ip, dst-ip, src-port, dst-port)", s, w[i])
		}
		if i+1 >= len(w) {
			return f, fmt.Errorf("flow %q: %s needs a value", s, w[i])
		}
		if err := f.set(w[i], w[i+1]); err != nil {
			return f, fmt.Errorf("flow %q: %w", s, err)
		}
		i++
	}
	if (f.SrcPort != 0 || f.DstPort != 0) && f.Proto != 0 && f.Proto != 6 && f.Proto != 17 {
		return f, fmt.Errorf("flow %q: ports need tcp or udp", s)
	}
	return f, nil
}

// set reads the value v of the flow's word k (proto, src-ip, dst-ip,
// src-port or dst-port).
func (f *Flow) set(k, v string) error {
	switch k {
	case "proto":
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fmt.Errorf("proto %q: %w", v, err)
		}
		f.Proto = uint8(n)
	case "src-ip", "dst-ip":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%s %q is not an IPv4 address", k, v)
		}
		if k == "src-ip" {
			f.Src = a
		} else {
			f.Dst = a
		}
	default: // src-port, dst-port
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%s %q is not a port (1-65535)", k, v)
		}
		if k == "src-port" {
			f.SrcPort = uint16(n)
		} else {
			f.DstPort = uint16(n)
		}
	}
	return nil
}

// QueueCounters are one RX queue's counts as the loop keeps them.
type QueueCounters struct {
	// Queue is the RX queue id.
	Queue int `json:"queue"`
	// Lcore is the lcore polling the queue.
	Lcore int `json:"lcore"`
	// Packets and Bytes received (bytes are mbuf packet lengths, without CRC).
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Bursts counts polls that returned packets, EmptyPolls polls that did not.
	Bursts     uint64 `json:"bursts"`
	EmptyPolls uint64 `json:"empty_polls"`
	// MatchPackets and MatchBytes count the LoopConfig.Match flow.
	MatchPackets uint64 `json:"match_packets"`
	MatchBytes   uint64 `json:"match_bytes"`
}

// PortStats are the ethdev counters (rte_eth_stats_get) of a port.
type PortStats struct {
	IPackets uint64 `json:"ipackets"`
	IBytes   uint64 `json:"ibytes"`
	// IMissed counts packets the NIC dropped because no descriptor was free.
	IMissed  uint64 `json:"imissed"`
	IErrors  uint64 `json:"ierrors"`
	RxNoMbuf uint64 `json:"rx_nombuf"`
}

// Sum adds up per-queue counters.
func Sum(qs []QueueCounters) QueueCounters {
	var t QueueCounters
	t.Queue, t.Lcore = -1, -1
	for _, q := range qs {
		t.Packets += q.Packets
		t.Bytes += q.Bytes
		t.Bursts += q.Bursts
		t.EmptyPolls += q.EmptyPolls
		t.MatchPackets += q.MatchPackets
		t.MatchBytes += q.MatchBytes
	}
	return t
}

func (c *PortConfig) withDefaults() PortConfig {
	o := *c
	if o.RxQueues <= 0 {
		o.RxQueues = 1
	}
	if o.TxQueues <= 0 {
		o.TxQueues = 1
	}
	if o.NoTx {
		o.TxQueues = 0
	}
	if o.Mbufs <= 0 {
		o.Mbufs = 8191
	}
	if o.MbufCache <= 0 {
		o.MbufCache = 256
	}
	return o
}

func (c *PortConfig) validate() error {
	if c.RxQueues > 128 {
		return fmt.Errorf("%d RX queues: at most 128", c.RxQueues)
	}
	if c.MbufCache > 512 {
		return fmt.Errorf("mbuf cache %d: at most 512 (RTE_MEMPOOL_CACHE_MAX_SIZE)", c.MbufCache)
	}
	if float64(c.MbufCache)*1.5 > float64(c.Mbufs) {
		return fmt.Errorf("mbuf cache %d is too large for %d mbufs (at most 2/3 of them)", c.MbufCache, c.Mbufs)
	}
	if c.RxDesc < 0 || c.RxDesc > 65535 {
		return fmt.Errorf("RX descriptors %d: 0 (default) to 65535", c.RxDesc)
	}
	return nil
}
