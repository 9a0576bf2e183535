package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SIOCETHTOOL commands for RSS and channels (ETHTOOL_* in <linux/ethtool.h>),
// from golang.org/x/sys/unix.
const (
	CmdGRXFHIndir uint32 = unix.ETHTOOL_GRXFHINDIR
	CmdSRXFHIndir uint32 = unix.ETHTOOL_SRXFHINDIR
	CmdGChannels  uint32 = unix.ETHTOOL_GCHANNELS
)

// Byte layout of struct ethtool_rxfh_indir and struct ethtool_channels;
// abi_test.go checks every number against the C header.
const (
	rxfhCmd       = 0 // cmd
	rxfhSize      = 4 // size
	rxfhRingIndex = 8 // ring_index[]
	rxfhIndirSize = 8 // sizeof(struct ethtool_rxfh_indir)

	channelsSize = 36 // sizeof(struct ethtool_channels): cmd and 8 __u32 counts
)

// maxIndirSize bounds the table a driver may report, so that a bad answer
// cannot make the client allocate gigabytes. The largest tables in tree
// drivers have a few thousand entries (ice: 2048; mlx5: up to 2048 per
// context).
const maxIndirSize = 1 << 16

// Channels is struct ethtool_channels as ETHTOOL_GCHANNELS answers it: the
// driver's maxima and current counts of RX-only, TX-only, other
// (link/misc interrupt) and combined channels.
type Channels struct {
	MaxRx, MaxTx, MaxOther, MaxCombined uint32
	Rx, Tx, Other, Combined             uint32
}

// RxQueues is the number of channels that receive: combined plus RX-only.
func (c Channels) RxQueues() int { return int(c.Combined + c.Rx) }

// MaxRxQueues is the most channels that could receive (`ethtool -L` limit).
func (c Channels) MaxRxQueues() int { return int(c.MaxCombined + c.MaxRx) }

// RSS is one interface's RSS indirection table and channel counts as the
// kernel exposes them through SIOCETHTOOL. The table maps each hash bucket
// to an RX ring; its size is fixed by the driver (ixgbe and igb: 128).
type RSS interface {
	// Name is the interface name.
	Name() string
	// RxRings returns the number of RX rings (ETHTOOL_GRXRINGS), the bound
	// the kernel checks every table entry against.
	RxRings() (uint64, error)
	// Indir reads the whole indirection table (ETHTOOL_GRXFHINDIR: once
	// with size 0 for the driver's table size, then with room for it).
	Indir() ([]uint32, error)
	// SetIndir writes table exactly (ETHTOOL_SRXFHINDIR with size =
	// len(table), which must be the driver's table size). The kernel
	// marks the table as configured by the user (IFF_RXFH_CONFIGURED),
	// which stops `ethtool -L` from dropping a queue the table uses.
	SetIndir(table []uint32) error
	// ResetIndir puts the driver's default table back (ETHTOOL_SRXFHINDIR
	// with size 0: entry i = i % RX rings, ethtool_rxfh_indir_default) and
	// clears the configured-by-user flag.
	ResetIndir() error
	// Channels reads the channel counts (ETHTOOL_GCHANNELS).
	Channels() (Channels, error)
	// Close releases the socket.
	Close() error
}

// OpenRSS opens the RSS indirection table and channels of a real interface
// through SIOCETHTOOL, with the same socket and namespace rules as Open. A
// device without an indirection table (veth, virtio-net without RSS)
// answers Indir/SetIndir/ResetIndir with errors matching ErrNotSupported.
func OpenRSS(ifname string) (RSS, error) {
	d, err := Open(ifname)
	if err != nil {
		return nil, err
	}
	return d.(*device), nil
}

// newWords allocates n zeroed bytes that start 8-byte aligned on the Go heap
// (see newRxnfc) and writes cmd at offset 0.
func newWords(cmd uint32, n int) []byte {
	words := make([]uint64, (n+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	binary.NativeEndian.PutUint32(b, cmd)
	return b
}

// indirSize asks ETHTOOL_GRXFHINDIR with size 0: the kernel answers the
// driver's table size and copies nothing else.
func (d *device) indirSize() (uint32, error) {
	buf := newWords(CmdGRXFHIndir, rxfhIndirSize)
	if err := d.do(CmdGRXFHIndir, buf); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint32(buf[rxfhSize:]), nil
}

// Indir implements RSS. ethtool_get_rxfh_indir answers EINVAL when the
// room given is smaller than the table (it never truncates), and writes
// the size it has; a table that grew in between is asked for again.
func (d *device) Indir() ([]uint32, error) {
	for try := 0; try < 4; try++ {
		n, err := d.indirSize()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > maxIndirSize {
			return nil, fmt.Errorf("ETHTOOL_GRXFHINDIR on %s: the driver reports a table of %d entries", d.name, n)
		}
		buf := newWords(CmdGRXFHIndir, rxfhIndirSize+4*int(n))
		binary.NativeEndian.PutUint32(buf[rxfhSize:], n)
		err = d.do(CmdGRXFHIndir, buf)
		if errors.Is(err, syscall.EINVAL) {
			continue // the table grew since it was sized
		}
		if err != nil {
			return nil, err
		}
		got := binary.NativeEndian.Uint32(buf[rxfhSize:])
		if got != n {
			continue
		}
		table := make([]uint32, n)
		for i := range table {
			table[i] = binary.NativeEndian.Uint32(buf[rxfhRingIndex+4*i:])
		}
		return table, nil
	}
	return nil, fmt.Errorf("ETHTOOL_GRXFHINDIR on %s: the table size keeps changing", d.name)
}

// SetIndir implements RSS. The kernel (ethtool_set_rxfh_indir) refuses a
// size other than the driver's and an entry not below ETHTOOL_GRXRINGS'
// count with EINVAL; the driver may refuse more (ixgbe and igb: entries
// at or above the RSS queues they use).
func (d *device) SetIndir(table []uint32) error {
	if len(table) == 0 {
		return fmt.Errorf("ETHTOOL_SRXFHINDIR on %s: an empty table would reset it to the driver's default; call ResetIndir for that", d.name)
	}
	if len(table) > maxIndirSize {
		return fmt.Errorf("ETHTOOL_SRXFHINDIR on %s: a table of %d entries is larger than any driver's", d.name, len(table))
	}
	buf := newWords(CmdSRXFHIndir, rxfhIndirSize+4*len(table))
	binary.NativeEndian.PutUint32(buf[rxfhSize:], uint32(len(table)))
	for i, q := range table {
		binary.NativeEndian.PutUint32(buf[rxfhRingIndex+4*i:], q)
	}
	return d.do(CmdSRXFHIndir, buf)
}

// ResetIndir implements RSS: ETHTOOL_SRXFHINDIR with size 0 and no entries.
func (d *device) ResetIndir() error {
	return d.do(CmdSRXFHIndir, newWords(CmdSRXFHIndir, rxfhIndirSize))
}

// Channels implements RSS.
func (d *device) Channels() (Channels, error) {
	buf := newWords(CmdGChannels, channelsSize)
	if err := d.do(CmdGChannels, buf); err != nil {
		return Channels{}, err
	}
	u := func(i int) uint32 { return binary.NativeEndian.Uint32(buf[4+4*i:]) }
	return Channels{MaxRx: u(0), MaxTx: u(1), MaxOther: u(2), MaxCombined: u(3),
		Rx: u(4), Tx: u(5), Other: u(6), Combined: u(7)}, nil
}

// DefaultIndir is the table the kernel writes for a size-0
// ETHTOOL_SRXFHINDIR: entry i is i % rings (ethtool_rxfh_indir_default).
func DefaultIndir(size, rings int) []uint32 {
	if size <= 0 || rings <= 0 {
		return nil
	}
	t := make([]uint32, size)
	for i := range t {
		t[i] = uint32(i % rings)
	}
	return t
}

// WeightIndir is the table `ethtool -X IF weight W0 W1 ...` writes (ethtool's
// fill_indir_table): queue j gets a contiguous block of about
// size*Wj/sum entries, in queue order. The weights must sum to 1..size.
func WeightIndir(size int, weights []uint32) ([]uint32, error) {
	var sum uint64
	for _, w := range weights {
		sum += uint64(w)
	}
	if sum == 0 || sum > uint64(size) {
		return nil, fmt.Errorf("weights %v: their sum %d must be from 1 to the table size %d", weights, sum, size)
	}
	t := make([]uint32, size)
	j, partial := -1, uint64(0)
	for i := range t {
		for uint64(i) >= uint64(size)*partial/sum {
			j++
			partial += uint64(weights[j])
		}
		t[i] = uint32(j)
	}
	return t, nil
}
