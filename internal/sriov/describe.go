package sriov

import (
	"fmt"

	"github.com/jaypipes/ghw"
)

// Describe names the PCI device at addr ("Intel Corporation 82599ES
// 10-Gigabit SFI/SFP+ Network Connection") from the pci.ids database, reading
// sysfs under root. It returns "" when the device or the database is missing,
// or when the database cannot be read: pcidb panics on a read error half way
// through pci.ids, and a name is not worth failing a command for.
func Describe(root, addr string) (name string) {
	defer func() {
		if recover() != nil {
			name = ""
		}
	}()
	info, err := ghw.PCI(ghw.WithChroot(root), ghw.WithDisableTopology(), ghw.WithDisableTools(), ghw.WithDisableWarnings())
	if err != nil {
		return ""
	}
	d := info.GetDevice(addr)
	if d == nil || d.Vendor == nil || d.Product == nil {
		return ""
	}
	return fmt.Sprintf("%s %s", d.Vendor.Name, d.Product.Name)
}
