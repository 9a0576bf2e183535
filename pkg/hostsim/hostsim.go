// Package hostsim simulates a Linux host with an SR-IOV NIC in a directory
// tree: sysfs, procfs and /dev as the kernel lays them out, and writes that
// follow the kernel's rules (drivers/pci/iov.c, the PCI driver core, ixgbe).
package hostsim

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/vfbypass/vfbypass/pkg/host"
)

// MarkerDir is the directory inside a simulated root that holds the
// simulator's own state.
const MarkerDir = ".vfbypass-sim"

// Is reports whether root is a simulated host made by Init.
func Is(root string) bool {
	st, err := os.Stat(filepath.Join(root, MarkerDir))
	return err == nil && st.IsDir()
}

// Open returns the Host of the simulated tree at root.
func Open(root string) (*host.Host, error) {
	return nil, errors.New("hostsim: not built yet")
}
