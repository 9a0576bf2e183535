package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// addCompletions teaches the shell completion (vfbypass completion
// bash|zsh|fish) the values of -o and --driver, PF names for every command
// whose first argument is a PF ("NAME PF" or "NAME [PF]" in its Use line)
// and rule words after flow-type for steer add.
func addCompletions(g *globals, root *cobra.Command) {
	g.CompleteGlobals(root)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Flags().Lookup("driver") != nil {
			_ = c.RegisterFlagCompletionFunc("driver", cli.Words(setup.Drivers()...))
		}
		if w := strings.Fields(c.Use); c.ValidArgsFunction == nil && len(w) > 1 && (w[1] == "PF" || w[1] == "[PF]") {
			c.ValidArgsFunction = func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
				if len(args) == 0 {
					return cli.SRIOVPFs(g.HostRoot), cobra.ShellCompDirectiveNoFileComp
				}
				if c.Name() == "add" && c.Parent() != nil && c.Parent().Name() == "steer" {
					return ruleWords(args[1:]), cobra.ShellCompDirectiveNoFileComp
				}
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	walk(root)
}

// ruleWords completes steer add's words after the PF: flow-type, then
// what pkg/flows says may follow (flags such as --vf may come before
// flow-type).
func ruleWords(args []string) []string {
	i := slices.Index(args, "flow-type")
	if i < 0 {
		return flows.NextWords(nil)
	}
	return flows.NextWords(args[i:])
}
