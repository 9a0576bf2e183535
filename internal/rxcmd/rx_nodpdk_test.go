//go:build nodpdk || !cgo

package rxcmd

import (
	"strings"
	"testing"
)

func TestRxWithoutDPDKSaysHowToGetIt(t *testing.T) {
	code, _, errs := vfb("--vdev", "net_null0", "--no-huge")
	if code != 2 || !strings.Contains(errs, "without DPDK") || !strings.Contains(errs, "libdpdk-dev") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
}
