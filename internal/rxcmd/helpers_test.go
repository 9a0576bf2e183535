package rxcmd

import (
	"io"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// vfb runs the receive loop's command line in-process and returns exit
// code, stdout and stderr.
var vfb = simtest.CLI(func(args []string, stdout, stderr io.Writer) int {
	return Run("vfbypass-rx", args, stdout, stderr)
}).Run

// simHost makes a simulated 82599 host with PF eth3 and a state directory.
func simHost(t *testing.T) (root, state string) {
	return simtest.Root(t, hostsim.Options{PF: "eth3", Model: "82599"}), simtest.StateDir(t)
}

// upSim is `vfbypass up PF --vfs n --vf 0` on the simulated host; it
// returns the VFs' PCI addresses.
func upSim(t *testing.T, root, state, pf string, n int) []string {
	t.Helper()
	return simtest.Up(t, simtest.Open(t, root), state, pf, n)
}
