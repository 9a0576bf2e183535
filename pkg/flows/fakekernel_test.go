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

// fakeKernel answers SIOCETHTOOL rxnfc requests as net/ethtool/ioctl.c and
// a driver would, on an in-memory rule table; it fails the test when a
// request buffer is too small for what the kernel would copy out.
type fakeKernel struct {
	t       testing.TB
	size    uint32 // table size (GRXCLSRLALL data, or GRXCLSRLCNT data with special or sizeInCount)
	special bool   // the driver picks locations (RX_CLS_LOC_SPECIAL)
	// sizeInCount: GRXCLSRLCNT reports the table size in data and
	// GRXCLSRLALL does not; without it the size comes only with
	// GRXCLSRLALL, as ixgbe_get_rxnfc answers.
	sizeInCount bool
	rings       uint64
	rules       map[uint32]fakeRule
	errs        map[uint32]syscall.Errno // cmd → errno
	// addOnCount adds a rule at each listed location after answering
	// GRXCLSRLCNT, as another process inserting between the two calls.
	addOnCount []uint32
	cmds       []uint32
}

type fakeRule struct {
	spec FlowSpec
	rss  uint32
}

func newFakeKernel(t testing.TB, size uint32, locs ...uint32) *fakeKernel {
	k := &fakeKernel{t: t, size: size, rings: 16, rules: map[uint32]fakeRule{}, errs: map[uint32]syscall.Errno{}}
	for _, l := range locs {
		k.rules[l] = fakeRule{spec: FlowSpec{FlowType: FlowTCPv4, Location: l}}
	}
	return k
}

func (k *fakeKernel) device() *device { return &device{name: "fake0", c: k} }

func (k *fakeKernel) close() error { return nil }

func (k *fakeKernel) ethtool(ifname string, buf []byte) error {
	if ifname != "fake0" {
		k.t.Fatalf("request for %q", ifname)
	}
	if len(buf) < rxnfcSize {
		k.t.Fatalf("buffer of %d bytes, struct ethtool_rxnfc has %d", len(buf), rxnfcSize)
	}
	ne := binary.NativeEndian
	cmd := ne.Uint32(buf[rxnfcCmd:])
	k.cmds = append(k.cmds, cmd)
	if e := k.errs[cmd]; e != 0 {
		return e
	}
	fsb := buf[rxnfcFS : rxnfcFS+FlowSpecSize]
	loc := ne.Uint32(fsb[offLocation:])
	switch cmd {
	case CmdGRXRings:
		ne.PutUint64(buf[rxnfcData:], k.rings)
	case CmdGRXClsRlCnt:
		var data uint64
		if k.special || k.sizeInCount {
			data = uint64(k.size)
		}
		if k.special {
			data |= uint64(RxClsLocSpecial)
		}
		ne.PutUint64(buf[rxnfcData:], data)
		ne.PutUint32(buf[rxnfcRuleCnt:], uint32(len(k.rules)))
		for _, l := range k.addOnCount {
			k.rules[l] = fakeRule{spec: FlowSpec{FlowType: FlowUDPv4, Location: l}}
		}
		k.addOnCount = nil
	case CmdGRXClsRlAll:
		room := ne.Uint32(buf[rxnfcRuleCnt:])
		if len(buf) < rxnfcRuleLocs+4*int(room) {
			k.t.Fatalf("GRXCLSRLALL: rule_cnt %d but the buffer has %d bytes: the kernel would write past it", room, len(buf))
		}
		if uint32(len(k.rules)) > room {
			return syscall.EMSGSIZE
		}
		locs := make([]uint32, 0, len(k.rules))
		for l := range k.rules {
			locs = append(locs, l)
		}
		slices.Sort(locs)
		if !k.sizeInCount {
			ne.PutUint64(buf[rxnfcData:], uint64(k.size))
		}
		ne.PutUint32(buf[rxnfcRuleCnt:], uint32(len(locs)))
		for i, l := range locs {
			ne.PutUint32(buf[rxnfcRuleLocs+4*i:], l)
		}
	case CmdGRXClsRule:
		r, ok := k.rules[loc]
		if !ok {
			return syscall.ENOENT
		}
		r.spec.encode(fsb)
		ne.PutUint32(buf[rxnfcRSSContext:], r.rss)
	case CmdSRXClsRlIns:
		var fs FlowSpec
		if err := fs.UnmarshalBinary(fsb); err != nil {
			k.t.Fatal(err)
		}
		if loc&RxClsLocSpecial != 0 {
			if !k.special {
				return syscall.EINVAL
			}
			loc = 0
			for ; loc < k.size; loc++ {
				if _, used := k.rules[loc]; !used {
					break
				}
			}
			if loc == k.size {
				return syscall.ENOSPC
			}
		}
		if loc >= k.size {
			return syscall.EINVAL
		}
		fs.Location = loc
		rss := uint32(0)
		if fs.FlowType&FlowRSS != 0 {
			rss = ne.Uint32(buf[rxnfcRSSContext:])
		}
		k.rules[loc] = fakeRule{spec: fs, rss: rss}
		ne.PutUint32(fsb[offLocation:], loc)
	case CmdSRXClsRlDel:
		if _, ok := k.rules[loc]; !ok {
			return syscall.ENOENT
		}
		delete(k.rules, loc)
	default:
		return syscall.EOPNOTSUPP
	}
	return nil
}

func TestPickLocation(t *testing.T) {
	full := make([]uint32, 64)
	for i := range full {
		full[i] = uint32(i)
	}
	allButZero := full[1:]
	for _, c := range []struct {
		name    string
		k       *fakeKernel
		want    uint32
		wantErr error
		errText string
	}{
		{name: "empty 2048-entry table: the highest location, like ethtool", k: newFakeKernel(t, 2048), want: 2047},
		{name: "highest taken: next below", k: newFakeKernel(t, 2048, 2047), want: 2046},
		{name: "hole in the middle", k: newFakeKernel(t, 8, 7, 6, 4, 0), want: 5},
		{name: "only location 0 free", k: newFakeKernel(t, 64, allButZero...), want: 0},
		{name: "ixgbe-sized table with the top in use", k: newFakeKernel(t, 8190, 8189, 8188), want: 8187},
		{name: "size reported by GRXCLSRLCNT only", k: func() *fakeKernel { k := newFakeKernel(t, 512, 511); k.sizeInCount = true; return k }(), want: 510},
		{name: "driver picks: RX_CLS_LOC_ANY", k: func() *fakeKernel { k := newFakeKernel(t, 128, 127); k.special = true; return k }(), want: RxClsLocAny},
		{name: "full table", k: newFakeKernel(t, 64, full...), wantErr: ErrTableFull, errText: "all 64 locations are in use"},
		{name: "zero-sized table", k: newFakeKernel(t, 0), errText: "table of 0 entries"},
		{name: "rule outside the table", k: newFakeKernel(t, 4, 9), errText: "rule at 9, outside its 4-entry table"},
		{name: "rules added between count and list", k: func() *fakeKernel { k := newFakeKernel(t, 16, 15); k.addOnCount = []uint32{14, 13}; return k }(), want: 12},
		{name: "no ntuple table", k: func() *fakeKernel { k := newFakeKernel(t, 16); k.errs[CmdGRXClsRlCnt] = syscall.EOPNOTSUPP; return k }(), wantErr: ErrNotSupported, errText: "ETHTOOL_GRXCLSRLCNT on fake0: operation not supported"},
		{name: "list refused", k: func() *fakeKernel { k := newFakeKernel(t, 16); k.errs[CmdGRXClsRlAll] = syscall.EPERM; return k }(), wantErr: syscall.EPERM, errText: "ETHTOOL_GRXCLSRLALL on fake0: operation not permitted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PickLocation(c.k.device())
			if c.errText == "" {
				if err != nil || got != c.want {
					t.Fatalf("PickLocation = %d, %v; want %d", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("PickLocation = %d, want an error", got)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("error %v does not match %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.errText) {
				t.Errorf("error %q lacks %q", err, c.errText)
			}
		})
	}
	k := newFakeKernel(t, 128)
	k.special = true
	if _, err := PickLocation(k.device()); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(k.cmds, CmdGRXClsRlAll) {
		t.Error("with RX_CLS_LOC_SPECIAL the table need not be listed (ethtool does not)")
	}
	k = newFakeKernel(t, 2048, 2047)
	if _, err := PickLocation(k.device()); err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(slices.Clone(k.cmds), func(c uint32) bool { return c != CmdGRXClsRlAll })); n != 1 {
		t.Errorf("PickLocation listed the table %d times (%v), want once", n, k.cmds)
	}
}

// TestClientOverFakeKernel drives every Device method through the rxnfc
// encoding against the fake kernel.
func TestClientOverFakeKernel(t *testing.T) {
	k := newFakeKernel(t, 2048)
	dev := k.device()
	if n, err := dev.RxRings(); err != nil || n != 16 {
		t.Fatalf("RxRings = %d, %v", n, err)
	}
	r := mustParse(t, "flow-type udp4 dst-ip 10.0.0.1 dst-port 53 context 3 vf 1 queue 2")
	loc, err := PickLocation(dev)
	if err != nil || loc != 2047 {
		t.Fatalf("PickLocation = %d, %v", loc, err)
	}
	r.Spec.Location = loc
	got, err := dev.Insert(r.Spec, r.RSSContext)
	if err != nil || got != 2047 {
		t.Fatalf("Insert = %d, %v", got, err)
	}
	if k.rules[2047].rss != 3 {
		t.Errorf("rss_context reached the kernel as %d", k.rules[2047].rss)
	}
	fs, rss, err := dev.Rule(2047)
	if err != nil || fs != r.Spec || rss != 3 {
		t.Fatalf("Rule(2047) = %+v, %d, %v", fs, rss, err)
	}
	if loc, _ := PickLocation(dev); loc != 2046 {
		t.Errorf("second PickLocation = %d, want 2046", loc)
	}
	count, special, err := dev.RuleCount()
	if err != nil || count != 1 || special {
		t.Errorf("RuleCount = %d, %v, %v", count, special, err)
	}
	locs, size, err := dev.RuleLocations()
	if err != nil || !slices.Equal(locs, []uint32{2047}) || size != 2048 {
		t.Errorf("RuleLocations = %v, %d, %v", locs, size, err)
	}
	if err := dev.Delete(2047); err != nil {
		t.Fatal(err)
	}
	err = dev.Delete(2047)
	if !errors.Is(err, syscall.ENOENT) || err.Error() != "ETHTOOL_SRXCLSRLDEL on fake0: no such file or directory" {
		t.Errorf("second Delete: %v", err)
	}
	// A driver that picks locations fills in RX_CLS_LOC_ANY.
	k.special = true
	r.Spec.Location = RxClsLocAny
	if got, err := dev.Insert(r.Spec, r.RSSContext); err != nil || got != 0 {
		t.Errorf("Insert at RX_CLS_LOC_ANY = %d, %v", got, err)
	}
	// Without FLOW_RSS no rss_context goes down.
	r2 := mustParse(t, "flow-type tcp4 dst-port 22 action 1 loc 9")
	if _, err := dev.Insert(r2.Spec, 77); err != nil || k.rules[9].rss != 0 {
		t.Errorf("Insert without FLOW_RSS: %v, rss %d", err, k.rules[9].rss)
	}
	k.errs[CmdSRXClsRlIns] = syscall.EOPNOTSUPP
	_, err = dev.Insert(r2.Spec, 0)
	var op *OpError
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, syscall.EOPNOTSUPP) || !errors.As(err, &op) || op.Op != "ETHTOOL_SRXCLSRLINS" || op.Ifname != "fake0" {
		t.Errorf("Insert on a device without ntuple: %v", err)
	}
	if errors.Is(&OpError{Op: "x", Ifname: "y", Err: syscall.EINVAL}, ErrNotSupported) {
		t.Error("EINVAL matches ErrNotSupported")
	}
}
