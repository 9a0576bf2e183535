//go:build !nosim

package cli

import (
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// openSimulated opens the simulated host at --host-root: this build has
// the simulator linked in (every build but the production one, which
// make build and the packages make with -tags nosim).
func (g *Globals) openSimulated() (*host.Host, error) { return hostsim.Open(g.HostRoot) }
