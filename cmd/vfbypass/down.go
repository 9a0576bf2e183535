package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/watch"
)

func init() { register(newDownCmd) }

func newDownCmd(g *globals) *cobra.Command {
	var opts setup.Options
	cmd := &cobra.Command{
		Use:   "down PF",
		Short: "Undo exactly what vfbypass did to a PF, in reverse, from its journal",
		Example: `  vfbypass down eth3
  vfbypass down eth3 --dry-run
  vfbypass down eth3 --missing-ok -o json   # in scripts: no journal is not an error`,
		Args: exactArgs(1, "the PF interface name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sriov.CheckIfname(args[0]); err != nil {
				return err
			}
			if err := checkTimeout(opts.Timeout); err != nil {
				return err
			}
			h, err := g.openHost()
			if err != nil {
				return err
			}
			defer h.Close()
			opts.StateDir = g.StateDir
			opts.Progress = g.progress()
			// Undo is not interrupted by a signal: a half-undone PF is worse.
			ctx, stop := whileChanging()
			defer stop()
			// Neither the interface nor a journal: most likely a typo.
			// --missing-ok (a fleet where some hosts lack the PF) keeps
			// its success, with the name in a warning.
			unknown := !g.interfaceExists(args[0]) && !journalExists(g.StateDir, args[0])
			if unknown && !opts.MissingOK {
				return g.emit(&setup.DownResult{}, g.unknownPF(args[0], " and no journal for it in "+g.StateDir))
			}
			res, err := setup.Down(context.WithoutCancel(ctx), h, args[0], opts)
			if unknown && err == nil {
				res.Warn("%v", g.unknownPF(args[0], ""))
			}
			if err == nil && !opts.DryRun && !journalExists(g.StateDir, args[0]) {
				if ferr := watch.Forget(g.StateDir, args[0]); ferr != nil {
					res.Warn("the PF is down, but a stopped watcher's files stay: %v", ferr)
				}
			}
			return g.emit(res, err)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.DryRun, "dry-run", false, "print what would be undone and change nothing")
	f.BoolVar(&opts.MissingOK, "missing-ok", false, "succeed (changed=false) when the PF has no journal")
	f.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "how long to wait for devices to appear or go")
	return cmd
}

// journalExists reports whether the state directory holds a journal for pf.
func journalExists(stateDir, pf string) bool {
	_, err := os.Lstat(journal.Store{Dir: stateDir}.Path(pf))
	return err == nil
}
