// Package capture runs the real ethtool's `-N DEV WORDS...` (insert an
// ntuple rule) with no network device at all and returns the struct
// ethtool_rxnfc ethtool hands the kernel: ethtool runs under ptrace(2), and
// its SIOCETHTOOL ioctls never reach the kernel. The tracer answers them as
// a device with an empty rule table of TableSize locations and RxRings RX
// rings would (ETHTOOL_GRXRINGS, ETHTOOL_GRXCLSRLCNT, ETHTOOL_GRXCLSRLALL),
// keeps the buffer of ETHTOOL_SRXCLSRLINS, and lets every other system call
// through. pkg/flows' differential tests use it to compare their parser with
// ethtool byte for byte.
package capture

import "errors"

// Answers of the simulated device.
const (
	// TableSize is the rule table's size (GRXCLSRLCNT/GRXCLSRLALL data):
	// ethtool puts a rule without loc at TableSize-1.
	TableSize = 2048
	// RxRings is the device's RX ring count (GRXRINGS).
	RxRings = 16
	// RxnfcSize is sizeof(struct ethtool_rxnfc) up to rule_locs.
	RxnfcSize = 192
)

// ErrUnsupported: the tracer does not run on this OS or architecture.
var ErrUnsupported = errors.New("ethtool capture runs on linux/amd64 only (it rewrites the syscall registers under ptrace)")

// Result is one ethtool run.
type Result struct {
	// Accepted is true when ethtool exited 0 after inserting the rule.
	Accepted bool
	// Rxnfc is the struct ethtool_rxnfc of ETHTOOL_SRXCLSRLINS (RxnfcSize
	// bytes), nil when ethtool refused the words.
	Rxnfc []byte
	// Stderr is what ethtool printed on standard error.
	Stderr string
}
