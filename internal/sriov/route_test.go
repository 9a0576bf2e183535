package sriov_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/netnstest"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

func TestDefaultRouteInterfacesFromProc(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
		"eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"+
		"eth3\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
	write("proc/net/ipv6_route", "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth5\n"+
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"+
		"20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth3\n")
	got, err := sriov.DefaultRouteInterfaces(host.NewRootFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"eth0", "eth5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("default route interfaces = %v, want %v", got, want)
	}
}

// The guard reads the kernel's own /proc/net/route: in a namespace whose
// default route goes through vfbt0, vfbt0 is named and vfbt1 is not.
func TestDefaultRouteInterfacesRealKernel(t *testing.T) {
	t.Parallel()
	if os.Getenv("VFBT_IN_NETNS") == "1" {
		got, err := sriov.DefaultRouteInterfaces(host.NewRootFS("/"))
		fmt.Printf("ROUTES=%s ERR=%v\n", strings.Join(got, ","), err)
		return
	}
	ns := netnstest.New(t)
	ns.Run("ip link add vfbt0 type veth peer name vfbt1 && ip link set lo up && ip link set vfbt0 up && ip link set vfbt1 up && " +
		"ip addr add 192.0.2.2/24 dev vfbt0 && ip route add default via 192.0.2.1 dev vfbt0")
	out, err := ns.Exec("TestDefaultRouteInterfacesRealKernel", "VFBT_IN_NETNS=1")
	if err != nil {
		t.Fatalf("child in %s: %v\n%s", ns.Name, err, out)
	}
	if !strings.Contains(out, "ROUTES=vfbt0 ERR=<nil>") {
		t.Fatalf("in a namespace routed through vfbt0, the guard saw:\n%s", out)
	}
}
