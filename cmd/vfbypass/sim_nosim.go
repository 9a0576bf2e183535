//go:build nosim

package main

import (
	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"
)

func init() { register(newSimCmd) }

// newSimCmd is 'vfbypass sim' of the production build, which leaves the
// simulator out: the whole command line goes to vfbypass-sim, the build
// that has it.
func newSimCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "sim",
		Short:              simShort,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return cli.ExecSimTwin(g.SimTwin)
		},
	}
}
