// Package host is the narrow seam between vfbypass and the kernel it drives.
//
// Everything vfbypass reads or changes on a machine goes through a Host: files
// under a root directory (sysfs, procfs, /dev), writes to sysfs attributes
// that make the kernel act, rtnetlink VF settings on a PF, ethtool features,
// ntuple rule tables and kernel modules. Real implementations live in this
// package; a simulator that applies the kernel's rules to a directory tree
// implements the same interfaces, so the same code runs against both.
package host

import (
	"errors"
	"fmt"
	"io/fs"
	"net"

	"github.com/vfbypass/vfbypass/pkg/flows"
)

// FS is the host's filesystem seen from a root directory. Paths are
// host-absolute ("/sys/class/net/eth3/device/sriov_numvfs"); the
// implementation places them under its root.
type FS interface {
	// Root is the directory under which host paths are found ("/" on a real host).
	Root() string
	// Path returns the location of a host path on this machine's filesystem.
	Path(p string) string
	ReadFile(p string) ([]byte, error)
	Readlink(p string) (string, error)
	ReadDir(p string) ([]fs.DirEntry, error)
	Stat(p string) (fs.FileInfo, error)
	Lstat(p string) (fs.FileInfo, error)
	// WriteAttr writes value to a kernel attribute, as `echo value > p` would.
	// Errors are *fs.PathError carrying the kernel's errno.
	WriteAttr(p string, value string) error
	// InRoot returns where host path p is on this machine with every
	// symlink on the way resolved within the root (the last one only when
	// followLast), for files vfbypass opens itself, such as its lock.
	// Every wrapper of an FS passes it through: a wrapper that resolved
	// differently would move the lock.
	InRoot(p string, followLast bool) (string, error)
}

// VFInfo is one VF's configuration as the PF reports it over rtnetlink
// (IFLA_VFINFO_LIST).
type VFInfo struct {
	Index    int              `json:"index"`
	MAC      net.HardwareAddr `json:"-"`
	VLAN     int              `json:"vlan"`
	QoS      int              `json:"qos"`
	Spoofchk bool             `json:"spoofchk"`
	Trust    bool             `json:"trust"`
}

// Links configures VFs through their PF over rtnetlink, as
// `ip link set PF vf K ...` does.
type Links interface {
	VFs(pf string) ([]VFInfo, error)
	SetVFMAC(pf string, vf int, mac net.HardwareAddr) error
	SetVFVLAN(pf string, vf, vlan, qos int) error
	SetVFTrust(pf string, vf int, on bool) error
	SetVFSpoofchk(pf string, vf int, on bool) error
}

// ErrNoFeature is Ethtool.Feature's error for an interface whose driver
// has no such feature (it is not in ETHTOOL_GFEATURES' names): the one
// error that means "not supported" rather than "could not read".
var ErrNoFeature = errors.New("no feature")

// Ethtool reads and changes a network interface's ethtool state other than
// ntuple rules.
type Ethtool interface {
	// Feature reports whether the named feature (e.g. "rx-ntuple-filter") is
	// on, and whether it can be changed at all.
	Feature(ifname, name string) (on bool, fixed bool, err error)
	SetFeature(ifname, name string, on bool) error
	// RxQueues is the number of RX queues the interface spreads traffic over.
	RxQueues(ifname string) (int, error)
	// RxRings is the number of RX rings (ETHTOOL_GRXRINGS): every
	// indirection table entry and every rule's PF queue must be below it.
	RxRings(ifname string) (int, error)
	// Channels reads the channel counts and maxima (ETHTOOL_GCHANNELS).
	Channels(ifname string) (flows.Channels, error)
	// Indir reads the RSS indirection table (ETHTOOL_GRXFHINDIR): entry i
	// is the RX ring of hash bucket i. A device without a table gives an
	// error matching flows.ErrNotSupported.
	Indir(ifname string) ([]uint32, error)
	// SetIndir writes table exactly (ETHTOOL_SRXFHINDIR; its length must
	// be the driver's table size), which marks it configured by the user.
	// A nil or empty table resets it to the driver's default with a
	// zero-size ETHTOOL_SRXFHINDIR, which clears that mark (the kernel
	// then lets `ethtool -L` drop queues again).
	SetIndir(ifname string, table []uint32) error
	// XDPChanged tells the host that the receiver attached (true) or
	// detached its XDP program with an AF_XDP socket on RX queue queue of
	// ifname. On a real host the receiver's af_xdp PMD made that change
	// itself and the kernel has seen it: EthtoolClient does nothing. The
	// simulator cannot see another process's program, so this is where it
	// does what the kernel does on that change (the driver's refusals, its
	// reset, the events). The control plane calls it right after the
	// receiver attached and right after it detached (or was killed).
	XDPChanged(ifname string, queue int, attached bool) error
}

// NtupleFeature is the ethtool feature that switches ntuple filters
// (ixgbe's flow director) on, for Ethtool.Feature and SetFeature.
const NtupleFeature = "rx-ntuple-filter"

// LROFeature is the ethtool feature of large receive offload (ixgbe's RSC),
// for Ethtool.Feature and SetFeature: the kernel's name for NETIF_F_LRO
// (netdev_features_strings), which ethtool -k prints under its old name,
// large-receive-offload.
const LROFeature = "rx-lro"

// EthtoolError words the error of an RSS or channel command the way both
// the real client and the simulator report it: what was attempted, on which
// interface, and the SIOCETHTOOL error (a *flows.OpError, which matches
// flows.ErrNotSupported when the kernel answered EOPNOTSUPP).
func EthtoolError(what, ifname string, err error) error {
	if errors.Is(err, flows.ErrNotSupported) {
		return fmt.Errorf("ethtool: %s of %s: %w (the driver has no such operation)", what, ifname, err)
	}
	return fmt.Errorf("ethtool: %s of %s: %w", what, ifname, err)
}

// Modules loads kernel modules.
type Modules interface {
	Loaded(name string) bool
	Load(name string) error
	Unload(name string) error
}

// Host bundles the seams of one machine, real or simulated.
type Host struct {
	FS      FS
	Links   Links
	Ethtool Ethtool
	Modules Modules
	// Rules opens an interface's ntuple rule table.
	Rules func(ifname string) (flows.Device, error)
	// Events subscribes to the kernel's notifications about an interface.
	Events Events
	// Simulated is true when the host is a simulator's directory tree.
	Simulated bool
	// Close releases what the host holds open.
	Close func() error
}
