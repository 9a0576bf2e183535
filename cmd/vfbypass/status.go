package main

import (
	"github.com/spf13/cobra"
	"github.com/vfbypass/vfbypass/pkg/host"

	"github.com/vfbypass/vfbypass/pkg/setup"
)

func init() { register(newStatusCmd) }

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status [PF]",
		Short: "Show what is applied now, from the kernel and the journal, with the drift between them",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(h *host.Host) error {
				res, err := setup.Status(h, optionalPF(args), g.StateDir)
				return g.emit(res, err)
			})
		},
	}
}
