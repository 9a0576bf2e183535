package main

import (
	"github.com/spf13/cobra"
	"github.com/vfbypass/vfbypass/internal/host"

	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/watch"
)

func init() { register(newStatusCmd) }

func newStatusCmd(g *globals) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "status [PF]",
		Short: "Show what is applied now, from the kernel and the journal, with the drift between them",
		Long: `Show each PF as the kernel has it, the journal vfbypass keeps for it, and the drift:
every field vfbypass manages (VF count, VF MAC, VLAN, trust, spoof check, driver,
ntuple, rules) whose value differs from what the journal's request asked for, as
want/have pairs. With --check, drift makes the exit code 4 (for monitoring);
'vfbypass up' with the same request repairs it.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOptionalPF(args); err != nil {
				return err
			}
			return g.withHost(func(h *host.Host) error {
				res, err := inspect.Status(h, optionalPF(args), g.StateDir)
				for i, p := range res.PFs {
					var werr error
					if res.PFs[i].Watcher, werr = watch.Inspect(g.StateDir, p.Name); werr != nil {
						res.Warn("%s's watcher: %v", p.Name, werr)
					}
				}
				if err == nil && check {
					err = res.DriftError()
				}
				return g.emit(res, err)
			})
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "exit 4 when a PF has drifted from what vfbypass set up")
	return cmd
}
