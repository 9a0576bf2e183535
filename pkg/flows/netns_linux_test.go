//go:build linux

package flows

import (
	"errors"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/netnstest"
	"golang.org/x/sys/unix"
)

// TestVethHasNoNtupleTable talks SIOCETHTOOL to a real kernel: a veth in a
// fresh network namespace has no rule table, so the kernel answers the rule
// commands with EOPNOTSUPP, which the client reports naming the command and
// the interface, matching both unix.EOPNOTSUPP and ErrNotSupported.
func TestVethHasNoNtupleTable(t *testing.T) {
	dev := openInVeth(t, "vfbt0", "", Open)
	defer dev.Close()
	if dev.Name() != "vfbt0" {
		t.Errorf("Name() = %q", dev.Name())
	}

	// The socket belongs to the namespace: the ioctls below run there even
	// though this goroutine is back in the test's own namespace.
	_, _, err := dev.RuleCount()
	checkNotSupported(t, err, "ETHTOOL_GRXCLSRLCNT on vfbt0: operation not supported")

	r := mustParse(t, "flow-type tcp4 dst-ip 192.0.2.1 dst-port 80 vf 0 queue 0 loc 5")
	_, err = dev.Insert(r.Spec, 0)
	checkNotSupported(t, err, "ETHTOOL_SRXCLSRLINS on vfbt0: operation not supported")

	err = dev.Delete(5)
	checkNotSupported(t, err, "ETHTOOL_SRXCLSRLDEL on vfbt0: operation not supported")

	_, _, err = dev.Rule(5)
	checkNotSupported(t, err, "ETHTOOL_GRXCLSRULE on vfbt0: operation not supported")

	_, err = PickLocation(dev)
	checkNotSupported(t, err, "ETHTOOL_GRXCLSRLCNT on vfbt0: operation not supported")

	if _, err := dev.RxRings(); err == nil {
		t.Error("veth answered ETHTOOL_GRXRINGS")
	} else if !strings.HasPrefix(err.Error(), "ETHTOOL_GRXRINGS on vfbt0: ") {
		t.Errorf("RxRings error %q", err)
	}
}

func checkNotSupported(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", msg)
	}
	if !errors.Is(err, unix.EOPNOTSUPP) || !errors.Is(err, ErrNotSupported) {
		t.Errorf("%v: errors.Is EOPNOTSUPP %v, ErrNotSupported %v; want both", err, errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, ErrNotSupported))
	}
	if err.Error() != msg {
		t.Errorf("error %q, want %q", err, msg)
	}
}

// TestOpenMissingInterface: the veth exists only inside the namespace, so
// Open from the test's own namespace does not find it, and a name nobody
// has gives ENODEV inside the namespace too.
func TestOpenMissingInterface(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run("ip link add vfbt2 type veth peer name vfbt3")

	var inside, missing error
	ns.Do(func() {
		var dev Device
		dev, inside = Open("vfbt2")
		if inside == nil {
			dev.Close()
		}
		_, missing = Open("vfbt-none")
	})
	if inside != nil {
		t.Fatalf("Open(vfbt2) inside the namespace: %v", inside)
	}
	if !errors.Is(missing, unix.ENODEV) || !strings.Contains(missing.Error(), "vfbt-none") {
		t.Errorf("Open(vfbt-none) = %v, want ENODEV naming the interface", missing)
	}
	if dev, err := Open("vfbt2"); err == nil {
		dev.Close()
		t.Error("Open(vfbt2) outside the namespace found it: the ioctls would not run in the namespace")
	} else if !errors.Is(err, unix.ENODEV) {
		t.Errorf("Open(vfbt2) outside the namespace: %v, want ENODEV", err)
	}
	for _, name := range []string{"", "sixteen-bytes-xx"} {
		if _, err := Open(name); err == nil || !strings.Contains(err.Error(), "1 to 15 bytes") {
			t.Errorf("Open(%q) = %v", name, err)
		}
	}
}

// openInVeth makes veth name (and its peer) in a fresh namespace with the
// ip link options opts, sets it up, and opens it there with open: the
// handle keeps talking to that namespace's kernel.
func openInVeth[T any](t *testing.T, name, opts string, open func(string) (T, error)) T {
	t.Helper()
	ns := netnstest.New(t)
	ns.Run("ip link add " + name + " " + opts + " type veth peer name " + name + "p && ip link set " + name + " up")
	var dev T
	var err error
	ns.Do(func() { dev, err = open(name) })
	if err != nil {
		t.Fatalf("open %s in %s: %v", name, ns.Name, err)
	}
	return dev
}
