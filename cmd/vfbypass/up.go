package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

func init() { register(newUpCmd) }

// upFlags are up's flags; with --config the config holds the request.
type upFlags struct {
	req             setup.Request
	vfs             []int
	macs            []string
	vlan, qos       int
	trust, spoofchk onOff
	config          string
	opts            setup.Options
	timeout         time.Duration
}

// requestFlags are the flags that say what the request is: a config says it
// all, so none of them may come with --config.
var requestFlags = []string{"vfs", "vf", "mac", "vlan", "qos", "trust", "spoofchk", "driver", "noiommu", "mode", "queue", "xdp-mode"}

func newUpCmd(g *globals) *cobra.Command {
	u := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up PF --vfs N [--vf K ...] [flags] | up PF --mode queue --queue Q",
		Short: "Enable VFs on a PF, configure them, give them to vfio-pci and switch ntuple on (journaled)",
		Example: `  vfbypass up eth3 --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust
  vfbypass up eth3 --vfs 4 --vf 0,1 --mac 02:00:00:00:00:01 --mac 02:00:00:00:00:02 --dry-run
  vfbypass up eth3 --vfs 2 --trust=off --spoofchk=off
  vfbypass up --config /etc/vfbypass/eth3.yaml -o json
  generate-config | vfbypass up --config - -o json
  vfbypass up eth3 --mode queue --queue 15`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := separateOnOff(cmd.Flags(), g.args, args); err != nil {
				return err
			}
			return maxArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := u.request(g, cmd, args)
			if err != nil {
				return err
			}
			if err := checkTimeout(u.timeout); err != nil {
				return err
			}
			h, err := g.openHost()
			if err != nil {
				return err
			}
			defer h.Close()
			u.opts.StateDir, u.opts.Timeout = g.StateDir, u.timeout
			u.opts.Progress = g.progress()
			ctx, stop := whileChanging()
			defer stop()
			res, err := setup.Up(ctx, h, req, u.opts)
			return g.emit(res, err)
		},
	}
	f := cmd.Flags()
	intVar(f, &u.req.NumVFs, "vfs", 0, "number of VFs to enable (sriov_numvfs)")
	intsVar(f, &u.vfs, "vf", "VF index(es) to give to the driver, as sysfs numbers them (virtfnK); repeatable or a list (default 0)")
	f.StringArrayVar(&u.macs, "mac", nil, "administrative MAC for each --vf, in order")
	intVar(f, &u.vlan, "vlan", 0, "VLAN ID (0-4095) for the chosen VFs")
	intVar(f, &u.qos, "qos", 0, "VLAN priority (0-7) with --vlan")
	onOffVar(f, &u.trust, "trust", "trust on the chosen VFs, --trust or --trust=on|off (DPDK needs it on for promiscuous/allmulticast)")
	onOffVar(f, &u.spoofchk, "spoofchk", "spoof checking on the chosen VFs, --spoofchk or --spoofchk=on|off")
	f.StringVar(&u.req.Driver, "driver", "vfio-pci", "driver for the chosen VFs: vfio-pci or none")
	f.BoolVar(&u.req.NoIOMMU, "noiommu", false, "without an IOMMU, use vfio's unsafe no-IOMMU mode")
	f.StringVar(&u.config, "config", "", "read the request from a YAML/JSON file, - (or /dev/stdin) for standard input (see docs/config.md)")
	f.BoolVar(&u.opts.DryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&u.opts.Force, "force", false, "allow a PF carrying the default route, and replacing VFs vfbypass did not create")
	f.BoolVar(&u.opts.Recreate, "recreate", false, "accept a change of --vfs on a PF that is up: every VF is removed and made again, the PF resets (its link drops)")
	f.DurationVar(&u.timeout, "timeout", 10*time.Second, "how long to wait for VFs and /dev/vfio nodes to appear")
	f.StringVar(&u.req.Mode, "mode", "", "bypass mode: vf (default: VFs for DPDK) or queue (a hidden PF RX queue for AF_XDP; see docs/modes.md)")
	intVar(f, &u.req.Queue, "queue", 0, "with --mode queue: the PF RX queue to take out of RSS")
	f.StringVar(&u.req.XDPMode, "xdp-mode", "", "with --mode queue: native (default) or generic XDP for 'rx --queue'; generic is needed on a PF with VFs")
	return cmd
}

// request is the request the command line says: from --config, or from
// the flags.
func (u *upFlags) request(g *globals, cmd *cobra.Command, args []string) (setup.Request, error) {
	var (
		req setup.Request
		err error
	)
	if u.config != "" {
		req, err = u.fromConfig(g, cmd, args)
	} else {
		req, err = u.fromFlags(cmd, args)
	}
	if err != nil {
		return req, err
	}
	return req, sriov.CheckIfname(req.PF)
}

func (u *upFlags) fromConfig(g *globals, cmd *cobra.Command, args []string) (setup.Request, error) {
	for _, name := range requestFlags {
		if cmd.Flags().Changed(name) {
			return setup.Request{}, outcome.Invalid(fmt.Sprintf("drop --%s and write it in the config, or drop --config and give the request as flags", name),
				"--%s conflicts with --config %s: the config holds the whole request", name, u.config)
		}
	}
	c, err := setup.LoadConfig(u.config, g.stdin)
	if err != nil {
		return c, err
	}
	return c, configPF(&c, "up", u.config, args)
}

// configPF sets the PF of config c (read from path) from the command's
// argument, which must match the config's when both name one.
func configPF(c *setup.Request, command, path string, args []string) error {
	switch {
	case len(args) == 1 && c.PF != "" && c.PF != args[0]:
		return outcome.Invalid("drop the PF argument or make it match the config", "PF %s given, but config %s is for %s", args[0], path, c.PF)
	case len(args) == 1:
		c.PF = args[0]
	case c.PF == "":
		return outcome.Invalid(fmt.Sprintf("write pf: eth3 in the config, or name the PF: vfbypass %s eth3 --config FILE", command), "config %s names no PF", path)
	}
	return nil
}

func (u *upFlags) fromFlags(cmd *cobra.Command, args []string) (setup.Request, error) {
	req := u.req
	f := cmd.Flags()
	if len(args) != 1 {
		return req, outcome.Invalid("name the PF: vfbypass up eth3 --vfs 2", "up needs the PF interface name")
	}
	if req.Mode == setup.ModeQueue {
		if !f.Changed("queue") {
			return req, outcome.Invalid("pass --queue Q, the RX queue to take out of RSS", "up %s --mode queue needs --queue", args[0])
		}
		req.PF, req.Driver = args[0], "" // no VFs: --driver's default is VF mode's
		return req, nil
	}
	if !f.Changed("vfs") {
		return req, outcome.Invalid("pass --vfs N, e.g. --vfs 2", "up %s needs the number of VFs to enable", args[0])
	}
	if f.Changed("qos") && !f.Changed("vlan") {
		return req, outcome.Invalid("give --vlan with --qos", "--qos %d without --vlan", u.qos)
	}
	req.PF = args[0]
	vfs := u.vfs
	if len(vfs) == 0 {
		vfs = []int{0}
	}
	if len(u.macs) > 0 && len(u.macs) != len(vfs) {
		return req, outcome.Invalid("give one --mac per --vf, in the same order", "%d --mac values for %d VFs (%v)", len(u.macs), len(vfs), vfs)
	}
	for i, k := range vfs {
		v := setup.VFRequest{Index: k}
		if len(u.macs) > 0 {
			v.MAC = u.macs[i]
		}
		if f.Changed("vlan") {
			vl := u.vlan
			v.VLAN, v.QoS = &vl, u.qos
		}
		v.Trust, v.Spoofchk = u.trust.ptr(), u.spoofchk.ptr()
		req.VFs = append(req.VFs, v)
	}
	return req, nil
}

// checkTimeout refuses a wait that cannot be one.
func checkTimeout(d time.Duration) error {
	if d <= 0 {
		return outcome.Invalid("give a positive duration, e.g. --timeout 30s (default 10s)", "--timeout %s: the wait for devices must be longer than 0", d)
	}
	return nil
}

// onOff is a flag written as ip link writes the setting (on|off), or
// true|false; alone it is on. Unset, ptr is nil: the setting is left alone.
type onOff struct {
	set, on bool
}

func (o *onOff) String() string {
	if !o.set {
		return ""
	}
	return map[bool]string{true: "on", false: "off"}[o.on]
}

func (o *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "1", "yes":
		o.set, o.on = true, true
	case "off", "false", "0", "no":
		o.set, o.on = true, false
	default:
		return errors.New("is not on or off")
	}
	return nil
}

func (o *onOff) Type() string { return "on|off" }

func (o *onOff) ptr() *bool {
	if !o.set {
		return nil
	}
	v := o.on
	return &v
}

func onOffVar(f *pflag.FlagSet, o *onOff, name, usage string) {
	f.Var(o, name, usage)
	f.Lookup(name).NoOptDefVal = "on"
}

// separateOnOff catches "--trust off" (as ip link writes it), and any flag
// that needs no value followed by a value word ("--noiommu false"): the flag
// took no value and the word became an argument.
func separateOnOff(flags *pflag.FlagSet, line, args []string) error {
	extra := map[string]bool{}
	for _, a := range args {
		extra[a] = true
	}
	for i := 0; i+1 < len(line); i++ {
		flag, word := line[i], line[i+1]
		f := flags.Lookup(strings.TrimPrefix(flag, "--"))
		var o onOff
		if !strings.HasPrefix(flag, "--") || f == nil || f.NoOptDefVal == "" || !extra[word] || o.Set(word) != nil {
			continue
		}
		return outcome.Invalid(fmt.Sprintf("write %s=%s, with '='", flag, word),
			"%s %s: a value of %s is joined to it with '=' (alone, %s means %s, and %q was taken as an argument)", flag, word, flag, flag, f.NoOptDefVal, word)
	}
	return nil
}

// maxArgs is cobra.MaximumNArgs with a bad-input error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return outcome.Invalid("see '"+cmd.CommandPath()+" --help'", "%s takes at most %d argument(s), got %d: %q", cmd.CommandPath(), n, len(args), args)
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with a bad-input error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return outcome.Invalid("see '"+cmd.CommandPath()+" --help'", "%s needs %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
