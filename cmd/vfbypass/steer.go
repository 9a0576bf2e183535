package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/steer"
)

func init() { register(newSteerCmd) }

func newSteerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "steer",
		Short: "Steer flows to a VF with ntuple rules (ethtool's words), list, delete and clear them (journaled)",
		Long: `steer installs ntuple (flow director) rules on a PF so that chosen flows
reach a VF, in ethtool's words. Every rule vfbypass adds is journaled, so
"vfbypass down PF" and "vfbypass steer clear PF" remove it again; rules
shown by "steer list" carry their decoded target ("VF 0 (0000:04:10.0) queue 0").`,
	}
	cmd.AddCommand(newSteerAddCmd(g), newSteerListCmd(g), newSteerDelCmd(g), newSteerClearCmd(g))
	return cmd
}

func (g *globals) store() journal.Store {
	s := journal.Store{Dir: g.StateDir}
	if !g.Quiet {
		s.Waiting = func(m string) { fmt.Fprintf(g.Stderr, "vfbypass: %s\n", m) }
	}
	return s
}

func newSteerAddCmd(g *globals) *cobra.Command {
	var (
		vf       int
		queue    uint32
		fromFile string
		opts     steer.Options
	)
	cmd := &cobra.Command{
		Use:   "add PF [--vf K] [--queue Q] [--from-file F] FLOW...",
		Short: "Install ntuple rules that steer flows to a VF (or a PF queue, or drop them)",
		Long: `FLOW is a rule in ethtool's words, from "flow-type" on, as after "ethtool -N PF":
  flow-type tcp4|udp4|sctp4|ip4 [src-ip A [m MASK]] [dst-ip A] [src-port P] [dst-port P] ... [loc N]
The target is --vf K [--queue Q] (K is the VF's sysfs index, virtfnK),
--queue Q alone for the PF's own RX queue Q (queue mode: the queue
"vfbypass up PF --mode queue --queue Q" took out of RSS; a warning says when
Q still receives RSS traffic), or the raw ethtool forms in the rule: "vf K queue Q", "action N" (N = (K+1)<<32 | Q
for VF K, a PF queue below 2^32) or "action -1" (drop). Without loc,
vfbypass picks the highest free location, as ethtool does.

Flags go before the PF, between the PF and the rule, or after the rule; in
the rule, "m" and numbers such as "-1" are rule words, and the first word
that is a flag of this command ("-o", "--dry-run", ...) ends the rule.
--from-file reads one rule per line (blank lines and # comments skipped) and
installs them as one batch in this process: all of them, or none; there
--vf/--queue is the target of the lines that name none.`,
		Example: `  vfbypass steer add eth3 --vf 0 flow-type tcp4 dst-ip 10.0.0.1 dst-port 80
  vfbypass steer add --vf 1 --queue 2 eth3 flow-type udp4 dst-port 4789
  vfbypass steer add eth3 --queue 15 flow-type udp4 dst-port 4789
  vfbypass steer add eth3 flow-type tcp4 dst-port 443 action 4294967296
  vfbypass steer add eth3 --vf 0 --from-file rules.txt -o json
  vfbypass steer add eth3 --dry-run --vf 0 flow-type tcp4 src-ip 10.1.0.0 m 0.0.255.255`,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := addArgs(g, cmd, args)
			if err != nil {
				return err
			}
			res := &steer.Result{Rules: []steer.RuleInfo{}}
			if len(args) == 0 {
				return g.emit(res, outcome.Invalid("name the PF: vfbypass steer add eth3 --vf 0 flow-type tcp4 dst-port 80", "steer add needs the PF interface name"))
			}
			pf, flow := args[0], args[1:]
			res.PF = pf
			var target *int
			// --queue without --vf is the PF's own queue (queue mode:
			// the hidden queue 'vfbypass up PF --mode queue' made).
			pfQueue := !cmd.Flags().Changed("vf") && cmd.Flags().Changed("queue")
			if cmd.Flags().Changed("vf") {
				target = &vf
			}
			reqs, err := addRequests(pf, flow, fromFile, steer.Request{VF: target, Queue: queue, PFQueue: pfQueue})
			if err != nil {
				return g.emit(res, err)
			}
			opts.StateDir = g.StateDir
			return g.changing(func(h *host.Host) error {
				r, err := steer.AddMany(h, g.store(), pf, reqs, opts)
				return g.emit(r, err)
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	intVar(f, &vf, "vf", 0, "target VF index (virtfnK)")
	uint32Var(f, &queue, "queue", "queue of the target VF (0 to queues per pool - 1); without --vf, the PF's own RX queue (queue mode)")
	f.StringVar(&fromFile, "from-file", "", "read rules from a file, one per line (# comments), and install them as one batch")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check and print the rules and their locations, change nothing")
	f.BoolVar(&opts.Force, "force", false, "replace a rule at an explicit loc that vfbypass did not add, or add a rule whose match another installed rule already steers elsewhere")
	return cmd
}

// addArgs parses the flags steer add takes between the PF and the rule
// and after the rule (interspersed parsing is off, so that rule words
// such as "m" and "-1" stay words), and returns PF and rule alone.
func addArgs(g *globals, cmd *cobra.Command, args []string) ([]string, error) {
	if len(args) > 1 {
		end := len(args)
		for i := 1; i < len(args); i++ {
			if args[i] == "flow-type" {
				end = i
				break
			}
		}
		if end > 1 {
			if err := cmd.Flags().Parse(args[1:end]); err != nil {
				return nil, outcome.Invalid("see 'vfbypass steer add --help'", "%v", err)
			}
			if rest := cmd.Flags().Args(); len(rest) > 0 {
				return nil, outcome.Invalid("start the rule with flow-type, after the flags: vfbypass steer add PF --vf K flow-type tcp4 ...", "unexpected %q between the PF and the rule", rest[0])
			}
			args = append([]string{args[0]}, args[end:]...)
		}
	}
	// Flags after the rule ("... dst-port 80 -o json"): from the first
	// word that is a flag of this command, not a number.
	if i := trailingFlags(cmd, args); i > 0 {
		if err := cmd.Flags().Parse(args[i:]); err != nil {
			return nil, outcome.Invalid("see 'vfbypass steer add --help'", "%v", err)
		}
		if rest := cmd.Flags().Args(); len(rest) > 0 {
			return nil, outcome.Invalid("put the whole rule before or after the flags, not around them", "rule word %q after the flags", rest[0])
		}
		if err := g.Check(); err != nil {
			return nil, err
		}
		args = args[:i]
	}
	return args, nil
}

// addRequests are the rules to add to pf: the one on the command line
// (flow), or each line of fromFile, with the target of base.
func addRequests(pf string, flow []string, fromFile string, base steer.Request) ([]steer.Request, error) {
	switch {
	case fromFile != "" && len(flow) > 0:
		return nil, outcome.Invalid("give the rules either in --from-file or on the command line", "--from-file %s and a rule on the command line", fromFile)
	case fromFile != "":
		lines, err := readRules(fromFile)
		if err != nil {
			return nil, err
		}
		var reqs []steer.Request
		for _, l := range lines {
			r := base
			r.Words, r.Default = l, true
			reqs = append(reqs, r)
		}
		return reqs, nil
	case len(flow) == 0:
		return nil, outcome.Invalid("give the rule in ethtool's words: vfbypass steer add "+pf+" --vf 0 flow-type tcp4 dst-port 80", "steer add %s needs a rule (FLOW) or --from-file", pf)
	}
	if err := queueWordWithVFFlag(flow, base.VF); err != nil {
		return nil, err
	}
	base.Words = flow
	return []steer.Request{base}, nil
}

// trailingFlags returns the index in args of the first flag of cmd that
// follows the rule words (a word starting with "-" that is not a number and
// names one of cmd's flags), or 0 when there is none.
func trailingFlags(cmd *cobra.Command, args []string) int {
	start := -1
	for i, a := range args {
		if a == "flow-type" {
			start = i
			break
		}
	}
	if start < 0 {
		return 0
	}
	for i := start + 1; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9') || a[1] == '+' {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var known bool
		if strings.HasPrefix(a, "--") {
			known = cmd.Flags().Lookup(name) != nil
		} else {
			known = cmd.Flags().ShorthandLookup(name[:1]) != nil
		}
		if known {
			return i
		}
	}
	return 0
}

// readRules reads a rules file: one rule per line, # comments, blank lines.
func readRules(path string) ([][]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, outcome.Invalid("pass a readable file with --from-file", "read rules: %v", err)
	}
	defer fh.Close()
	var out [][]string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if w := strings.Fields(line); len(w) > 0 {
			out = append(out, w)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, outcome.Invalid("pass a readable text file with --from-file", "read rules %s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, outcome.Invalid("write one rule per line, e.g. flow-type tcp4 dst-port 80", "%s holds no rules", path)
	}
	return out, nil
}

func newSteerListCmd(g *globals) *cobra.Command {
	var brief bool
	cmd := &cobra.Command{
		Use:   "list PF",
		Short: "List the PF's ntuple rules like 'ethtool -n', with each target decoded and the ones vfbypass added marked",
		Long: `list prints the rule table as "ethtool -n PF" does (the RX ring count,
"Total N rules", a blank line, and each rule followed by a blank line), so
scripts written for ethtool keep working; each rule gains a "Steers to"
line with the target decoded. --brief prints one line per rule instead:
location, the rule in ethtool's words, the target, and "vfbypass steer" or
"vfbypass up" for the rules vfbypass added ("-" for the others), separated
by tabs.`,
		Example: "  vfbypass steer list eth3\n  vfbypass steer list eth3 --brief\n  vfbypass steer list eth3 -o json",
		Args:    exactArgs(1, "the PF interface name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(h *host.Host) error {
				r, err := steer.List(h, g.store(), args[0])
				if brief {
					return g.emit(briefList{r}, err)
				}
				return g.emit(r, err)
			})
		},
	}
	cmd.Flags().BoolVar(&brief, "brief", false, "one line per rule: location, rule, target, who added it")
	return cmd
}

// briefList prints a steer list result one line per rule in text (JSON is
// the full result).
type briefList struct{ *steer.Result }

func (b briefList) Text(w io.Writer) { b.Brief(w) }

func newSteerDelCmd(g *globals) *cobra.Command {
	var opts steer.Options
	cmd := &cobra.Command{
		Use:     "del PF LOC...",
		Short:   "Delete the rules at the given locations (and forget them in the journal)",
		Example: "  vfbypass steer del eth3 2045\n  vfbypass steer del eth3 2044 2045 --dry-run",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return outcome.Invalid("see 'vfbypass steer del --help'", "steer del needs the PF and at least one location, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			locs, err := steer.ParseLocations(args[1:])
			if err != nil {
				res := &steer.Result{Rules: []steer.RuleInfo{}}
				res.PF = args[0]
				return g.emit(res, err)
			}
			opts.StateDir = g.StateDir
			return g.changing(func(h *host.Host) error {
				r, err := steer.Del(h, g.store(), args[0], locs, opts)
				return g.emit(r, err)
			})
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be deleted, change nothing")
	return cmd
}

func newSteerClearCmd(g *globals) *cobra.Command {
	var (
		opts steer.Options
		all  bool
	)
	cmd := &cobra.Command{
		Use:     "clear PF [--all]",
		Short:   "Delete the rules vfbypass added to the PF (with --all: every rule of its table)",
		Example: "  vfbypass steer clear eth3\n  vfbypass steer clear eth3 --all --dry-run",
		Args:    exactArgs(1, "the PF interface name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateDir = g.StateDir
			return g.changing(func(h *host.Host) error {
				r, err := steer.Clear(h, g.store(), args[0], all, opts)
				return g.emit(r, err)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also delete rules vfbypass did not add")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be deleted, change nothing")
	return cmd
}

// queueWordWithVFFlag refuses "queue Q" in the rule's words with --vf K
// given as a flag: the two halves of one target, which ethtool's words
// would read as "queue without vf".
func queueWordWithVFFlag(words []string, vf *int) error {
	if vf == nil || slices.Contains(words, "vf") || slices.Contains(words, "action") {
		return nil
	}
	i := slices.Index(words, "queue")
	if i < 0 || i+1 >= len(words) {
		return nil
	}
	q := words[i+1]
	return outcome.Invalid(fmt.Sprintf("give the queue as a flag with --vf: --vf %d --queue %s, or the whole target in the rule: vf %d queue %s", *vf, q, *vf, q),
		"the rule says queue %s and --vf %d is a flag: one target in two halves", q, *vf)
}
