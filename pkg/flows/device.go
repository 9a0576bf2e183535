package flows

import (
	"errors"
	"fmt"
)

// Device is one network interface's flow-classification (ntuple) table as the
// kernel exposes it through SIOCETHTOOL.
type Device interface {
	// Name is the interface name.
	Name() string
	// RxRings returns the number of RX rings (ETHTOOL_GRXRINGS).
	RxRings() (uint64, error)
	// RuleCount returns the number of installed rules and whether the
	// driver picks locations itself (RX_CLS_LOC_SPECIAL)
	// (ETHTOOL_GRXCLSRLCNT).
	RuleCount() (count uint32, special bool, err error)
	// RuleLocations lists the locations of installed rules and the table
	// size (ETHTOOL_GRXCLSRLALL; the size is its data word, where ethtool's
	// rxclass.c reads it: ixgbe reports it nowhere else).
	RuleLocations() (locs []uint32, tableSize uint32, err error)
	// Rule reads the rule at loc (ETHTOOL_GRXCLSRULE).
	Rule(loc uint32) (FlowSpec, uint32, error)
	// Insert installs a rule at fs.Location (or RX_CLS_LOC_ANY where
	// supported) and returns the location the kernel used
	// (ETHTOOL_SRXCLSRLINS). rssContext is used with FLOW_RSS.
	Insert(fs FlowSpec, rssContext uint32) (uint32, error)
	// Delete removes the rule at loc (ETHTOOL_SRXCLSRLDEL).
	Delete(loc uint32) error
	// Close releases the device's socket.
	Close() error
}

// ErrTableFull is wrapped by PickLocation when every location of the rule
// table is in use.
var ErrTableFull = errors.New("flows: rule table full")

// ErrNotSupported marks an operation the device or kernel cannot do: the
// SIOCETHTOOL client's errors match it (errors.Is) when the kernel answers
// EOPNOTSUPP (no ntuple table, as on veth or igb, ntuple filtering off, no
// RSS table), and the host seam wraps it for the other operations a device
// lacks (VF settings on an interface without SR-IOV). It is vfbypass's one
// "not supported" error.
var ErrNotSupported = errors.New("not supported")

// PickLocation chooses the location for a new rule as ethtool's rxclass.c
// does: RX_CLS_LOC_ANY when the driver selects locations itself
// (ETHTOOL_GRXCLSRLCNT data has RX_CLS_LOC_SPECIAL), otherwise the highest
// free location below the table size, from ETHTOOL_GRXCLSRLALL (whether a
// location means priority is the driver's affair: on ixgbe it does not,
// see docs/kernel-model.md). A full table gives
// an error wrapping ErrTableFull.
func PickLocation(dev Device) (uint32, error) {
	_, special, err := dev.RuleCount()
	if err != nil {
		return 0, err
	}
	if special {
		return RxClsLocAny, nil
	}
	locs, size, err := dev.RuleLocations()
	if err != nil {
		return 0, err
	}
	if size == 0 || size < uint32(len(locs)) {
		return 0, fmt.Errorf("pick a rule location on %s: the driver reports a table of %d entries holding %d rules", dev.Name(), size, len(locs))
	}
	used := make([]bool, size)
	for _, l := range locs {
		if l >= size {
			return 0, fmt.Errorf("pick a rule location on %s: the driver lists a rule at %d, outside its %d-entry table", dev.Name(), l, size)
		}
		used[l] = true
	}
	for l := int64(size) - 1; l >= 0; l-- {
		if !used[l] {
			return uint32(l), nil
		}
	}
	return 0, fmt.Errorf("pick a rule location on %s: all %d locations are in use (delete a rule first): %w", dev.Name(), size, ErrTableFull)
}
