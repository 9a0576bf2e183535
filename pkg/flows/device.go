package flows

// Device is one network interface's flow-classification (ntuple) table as the
// kernel exposes it through SIOCETHTOOL.
type Device interface {
	// Name is the interface name.
	Name() string
	// RxRings returns the number of RX rings (ETHTOOL_GRXRINGS).
	RxRings() (uint64, error)
	// RuleCount returns the number of installed rules, the table size and
	// whether the driver picks locations itself (RX_CLS_LOC_SPECIAL)
	// (ETHTOOL_GRXCLSRLCNT).
	RuleCount() (count, tableSize uint32, special bool, err error)
	// RuleLocations lists the locations of installed rules (ETHTOOL_GRXCLSRLALL).
	RuleLocations() ([]uint32, error)
	// Rule reads the rule at loc (ETHTOOL_GRXCLSRULE).
	Rule(loc uint32) (FlowSpec, uint32, error)
	// Insert installs a rule at fs.Location (or RX_CLS_LOC_ANY where
	// supported) and returns the location the kernel used
	// (ETHTOOL_SRXCLSRLINS). rssContext is used with FLOW_RSS.
	Insert(fs FlowSpec, rssContext uint32) (uint32, error)
	// Delete removes the rule at loc (ETHTOOL_SRXCLSRLDEL).
	Delete(loc uint32) error
	Close() error
}
