//go:build nosim

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// openSimulated hands the simulated host at --host-root to the build with
// the simulator: the production binaries leave it out, so the process
// becomes its twin with the same arguments and does not return.
func (g *Globals) openSimulated() (*host.Host, error) {
	if g.SimTwin == "" {
		return nil, outcome.Invalid("run it from a build with the simulator (go build ./cmd/... in the source tree)",
			"host root %q is a simulated host, and this binary is built without the simulator", g.HostRoot)
	}
	return nil, ExecSimTwin(g.SimTwin)
}

// ExecSimTwin replaces this process with name, the same command line with
// the simulator linked in, found beside this binary or in ../lib/vfbypass
// (where make install and the packages put it); it returns only on error.
func ExecSimTwin(name string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to run %s beside it: %w", name, err)
	}
	dir := filepath.Dir(self)
	var tried []string
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, "..", "lib", "vfbypass", name)} {
		if _, err := os.Stat(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: %w", p, err)
			}
			tried = append(tried, p)
			continue
		}
		if err := syscall.Exec(p, append([]string{p}, os.Args[1:]...), os.Environ()); err != nil {
			return fmt.Errorf("run %s: %w", p, err)
		}
	}
	return outcome.Invalid("install "+name+" (make install puts it in PREFIX/lib/vfbypass) or run a build from the source tree",
		"simulated hosts are handled by %s, and it is not at %s", name, strings.Join(tried, " or "))
}
