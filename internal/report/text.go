package report

import (
	"fmt"
	"io"
)

// OrNone is s, or "none" when s is empty.
func OrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// OnOff writes a switch as the text output does: "on" or "off".
func OnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Bit is a switch as a sysfs attribute reads: 1 or 0.
func Bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteVF prints one VF on a line, as status and up show it.
func WriteVF(w io.Writer, v VF) {
	fmt.Fprintf(w, "  VF %d  %s  driver %-9s", v.Index, v.Address, OrNone(v.Driver))
	if v.IOMMUGroup != "" {
		fmt.Fprintf(w, "  iommu group %s", v.IOMMUGroup)
	}
	if v.VFIODevice != "" {
		fmt.Fprintf(w, "  %s", v.VFIODevice)
	}
	if v.Netdev != "" {
		fmt.Fprintf(w, "  netdev %s", v.Netdev)
	}
	if v.MAC != "" {
		fmt.Fprintf(w, "  mac %s", v.MAC)
	}
	if v.VLAN != 0 {
		fmt.Fprintf(w, "  vlan %d", v.VLAN)
	}
	fmt.Fprintf(w, "  trust %s  spoofchk %s\n", OnOff(v.Trust), OnOff(v.Spoofchk))
}
