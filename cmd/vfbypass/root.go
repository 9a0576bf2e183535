package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/report"
)

// globals are the flags every command takes (shared with vfbypass-rx).
type globals struct{ cli.Globals }

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "vfbypass",
		Short: "Steer chosen flows from a Linux PF to an SR-IOV VF owned by a DPDK loop",
		Long: `vfbypass keeps a NIC with the kernel and bypasses it for chosen flows only:
it enables SR-IOV VFs on the PF, gives a VF to vfio-pci, steers flows to it
with ntuple rules and runs a DPDK receive loop on it. Every change is
journaled, so "vfbypass down" undoes exactly what "vfbypass up" did.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.CheckOutput()
		},
	}
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	g.Bind(root.PersistentFlags())
	root.SetFlagErrorFunc(cli.FlagError)
	for _, add := range commands {
		root.AddCommand(add(g))
	}
	return root
}

// commands lists the constructors of the subcommands; each command's file
// registers itself in an init function.
var commands []func(*globals) *cobra.Command

func register(f func(*globals) *cobra.Command) { commands = append(commands, f) }

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{cli.Globals{Stdout: stdout, Stderr: stderr}}
	root := newRootCmd(g)
	root.SetArgs(args)
	return g.Exit(root.Execute())
}

// openHost opens the host the global flags name.
func (g *globals) openHost() (*host.Host, error) { return g.OpenHost() }

// emit prints res and its warnings (cli.Globals.Emit).
func (g *globals) emit(res report.Result, err error) error { return g.Emit(res, err) }

// withHost opens the host, runs f on it and closes it.
func (g *globals) withHost(f func(h *host.Host) error) error {
	h, err := g.openHost()
	if err != nil {
		return err
	}
	defer h.Close()
	return f(h)
}

// optionalPF returns the PF argument of commands whose PF is optional.
func optionalPF(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}
