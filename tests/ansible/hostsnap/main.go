// Command hostsnap prints the snapshot of a simulated host (hostsim.Snapshot:
// every path with its content hash or link target, sorted), so the Ansible
// tests can check that check mode leaves the host alone and that down
// restores it byte-identical.
//
//	hostsnap DIR > before
package main

import (
	"fmt"
	"os"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hostsnap DIR (a directory made by 'vfbypass sim init')")
		os.Exit(2)
	}
	s, err := hostsim.Snapshot(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostsnap: snapshot of %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println(s)
}
