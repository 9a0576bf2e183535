// Command vfbypass-rx is vfbypass's DPDK receive loop, a cgo binary of its
// own so that the control plane (vfbypass) stays a static pure-Go binary
// that runs on hosts without DPDK. `vfbypass rx ARGS` runs it. The command
// line is internal/rxcmd, the loop pkg/rx.
package main

import (
	"os"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/rxcmd"
)

func main() {
	name := os.Getenv(cli.RxCalledAsEnv)
	if name == "" {
		name = "vfbypass-rx"
	}
	os.Exit(rxcmd.Run(name, os.Args[1:], os.Stdout, os.Stderr))
}
