// Command vfbypass steers chosen flows from a Linux PF to an SR-IOV VF that a
// DPDK loop owns, while the kernel keeps the PF: `up`, `steer`, `rx`,
// `status`, `down`. Run `vfbypass --help`.
package main

import (
	"os"
)

func main() {
	survivePipes()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
