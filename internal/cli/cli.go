// Package cli holds what the two binaries, vfbypass (the static control
// plane) and vfbypass-rx (the DPDK receive loop), share on the command line:
// the global flags, opening the host they name, and the output and exit-code
// contract (docs/json.md).
package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
)

// RxCalledAsEnv names how the user called the receive loop ("vfbypass rx"
// when vfbypass runs vfbypass-rx), for its usage and examples.
const RxCalledAsEnv = "VFBYPASS_RX_CALLED_AS"

// Globals are the flags every command of both binaries takes, and where
// their output goes.
type Globals struct {
	Output   string
	StateDir string
	HostRoot string
	Verbose  bool
	// Quiet (-q): print only errors (and, in the receive loop, no EAL log).
	Quiet bool
	// SimTwin is the binary that takes this one's arguments with the
	// simulator linked in ("vfbypass-sim" for vfbypass; "" for none): a
	// build without the simulator (-tags nosim) hands a simulated host to
	// it.
	SimTwin string
	// Formats are the values of -o this binary prints (nil: text and json).
	Formats []string
	Stdout  io.Writer
	Stderr  io.Writer
	// Started is set once cobra accepted the command line and a command's
	// hooks run: an error before that is bad usage (Usage).
	Started bool
}

// outputs are the values -o takes.
func (g *Globals) outputs() []string {
	if g.Formats == nil {
		return []string{"text", "json"}
	}
	return g.Formats
}

// orList writes words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Bind adds the global flags to fs (a root command's persistent flags):
// the same letters mean the same in both binaries.
func (g *Globals) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&g.Output, "output", "o", "text", "output format: "+orList(g.outputs()))
	fs.StringVar(&g.StateDir, "state-dir", "/run/vfbypass", "directory of the journals (root-owned, not writable by group or others; the per-PF locks are in HOST_ROOT/run/lock/vfbypass)")
	fs.StringVar(&g.HostRoot, "host-root", "/", "root under which sysfs, procfs and /dev are found (a directory made by 'vfbypass sim init' is a simulated host)")
	fs.BoolVarP(&g.Verbose, "verbose", "v", false, "show each sysfs write, netlink call and ethtool ioctl on stderr, with its result")
	fs.BoolVarP(&g.Quiet, "quiet", "q", false, "print only errors (with -o text; JSON is always printed)")
}

// Check refuses an output format this binary does not print, and -q
// with -v.
func (g *Globals) Check() error {
	if !slices.Contains(g.outputs(), g.Output) {
		var fix []string
		for _, o := range g.outputs() {
			fix = append(fix, "-o "+o)
		}
		return outcome.Invalid("use "+orList(fix), "output format %q is not known", g.Output)
	}
	if g.Quiet && g.Verbose {
		return outcome.Invalid("give -v or -q", "-v (show every kernel call) and -q (print only errors) contradict each other")
	}
	return nil
}

// OpenHost opens the host --host-root names: the simulator for a directory
// made by 'vfbypass sim init', the kernel otherwise.
func (g *Globals) OpenHost() (*host.Host, error) {
	if host.IsSimulated(g.HostRoot) {
		return g.openSimulated()
	}
	if st, err := os.Stat(g.HostRoot); err != nil || !st.IsDir() {
		return nil, outcome.Invalid("pass a directory with --host-root (default /)", "host root %q is not a directory", g.HostRoot)
	}
	return host.Real(g.HostRoot), nil
}

// Printed marks an error whose report was already written.
type Printed struct{ Err error }

func (p Printed) Error() string { return p.Err.Error() }
func (p Printed) Unwrap() error { return p.Err }

// Emit prints res (text or JSON) and its warnings, with -q in text only
// an error, and returns err marked as printed so Exit does not print it
// again.
func (g *Globals) Emit(res report.Result, err error) error {
	if err != nil {
		report.SetError(res, err, ExitCode(err))
	}
	switch {
	case g.Output == "json":
		if jerr := report.JSON(g.Stdout, res); jerr != nil && err == nil {
			return jerr
		}
	case !g.Quiet:
		res.Text(g.Stdout)
		for _, w := range res.Base().Warnings {
			fmt.Fprintf(g.Stderr, "warning: %s\n", w)
		}
	}
	if err != nil && g.Output != "json" {
		PrintError(g.Stderr, err)
	}
	if err != nil {
		return Printed{err}
	}
	return nil
}

// EmitLine prints res as one compact JSON line (the last line of -o jsonl,
// whose earlier lines the command wrote), and returns err marked as
// printed.
func (g *Globals) EmitLine(res report.Result, err error) error {
	report.SetError(res, err, ExitCode(err))
	var b bytes.Buffer
	if jerr := report.JSON(&b, res); jerr != nil && err == nil {
		return jerr
	}
	var line bytes.Buffer
	if jerr := json.Compact(&line, b.Bytes()); jerr != nil && err == nil {
		return jerr
	}
	line.WriteByte('\n')
	if _, werr := g.Stdout.Write(line.Bytes()); werr != nil && err == nil {
		return werr
	}
	if err != nil {
		return Printed{Err: err}
	}
	return nil
}

// Exit prints an error that no command printed (flag and argument errors)
// and returns the process exit code for err.
func (g *Globals) Exit(err error) int {
	if err == nil {
		return ExitCode(nil)
	}
	var p Printed
	if !errors.As(err, &p) {
		if g.Output == "json" {
			r := &report.Plain{}
			report.SetError(r, err, ExitCode(err))
			_ = report.JSON(g.Stdout, r)
		} else {
			PrintError(g.Stderr, err)
		}
	}
	return ExitCode(err)
}

// Usage makes an error returned before any command ran (Started is false)
// bad usage with fix: the flag-error function and the argument checks of
// both binaries return *outcome.BadInput already, and what else cobra
// refuses at that point (the arguments of the __complete command it adds)
// is the command line too.
func Usage(err error, fix string) error {
	if err == nil || outcome.Of(err) != nil {
		return err
	}
	return &outcome.BadInput{Err: err, Fix: fix}
}

// PrintError writes err and its fix for a person.
func PrintError(w io.Writer, err error) {
	if e := outcome.Of(err); e != nil && outcome.FixOf(e) != "" {
		fmt.Fprintf(w, "vfbypass: %v\n  fix: %s\n", e.Unwrap(), outcome.FixOf(e))
		return
	}
	fmt.Fprintf(w, "vfbypass: %v\n", err)
}

// FlagError is the flag-error function of both root commands: a bad flag
// is bad input, with the command's help as the fix.
func FlagError(c *cobra.Command, err error) error {
	return FlagErrorOf(c.CommandPath())(c, err)
}

// FlagErrorOf is FlagError for a command the user calls name ("vfbypass
// rx", whose root command's path is only its first word).
func FlagErrorOf(name string) func(*cobra.Command, error) error {
	return func(_ *cobra.Command, err error) error {
		return outcome.Invalid(fmt.Sprintf("see '%s --help' for the flags and their values", name), "%v", err)
	}
}
