package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// globals are the flags every command takes (shared with vfbypass-rx), and
// what run knows of this invocation.
type globals struct {
	cli.Globals
	// args is the command line as given, for messages that quote it.
	args []string
	// stdin is the process's standard input (up --config -).
	stdin *os.File
	// host is the host a command opened (openHost), for emit.
	host *host.Host
	// pfArg is the PF the command was given, for "did you mean".
	pfArg string
}

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
		// Runnable, so that cobra hands a word that is no command to
		// unknownCommand instead of refusing it in words of its own; alone,
		// vfbypass prints its help as before.
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.Started = true
			g.pfArg = pfArgOf(cmd, args)
			if cmd.Annotations[jsonlAnnotation] != "" {
				g.Formats = []string{"text", "json", "jsonl"} // a JSON line per event, then the summary
			}
			return g.Check()
		},
	}
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	g.Bind(root.PersistentFlags())
	root.SetFlagErrorFunc(flagError)
	for _, add := range commands {
		root.AddCommand(add(g))
	}
	// cobra adds help and completion when it runs; added now, they get the
	// same refusal of unknown subcommands and topics as ours.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	onlyUnixShells(root)
	refuseUnknownSubcommands(root)
	refuseUnknownHelpTopics(root)
	addCompletions(g, root)
	return root
}

// usageFix is the fix of a command line vfbypass cannot make sense of.
const usageFix = "see 'vfbypass --help' for the commands and their flags"

// unknownCommand is the root's argument check: every word the root is
// left with is no command of vfbypass (cobra found none by that name), said
// as bad usage with the commands it is close to.
func unknownCommand(root *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	fix := usageFix
	root.SuggestionsMinimumDistance = 2 // cobra's own default
	if s := root.SuggestionsFor(args[0]); len(s) > 0 {
		fix = "did you mean " + strings.Join(s, " or ") + "? " + fix
	}
	return outcome.Invalid(fix, "unknown command %q for %q", args[0], root.CommandPath())
}

// noArgs is cobra.NoArgs as bad usage.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return outcome.Invalid(usageFix, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// onlyUnixShells keeps the completion scripts of the shells vfbypass's
// hosts run (bash, zsh, fish): cobra's PowerShell script has no use on
// Linux. The scripts take no arguments, refused as bad usage.
func onlyUnixShells(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		for _, sh := range c.Commands() {
			sh.Args = noArgs
			if sh.Name() == "powershell" {
				c.RemoveCommand(sh)
			}
		}
	}
}

// refuseUnknownHelpTopics makes "vfbypass help bogus" exit 2 (cobra prints
// the root's help and exits 0).
func refuseUnknownHelpTopics(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "help" || c.Run == nil {
			continue
		}
		run := c.Run
		c.Run = nil
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if target, rest, err := root.Find(args); err != nil || target == nil || len(rest) > 0 {
				return outcome.Invalid("see 'vfbypass --help' for the commands", "no help for %q: there is no such command", strings.Join(args, " "))
			}
			run(cmd, args)
			return nil
		}
	}
}

// refuseUnknownSubcommands gives every command that only groups others
// ("steer", "sim") a run function: without arguments it prints its help, with
// one it says the subcommand is unknown (cobra would print the help and exit
// 0 for "vfbypass steer bogus").
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		if !c.HasSubCommands() || c.Runnable() {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return outcome.Invalid(fmt.Sprintf("use one of: %s (see '%s --help')", strings.Join(names, ", "), cmd.CommandPath()),
				"unknown command %q for %q", args[0], cmd.CommandPath())
		}
		refuseUnknownSubcommands(c)
	}
}

// flagError is the flag-error function of every command: a flag error is
// bad input, said in the user's words (the flag and the value, not the Go
// parser that refused it), with the command's help as the fix.
func flagError(c *cobra.Command, err error) error {
	fix := fmt.Sprintf("see '%s --help' for the flags and their values", c.CommandPath())
	var (
		notExist *pflag.NotExistError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist) && negativeNumber.MatchString(notExist.GetSpecifiedShortnames()):
		// "-1" is a number, not a group of short flags.
		v := "-" + notExist.GetSpecifiedShortnames()
		if strings.Contains(c.Use, "LOC") {
			return outcome.Invalid("give rule locations from 0 up, as 'vfbypass steer list' shows them", "location %s is invalid: a location is not negative", v)
		}
		return outcome.Invalid(fix, "%s takes no negative number, got %s", c.CommandPath(), v)
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		return outcome.Invalid(fix, "--%s %q %s", f.Name, invalid.GetValue(), valueProblem(f.Value.Type(), invalid.Unwrap()))
	}
	return cli.FlagError(c, err)
}

var negativeNumber = regexp.MustCompile(`^[0-9]+$`)

// valueProblem says why the value of a flag of type typ (pflag's name of
// it) was refused, in words.
func valueProblem(typ string, err error) string {
	var ne *strconv.NumError
	switch {
	case typ == "duration":
		return "is not a duration (write e.g. 10s, 500ms, 1m30s)"
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		return "is out of range"
	case errors.As(err, &ne) && ne.Func == "ParseBool":
		return "is not true or false"
	case errors.As(err, &ne) && ne.Func == "ParseFloat":
		return "is not a number"
	case errors.As(err, &ne):
		return "is not a whole number"
	case err != nil:
		return err.Error()
	}
	return "is not valid"
}

// commands lists the constructors of the subcommands; each command's file
// registers itself in an init function.
var commands []func(*globals) *cobra.Command

func register(f func(*globals) *cobra.Command) { commands = append(commands, f) }

func run(args []string, stdout, stderr io.Writer) int {
	return runWith(os.Stdin, args, stdout, stderr)
}

// runWith is run with stdin given (tests pass a pipe).
func runWith(stdin *os.File, args []string, stdout, stderr io.Writer) int {
	g := &globals{Globals: cli.Globals{Stdout: stdout, Stderr: stderr, SimTwin: "vfbypass-sim"}, args: args, stdin: stdin}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil && !g.Started {
		// The command line was refused before any command ran (unknown
		// command or flag, bad value, argument count): flags after the
		// error were not parsed, so -o is read from the line itself.
		err = cli.Usage(err, usageFix)
		if o, ok := outputFromArgs(args); ok {
			g.Output = o
		}
	}
	return g.Exit(err)
}

// shortOutput is a group of short flags ending with -o: "-o", "-ojson",
// "-o=json", "-vo json".
var shortOutput = regexp.MustCompile(`^-[vqh]*o(.*)$`)

// outputFromArgs finds the output format in a command line as pflag would
// read it (the last -o/--output wins; nothing after "--" is a flag).
func outputFromArgs(args []string) (string, bool) {
	out, found := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		value, next := "", false
		switch m := shortOutput.FindStringSubmatch(a); {
		case a == "--":
			return out, found
		case a == "--output":
			next = true
		case strings.HasPrefix(a, "--output="):
			value = strings.TrimPrefix(a, "--output=")
		case m != nil && m[1] == "":
			next = true
		case m != nil:
			value = strings.TrimPrefix(m[1], "=")
		default:
			continue
		}
		if next {
			if i+1 >= len(args) {
				break
			}
			i++
			value = args[i]
		}
		out, found = value, true
	}
	return out, found
}

// openHost opens the host the global flags name; with -v every call that
// reaches the kernel is written to stderr as it is made.
func (g *globals) openHost() (*host.Host, error) {
	h, err := g.OpenHost()
	if err != nil {
		return h, err
	}
	if g.Verbose {
		h = host.Verbose(h, g.Stderr)
	}
	g.host = h
	return h, nil
}

// emit prints res and its warnings (cli.Globals.Emit), with the PF's VFs.
func (g *globals) emit(res report.Result, err error) error {
	if b := res.Base(); b.VFs == nil && b.PF != "" && g.host != nil && sriov.ValidIfname(b.PF) {
		// One meaning of vfs everywhere: the PF's VFs after the command,
		// also from commands that do not look at them (steer).
		b.VFs = setup.VFReports(g.host, b.PF)
	}
	return g.Emit(res, g.suggestPF(err))
}

// progress is the function that prints up's and down's progress lines on
// stderr: none in JSON mode or with -q.
func (g *globals) progress() func(string) {
	if g.Output != "text" || g.Quiet {
		return nil
	}
	return func(s string) { fmt.Fprintf(g.Stderr, "→ %s\n", s) }
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

// checkOptionalPF refuses a PF argument that cannot be an interface name
// (an empty name given to status is not "every PF").
func checkOptionalPF(args []string) error {
	if len(args) == 1 {
		return sriov.CheckIfname(args[0])
	}
	return nil
}

// optionalPF returns the PF argument of commands whose PF is optional.
func optionalPF(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}

// simShort is the one-line help of 'vfbypass sim', in both builds.
const simShort = "Simulated hosts: an SR-IOV NIC in a directory, for tests, demos and dry runs without hardware"
