package rxcmd

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/vfbypass/vfbypass/pkg/hostsim"
	"github.com/vfbypass/vfbypass/pkg/setup"
)

// vfb runs the receive loop's command line in-process and returns exit
// code, stdout and stderr.
func vfb(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run("vfbypass-rx", args, &out, &errb)
	return code, out.String(), errb.String()
}

// simHost makes a simulated 82599 host with PF eth3 and a state directory.
func simHost(t *testing.T) (root, state string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "host")
	state = filepath.Join(t.TempDir(), "state")
	if err := hostsim.Init(root, hostsim.Options{PF: "eth3", Model: "82599"}); err != nil {
		t.Fatalf("sim init: %v", err)
	}
	return root, state
}

// upSim is `vfbypass up PF --vfs n --vf 0` on the simulated host; it
// returns the VFs' PCI addresses.
func upSim(t *testing.T, root, state, pf string, n int) []string {
	t.Helper()
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	res, err := setup.Up(context.Background(), h, setup.Request{PF: pf, NumVFs: n, VFs: []setup.VFRequest{{Index: 0}}}, setup.Options{StateDir: state})
	if err != nil {
		t.Fatalf("up %s: %v", pf, err)
	}
	var addrs []string
	for _, vf := range res.VFs {
		addrs = append(addrs, vf.Address)
	}
	return addrs
}
