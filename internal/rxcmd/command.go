// Package rxcmd is the command line of vfbypass-rx, the DPDK receive loop
// (cmd/vfbypass-rx): the control plane's `vfbypass rx ARGS` runs
// `vfbypass-rx ARGS`, so the loop's cgo and DPDK libraries stay out of the
// static vfbypass binary. The loop itself is pkg/rx.
package rxcmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/buildinfo"
	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/pkg/rx"
)

// NewCommand returns the receive loop's root command, named name
// ("vfbypass-rx" or "vfbypass rx"), with the global flags bound to g.
func NewCommand(g *cli.Globals, name string) *cobra.Command {
	cmd := newRxCmd(g, name)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	// jsonl is the receive loop's own: a JSON line per interval.
	g.Formats = []string{"text", "json", "jsonl"}
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		g.Started = true
		return g.Check()
	}
	cmd.SetOut(g.Stdout)
	cmd.SetErr(g.Stderr)
	g.Bind(cmd.PersistentFlags())
	cmd.SetFlagErrorFunc(cli.FlagErrorOf(name))
	addVersionFlag(g, cmd)
	addGenManFlag(cmd, ManSections())
	g.CompleteGlobals(cmd)
	_ = cmd.RegisterFlagCompletionFunc("pf", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return cli.SRIOVPFs(g.HostRoot), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// addGenManFlag gives the loop a hidden --gen-man DIR for make docs: the
// loop's command line is a root command without subcommands.
func addGenManFlag(cmd *cobra.Command, secs cli.ManSections) {
	var dir string
	cmd.Flags().StringVar(&dir, "gen-man", "", "write the man page into this directory (make docs)")
	_ = cmd.Flags().MarkHidden("gen-man")
	next := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if dir == "" {
			return next(c, args)
		}
		return cli.WriteMan(c, dir, secs)
	}
}

// addVersionFlag gives the loop --version: its build and the DPDK it runs
// with ('vfbypass version' asks for it with -o json).
func addVersionFlag(g *cli.Globals, cmd *cobra.Command) {
	var show bool
	cmd.Flags().BoolVar(&show, "version", false, "print the build (version, commit, Go and DPDK versions) and exit")
	loop := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if !show {
			return loop(c, args)
		}
		in := buildinfo.Read("vfbypass-rx")
		in.DPDK = rx.DPDKVersion()
		return g.Emit(&buildinfo.Result{Info: in}, nil)
	}
}

// ManSections are the EXIT STATUS, FILES and ENVIRONMENT of the loop's
// page.
func ManSections() cli.ManSections {
	return cli.ManSections{
		ExitStatus: cli.ExitStatus()[:3],
		Files: []cli.ManEntry{
			{Term: "/var/run/dpdk/PREFIX/config", Text: "EAL's runtime files for --file-prefix PREFIX (default rte), locked by the running loop: each loop needs a prefix of its own"},
			{Term: "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0", Text: "the DPDK poll-mode drivers EAL loads (Debian 12)"},
			{Term: "/etc/vfbypass/PF.rx.env", Text: "the loop's arguments for vfbypass-rx@PF.service"},
		},
		Environment: []cli.ManEntry{
			{Term: cli.RxCalledAsEnv, Text: "how the user called the loop (\"vfbypass rx\" when vfbypass runs it), for its usage lines"},
			{Term: "XDG_RUNTIME_DIR", Text: "EAL's runtime directory for a user other than root (else /tmp); root's is /var/run"},
		},
	}
}

// Run runs the receive loop's command line and returns the exit code.
func Run(name string, args []string, stdout, stderr io.Writer) int {
	g := &cli.Globals{Stdout: stdout, Stderr: stderr}
	cmd := NewCommand(g, name)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if !g.Started {
		err = cli.Usage(err, "see '"+name+" --help' for the flags and their values")
	}
	return g.Exit(err)
}
