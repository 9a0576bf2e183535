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
			return cli.WriteMan(cmd.Root(), args[0], manSections())
		},
	}
}

// manSections are the EXIT STATUS, FILES and ENVIRONMENT of every page.
func manSections() cli.ManSections {
	return cli.ManSections{
		ExitStatus: cli.ExitStatus(),
		Files: []cli.ManEntry{
			{Term: "/run/vfbypass/PF.json", Text: "the journal of PF (in --state-dir): what up changed and the values before it, which down restores; tmpfs, so it goes at reboot with what it undoes"},
			{Term: "/run/lock/vfbypass/BDF.lock", Text: "the lock of the PF at PCI address BDF, held while a command changes it"},
			{Term: "/etc/vfbypass/PF.yaml", Text: "the config vfbypass@PF.service applies at boot (up --config; docs/config.md); refused when group or others can write it"},
			{Term: "/etc/vfbypass/PF.rx.env", Text: "the receive loop's arguments for vfbypass-rx@PF.service"},
		},
		Environment: []cli.ManEntry{
			{Term: "PATH", Text: "where vfbypass rx looks for vfbypass-rx when it is not next to vfbypass"},
			{Term: cli.RxCalledAsEnv, Text: "set by vfbypass rx for vfbypass-rx, which names itself so in its messages; not for users"},
		},
	}
}
