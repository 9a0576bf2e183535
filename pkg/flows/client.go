package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// conn sends one SIOCETHTOOL request for an interface: buf is the command's
// struct (here always struct ethtool_rxnfc, possibly followed by rule_locs),
// read and written in place by the kernel. The real conn is an ioctl on a
// socket (ioctl_linux.go); tests answer with a fake kernel.
type conn interface {
	ethtool(ifname string, buf []byte) error
	close() error
}

// OpError is the error of a SIOCETHTOOL command: it names the command and
// the interface and wraps the kernel's errno (a unix.Errno), so errors.Is
// works with the errno; EOPNOTSUPP also matches ErrNotSupported.
type OpError struct {
	Op     string // C name of the command, e.g. "ETHTOOL_SRXCLSRLINS"
	Ifname string
	Err    error
}

// Error reads like "ETHTOOL_SRXCLSRLINS on eth3: operation not supported".
func (e *OpError) Error() string { return e.Op + " on " + e.Ifname + ": " + e.Err.Error() }

// Unwrap returns the errno.
func (e *OpError) Unwrap() error { return e.Err }

// Is makes EOPNOTSUPP match ErrNotSupported.
func (e *OpError) Is(target error) bool {
	return target == ErrNotSupported && errors.Is(e.Err, errNotSupportedErrno)
}

// device is the Device over a conn.
type device struct {
	name string
	c    conn
}

// newRxnfc allocates a zeroed struct ethtool_rxnfc followed by room for
// nlocs rule locations. The memory comes from make([]uint64), so it is
// 8-byte aligned like the C struct, lives on the Go heap (which the garbage
// collector never moves) and stays reachable through the returned slice.
func newRxnfc(cmd uint32, nlocs uint32) []byte {
	n := rxnfcSize + 4*int(nlocs)
	words := make([]uint64, (n+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	binary.NativeEndian.PutUint32(b[rxnfcCmd:], cmd)
	return b
}

func (d *device) do(cmd uint32, buf []byte) error {
	if err := d.c.ethtool(d.name, buf); err != nil {
		return &OpError{Op: cmdName(cmd), Ifname: d.name, Err: err}
	}
	return nil
}

func (d *device) Name() string { return d.name }

func (d *device) RxRings() (uint64, error) {
	buf := newRxnfc(CmdGRXRings, 0)
	if err := d.do(CmdGRXRings, buf); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint64(buf[rxnfcData:]), nil
}

// count asks ETHTOOL_GRXCLSRLCNT for the number of rules and its data word.
func (d *device) count() (uint32, uint64, error) {
	buf := newRxnfc(CmdGRXClsRlCnt, 0)
	if err := d.do(CmdGRXClsRlCnt, buf); err != nil {
		return 0, 0, err
	}
	return binary.NativeEndian.Uint32(buf[rxnfcRuleCnt:]), binary.NativeEndian.Uint64(buf[rxnfcData:]), nil
}

// RuleCount reads the count and the RX_CLS_LOC_SPECIAL flag from
// ETHTOOL_GRXCLSRLCNT.
func (d *device) RuleCount() (uint32, bool, error) {
	count, data, err := d.count()
	if err != nil {
		return 0, false, err
	}
	return count, data&uint64(RxClsLocSpecial) != 0, nil
}

// RuleLocations asks ETHTOOL_GRXCLSRLALL for as many locations as
// ETHTOOL_GRXCLSRLCNT counted and returns them with the table size: the
// GRXCLSRLALL data word (ixgbe fills only rule_cnt for GRXCLSRLCNT), or the
// GRXCLSRLCNT one where a driver reports it only there. When rules were
// added in between the kernel answers EMSGSIZE and it counts again (a few
// times).
func (d *device) RuleLocations() ([]uint32, uint32, error) {
	var lastErr error
	for try := 0; try < 4; try++ {
		count, cntData, err := d.count()
		if err != nil {
			return nil, 0, err
		}
		buf := newRxnfc(CmdGRXClsRlAll, count)
		binary.NativeEndian.PutUint32(buf[rxnfcRuleCnt:], count)
		err = d.do(CmdGRXClsRlAll, buf)
		if errors.Is(err, errMsgSize) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		got := binary.NativeEndian.Uint32(buf[rxnfcRuleCnt:])
		if got > count {
			return nil, 0, fmt.Errorf("ETHTOOL_GRXCLSRLALL on %s: the kernel reports %d rules for room for %d", d.name, got, count)
		}
		locs := make([]uint32, got)
		for i := range locs {
			locs[i] = binary.NativeEndian.Uint32(buf[rxnfcRuleLocs+4*i:])
		}
		size := max(uint32(binary.NativeEndian.Uint64(buf[rxnfcData:])), uint32(cntData)&^RxClsLocSpecial)
		return locs, size, nil
	}
	return nil, 0, fmt.Errorf("rule table of %s keeps changing: %w", d.name, lastErr)
}

func (d *device) Rule(loc uint32) (FlowSpec, uint32, error) {
	buf := newRxnfc(CmdGRXClsRule, 0)
	binary.NativeEndian.PutUint32(buf[rxnfcFS+offLocation:], loc)
	if err := d.do(CmdGRXClsRule, buf); err != nil {
		return FlowSpec{}, 0, err
	}
	var fs FlowSpec
	if err := fs.UnmarshalBinary(buf[rxnfcFS : rxnfcFS+FlowSpecSize]); err != nil {
		return FlowSpec{}, 0, err
	}
	var rss uint32
	if fs.FlowType&FlowRSS != 0 {
		rss = binary.NativeEndian.Uint32(buf[rxnfcRSSContext:])
	}
	return fs, rss, nil
}

func (d *device) Insert(fs FlowSpec, rssContext uint32) (uint32, error) {
	buf := newRxnfc(CmdSRXClsRlIns, 0)
	fs.encode(buf[rxnfcFS : rxnfcFS+FlowSpecSize])
	if fs.FlowType&FlowRSS != 0 {
		binary.NativeEndian.PutUint32(buf[rxnfcRSSContext:], rssContext)
	}
	if err := d.do(CmdSRXClsRlIns, buf); err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint32(buf[rxnfcFS+offLocation:]), nil
}

func (d *device) Delete(loc uint32) error {
	buf := newRxnfc(CmdSRXClsRlDel, 0)
	binary.NativeEndian.PutUint32(buf[rxnfcFS+offLocation:], loc)
	return d.do(CmdSRXClsRlDel, buf)
}

func (d *device) Close() error { return d.c.close() }
