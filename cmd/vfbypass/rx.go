package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"

	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
)

func init() { register(newRxCmd) }

// rxBinary is the receive loop's own binary (cmd/vfbypass-rx): a cgo
// binary linked with DPDK, which this static control plane runs.
const rxBinary = "vfbypass-rx"

// rxCalledAs tells vfbypass-rx how the user called it, for its usage lines.
const rxCalledAs = cli.RxCalledAsEnv + "=vfbypass rx"

const rxGetIt = "install the vfbypass-rx package (apt-get install vfbypass-rx), or build it next to vfbypass with DPDK: apt-get install libdpdk-dev pkg-config && make build"

func newRxCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rx (--pf PF --vf K | -a BDF | --vdev SPEC) [flags] [-- EAL args]",
		Short: "Run a DPDK receive loop on a VF (or any DPDK device) and report its rate",
		Long: `rx runs vfbypass-rx, the DPDK receive loop, with the same arguments: it
receives on VF K of PF (bound to vfio-pci by "vfbypass up"), a PCI address
or a DPDK virtual device, and prints its rate each second and a summary.

vfbypass-rx is a binary of its own, linked with DPDK, so that vfbypass runs
on hosts without DPDK. It is looked up next to vfbypass, then on PATH; when
it is installed, "vfbypass rx --help" shows its flags. To get it:
` + rxGetIt + `.`,
		DisableFlagParsing: true,
		ValidArgsFunction:  completeRx,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := findRx()
			if err != nil {
				if wantsHelp(args) {
					return cmd.Help()
				}
				g.Output = outputOf(args)
				return g.emit(&report.Plain{}, err)
			}
			if queueRx(args) {
				return runQueueRx(g, path, args)
			}
			// exec, not a child: signals, the terminal and the exit code
			// are the receive loop's own. args are the global flags
			// given before "rx" and the words after it: -q, -v and -o
			// mean the same to vfbypass-rx.
			err = syscall.Exec(path, append([]string{path}, args...), append(os.Environ(), rxCalledAs))
			return outcome.Failed(fmt.Errorf("run %s: %w", path, err))
		},
	}
}

// findRx finds vfbypass-rx next to this executable, else on PATH.
func findRx() (string, error) {
	var tried []string
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), rxBinary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
		tried = append(tried, "not next to "+self)
	}
	p, err := exec.LookPath(rxBinary)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, exec.ErrNotFound) {
		return "", outcome.Invalid(rxGetIt, "%s on PATH cannot be run: %v", rxBinary, err)
	}
	tried = append(tried, "not on PATH")
	return "", outcome.Invalid(rxGetIt, "the receive loop %s is not installed (%s)", rxBinary, strings.Join(tried, ", "))
}

// wantsHelp reports whether args ask for help (before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help":
			return true
		}
	}
	return false
}

// outputOf finds -o/--output among args the command did not parse, so a
// missing vfbypass-rx is reported in the format asked for.
func outputOf(args []string) string {
	if out, _ := outputFromArgs(args); out == "json" {
		return "json"
	}
	return "text"
}

// completeRx asks vfbypass-rx to complete its own command line (cobra's
// __complete protocol: one candidate a line, then ":DIRECTIVE").
func completeRx(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	path, err := findRx()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out, err := exec.Command(path, append(append([]string{cobra.ShellCompRequestCmd}, args...), toComplete)...).Output()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return lines[:len(lines)-1], cobra.ShellCompDirective(d)
}
