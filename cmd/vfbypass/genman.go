package main

import (
	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"
)

func init() { register(newGenManCmd) }

// newGenManCmd is make docs' way to the command tree: hidden, as it is of
// no use on a host.
func newGenManCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write the man pages of vfbypass and its commands into DIR (make docs)",
		Hidden: true,
		Args:   exactArgs(1, "the directory to write the pages in"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.WriteMan(cmd.Root(), args[0])
		},
	}
}
