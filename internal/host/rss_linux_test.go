package host_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/netnstest"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// A veth has no RSS indirection table: the real client says so with the
// command, the interface, EOPNOTSUPP and flows.ErrNotSupported, for the
// read, the exact write and the reset; its channels still read.
func TestEthtoolClientIndirOnVeth(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run("ip link add vfbr2 numrxqueues 2 type veth peer name vfbr3")
	var e host.EthtoolClient
	var readErr, writeErr, resetErr, chErr error
	var ch flows.Channels
	ns.Do(func() {
		_, readErr = e.Indir("vfbr2")
		writeErr = e.SetIndir("vfbr2", []uint32{0, 1})
		resetErr = e.SetIndir("vfbr2", nil)
		ch, chErr = e.Channels("vfbr2")
	})
	for _, c := range []struct {
		err  error
		want string
	}{
		{readErr, "ethtool: read the RSS indirection table of vfbr2: ETHTOOL_GRXFHINDIR on vfbr2: operation not supported"},
		{writeErr, "ethtool: write the RSS indirection table of vfbr2: ETHTOOL_SRXFHINDIR on vfbr2: operation not supported"},
		{resetErr, "ethtool: reset the RSS indirection table of vfbr2: ETHTOOL_SRXFHINDIR on vfbr2: operation not supported"},
	} {
		if !errors.Is(c.err, flows.ErrNotSupported) || !errors.Is(c.err, syscall.EOPNOTSUPP) || !strings.HasPrefix(fmtErr(c.err), c.want) {
			t.Errorf("error %q: want prefix %q, matching ErrNotSupported and EOPNOTSUPP", c.err, c.want)
		}
	}
	if chErr != nil || ch.RxQueues() != 2 {
		t.Errorf("Channels(vfbr2) = %+v, %v", ch, chErr)
	}
	if _, err := e.Indir("vfbr2"); err == nil || !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Indir outside the namespace: %v, want ENODEV", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
