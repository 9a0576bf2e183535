package main

import (
	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/pkg/setup"
)

func init() { register(newStatusCmd) }

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status [PF]",
		Short: "Show what is applied now, from the kernel and the journal, with the drift between them",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := g.openHost()
			if err != nil {
				return err
			}
			defer h.Close()
			pf := ""
			if len(args) == 1 {
				pf = args[0]
			}
			res, err := setup.Status(h, pf, g.stateDir)
			return g.emit(res, err)
		},
	}
}
