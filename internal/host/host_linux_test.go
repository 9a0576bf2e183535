package host_test

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/netnstest"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// A veth has no SR-IOV: rtnetlink answers EOPNOTSUPP and the error must say so.
func TestNetlinkVFSettingsOnVethAreNotSupported(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run("ip link add vfbt0 type veth peer name vfbt1")
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", ns.Name, err)
	}
	defer h.Close()
	l := host.NewNetlinkLinks(h)

	vfs, err := l.VFs("vfbt0")
	if err != nil || len(vfs) != 0 {
		t.Fatalf("VFs(vfbt0) = %v, %v; want none, nil", vfs, err)
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	err = l.SetVFMAC("vfbt0", 0, mac)
	if !errors.Is(err, flows.ErrNotSupported) || !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("SetVFMAC on a veth: %v; want ErrNotSupported wrapping EOPNOTSUPP", err)
	}
	for _, want := range []string{"vfbt0", "no SR-IOV", "VF 0", "MAC"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := l.SetVFTrust("nosuch0", 0, true); err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("SetVFTrust on a missing interface: %v; want an error naming it", err)
	}
}

func TestRootFSPlacesHostPathsUnderRoot(t *testing.T) {
	dir := t.TempDir()
	r := host.NewRootFS(dir)
	for in, want := range map[string]string{
		"/sys/class/net":        dir + "/sys/class/net",
		"sys/../../etc/passwd":  dir + "/etc/passwd",
		"/proc/../../../../etc": dir + "/etc",
	} {
		if got := r.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
	if got := host.NewRootFS("/").Path("/sys/x"); got != "/sys/x" {
		t.Errorf("root / Path = %q", got)
	}
}
