package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/hostsim"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/report"
)

// globals are the flags every command takes.
type globals struct {
	output   string
	stateDir string
	hostRoot string
	verbose  bool
	stdout   io.Writer
	stderr   io.Writer
}

// printed marks an error whose report was already written.
type printed struct{ err error }

func (p printed) Error() string { return p.err.Error() }
func (p printed) Unwrap() error { return p.err }

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
			if g.output != "text" && g.output != "json" {
				return outcome.Invalid("use -o text or -o json", "output format %q is not known", g.output)
			}
			return nil
		},
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.stateDir, "state-dir", "/run/vfbypass", "directory of the journals and locks")
	pf.StringVar(&g.hostRoot, "host-root", "/", "root under which sysfs, procfs and /dev are found (a directory made by 'vfbypass sim init' is a simulated host)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "say more")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return outcome.Invalid(fmt.Sprintf("see '%s --help' for the flags and their values", c.CommandPath()), "%v", err)
	})
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
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return outcome.OK
	}
	var p printed
	if !errors.As(err, &p) {
		if g.output == "json" {
			r := &report.Plain{}
			report.SetError(r, err)
			_ = report.JSON(stdout, r)
		} else {
			printError(stderr, err)
		}
	}
	code := outcome.Code(err)
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "accepts ") || strings.Contains(err.Error(), "arg(s)") {
		code = outcome.BadInput
	}
	return code
}

func printError(w io.Writer, err error) {
	var e *outcome.Error
	if errors.As(err, &e) && e.Fix != "" {
		fmt.Fprintf(w, "vfbypass: %v\n  fix: %s\n", e.Err, e.Fix)
		return
	}
	fmt.Fprintf(w, "vfbypass: %v\n", err)
}

// openHost opens the host the global flags name: the simulator for a
// directory made by 'vfbypass sim init', the kernel otherwise.
func (g *globals) openHost() (*host.Host, error) {
	if hostsim.Is(g.hostRoot) {
		return hostsim.Open(g.hostRoot)
	}
	if st, err := os.Stat(g.hostRoot); err != nil || !st.IsDir() {
		return nil, outcome.Invalid("pass a directory with --host-root (default /)", "host root %q is not a directory", g.hostRoot)
	}
	return host.Real(g.hostRoot), nil
}

// emit prints res (text or JSON) and its warnings, and returns err marked as
// printed so run does not print it again.
func (g *globals) emit(res report.Result, err error) error {
	if err != nil {
		report.SetError(res, err)
	}
	if g.output == "json" {
		if jerr := report.JSON(g.stdout, res); jerr != nil && err == nil {
			return jerr
		}
	} else {
		res.Text(g.stdout)
		for _, w := range res.Base().Warnings {
			fmt.Fprintf(g.stderr, "warning: %s\n", w)
		}
		if err != nil {
			printError(g.stderr, err)
		}
	}
	if err != nil {
		return printed{err}
	}
	return nil
}

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
