//go:build linux

package flows

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fakeRSSKernel answers the RSS and channel commands as net/ethtool/ioctl.c
// (ethtool_get_rxfh_indir, ethtool_set_rxfh_indir,
// ethtool_copy_validate_indir, ethtool_get_channels) and a driver's
// get_rxfh/set_rxfh would; it fails the test when a buffer is too small for
// what the kernel would copy in or out.
type fakeRSSKernel struct {
	t          testing.TB
	table      []uint32 // nil: no get_rxfh_indir_size (EOPNOTSUPP)
	rings      uint64
	driverMax  uint32 // the driver's own bound on entries (ixgbe_set_rxfh's max_queues); 0 = rings
	configured bool   // IFF_RXFH_CONFIGURED
	channels   Channels
	// growAfterSize makes the table this much larger right after a
	// size query, as a driver reconfigured between the two calls.
	growAfterSize int
	cmds          []uint32
}

func (k *fakeRSSKernel) device() *device { return &device{name: "fake0", c: k} }
func (k *fakeRSSKernel) close() error    { return nil }

func (k *fakeRSSKernel) ethtool(ifname string, buf []byte) error {
	ne := binary.NativeEndian
	cmd := ne.Uint32(buf)
	k.cmds = append(k.cmds, cmd)
	switch cmd {
	case CmdGRXRings:
		if len(buf) < rxnfcSize {
			k.t.Fatalf("GRXRINGS buffer of %d bytes", len(buf))
		}
		ne.PutUint64(buf[rxnfcData:], k.rings)
	case CmdGChannels:
		if len(buf) < channelsSize {
			k.t.Fatalf("GCHANNELS buffer of %d bytes", len(buf))
		}
		c := k.channels
		for i, v := range []uint32{c.MaxRx, c.MaxTx, c.MaxOther, c.MaxCombined, c.Rx, c.Tx, c.Other, c.Combined} {
			ne.PutUint32(buf[4+4*i:], v)
		}
	case CmdGRXFHIndir:
		if k.table == nil {
			return syscall.EOPNOTSUPP
		}
		user := ne.Uint32(buf[rxfhSize:])
		ne.PutUint32(buf[rxfhSize:], uint32(len(k.table)))
		if user < uint32(len(k.table)) {
			if user == 0 {
				if k.growAfterSize > 0 {
					k.table = append(k.table, make([]uint32, k.growAfterSize)...)
					k.growAfterSize = 0
				}
				return nil
			}
			return syscall.EINVAL
		}
		if len(buf) < rxfhRingIndex+4*int(user) {
			k.t.Fatalf("GRXFHINDIR: size %d but a buffer of %d bytes", user, len(buf))
		}
		for i, q := range k.table {
			ne.PutUint32(buf[rxfhRingIndex+4*i:], q)
		}
	case CmdSRXFHIndir:
		if k.table == nil {
			return syscall.EOPNOTSUPP
		}
		user := ne.Uint32(buf[rxfhSize:])
		if user != 0 && user != uint32(len(k.table)) {
			return syscall.EINVAL
		}
		if len(buf) < rxfhRingIndex+4*int(user) {
			k.t.Fatalf("SRXFHINDIR: size %d but a buffer of %d bytes", user, len(buf))
		}
		if user == 0 {
			k.table = DefaultIndir(len(k.table), int(k.rings))
			k.configured = false
			return nil
		}
		limit := k.driverMax
		if limit == 0 {
			limit = uint32(k.rings)
		}
		next := make([]uint32, user)
		for i := range next {
			next[i] = ne.Uint32(buf[rxfhRingIndex+4*i:])
			if uint64(next[i]) >= k.rings || next[i] >= limit {
				return syscall.EINVAL
			}
		}
		k.table, k.configured = next, true
	default:
		return syscall.EOPNOTSUPP
	}
	return nil
}

func TestRSSOverFakeKernel(t *testing.T) {
	k := &fakeRSSKernel{t: t, table: DefaultIndir(128, 16), rings: 16,
		channels: Channels{MaxCombined: 63, MaxOther: 1, Other: 1, Combined: 16}}
	var dev RSS = k.device()
	got, err := dev.Indir()
	if err != nil || !slices.Equal(got, DefaultIndir(128, 16)) {
		t.Fatalf("Indir = %v, %v", got, err)
	}
	// An arbitrary table goes down and comes back exactly.
	want := make([]uint32, 128)
	for i := range want {
		want[i] = uint32((i*7 + 3) % 15)
	}
	if err := dev.SetIndir(want); err != nil {
		t.Fatal(err)
	}
	if !k.configured {
		t.Error("SetIndir did not mark the table configured")
	}
	if got, err := dev.Indir(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Indir after SetIndir = %v, %v", got, err)
	}
	// Size 0 resets to i % rings and clears the flag.
	if err := dev.ResetIndir(); err != nil {
		t.Fatal(err)
	}
	if k.configured || !slices.Equal(k.table, DefaultIndir(128, 16)) {
		t.Errorf("after ResetIndir: configured %v, table %v", k.configured, k.table)
	}
	ch, err := dev.Channels()
	if err != nil || ch != k.channels || ch.RxQueues() != 16 || ch.MaxRxQueues() != 63 {
		t.Errorf("Channels = %+v, %v", ch, err)
	}
	if n, err := dev.RxRings(); err != nil || n != 16 {
		t.Errorf("RxRings = %d, %v", n, err)
	}
}

func TestRSSRefusals(t *testing.T) {
	k := &fakeRSSKernel{t: t, table: DefaultIndir(128, 4), rings: 4}
	dev := k.device()
	bad := DefaultIndir(128, 4)
	bad[5] = 4
	err := dev.SetIndir(bad)
	if !errors.Is(err, syscall.EINVAL) || err.Error() != "ETHTOOL_SRXFHINDIR on fake0: invalid argument" {
		t.Errorf("entry = RX rings: %v", err)
	}
	if err := dev.SetIndir(DefaultIndir(64, 4)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("a 64-entry table for a 128-entry driver: %v", err)
	}
	if err := dev.SetIndir(nil); err == nil || !strings.Contains(err.Error(), "ResetIndir") {
		t.Errorf("SetIndir(nil) = %v, want a refusal pointing at ResetIndir", err)
	}
	if slices.Contains(k.cmds[2:], CmdSRXFHIndir) {
		t.Error("SetIndir(nil) reached the kernel: it would have reset the table")
	}
	// The driver's own bound (ixgbe_set_rxfh: entries below its RSS queues).
	k.rings, k.driverMax = 16, 4
	bad = DefaultIndir(128, 5)
	if err := dev.SetIndir(bad); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("entry above the driver's bound: %v", err)
	}
	if k.configured {
		t.Error("a refused write marked the table configured")
	}
	// No indirection table: EOPNOTSUPP, matching ErrNotSupported.
	none := (&fakeRSSKernel{t: t, rings: 1}).device()
	_, err = none.Indir()
	checkNotSupported(t, err, "ETHTOOL_GRXFHINDIR on fake0: operation not supported")
	checkNotSupported(t, none.ResetIndir(), "ETHTOOL_SRXFHINDIR on fake0: operation not supported")
	checkNotSupported(t, none.SetIndir([]uint32{0}), "ETHTOOL_SRXFHINDIR on fake0: operation not supported")
}

// TestRSSTableGrows: a table that grows between the size query and the
// read is sized again (the kernel answers EINVAL for too little room).
func TestRSSTableGrows(t *testing.T) {
	k := &fakeRSSKernel{t: t, table: DefaultIndir(64, 2), rings: 2, growAfterSize: 64}
	got, err := k.device().Indir()
	if err != nil || len(got) != 128 {
		t.Fatalf("Indir = %d entries, %v", len(got), err)
	}
	if n := len(slices.DeleteFunc(slices.Clone(k.cmds), func(c uint32) bool { return c != CmdGRXFHIndir })); n != 4 {
		t.Errorf("%d GRXFHINDIR calls, want 4 (size, refused read, size, read)", n)
	}
}

func TestDefaultIndir(t *testing.T) {
	if got := DefaultIndir(8, 3); !slices.Equal(got, []uint32{0, 1, 2, 0, 1, 2, 0, 1}) {
		t.Errorf("DefaultIndir(8, 3) = %v", got)
	}
	if DefaultIndir(0, 3) != nil || DefaultIndir(8, 0) != nil {
		t.Error("DefaultIndir of nothing is not nil")
	}
}

// WeightIndir follows ethtool's fill_indir_table: contiguous blocks.
func TestWeightIndir(t *testing.T) {
	got, err := WeightIndir(8, []uint32{1, 1, 0, 1})
	if err != nil || !slices.Equal(got, []uint32{0, 0, 1, 1, 1, 3, 3, 3}) {
		t.Errorf("weight 1 1 0 1 over 8 = %v, %v", got, err)
	}
	got, err = WeightIndir(128, []uint32{1, 0}) // the lab's `ethtool -X eth0 weight 1 0`
	if err != nil || !slices.Equal(got, make([]uint32, 128)) {
		t.Errorf("weight 1 0 = %v, %v", got, err)
	}
	hidden, err := WeightIndir(128, []uint32{1, 1, 1, 0})
	if err != nil || slices.Contains(hidden, 3) || !slices.Contains(hidden, 2) {
		t.Errorf("weight 1 1 1 0 = %v, %v", hidden, err)
	}
	for _, w := range [][]uint32{{0, 0}, nil, make([]uint32, 3)} {
		if _, err := WeightIndir(128, w); err == nil {
			t.Errorf("weights %v accepted", w)
		}
	}
	if _, err := WeightIndir(2, []uint32{1, 1, 1}); err == nil {
		t.Error("weights summing above the table size accepted")
	}
}
