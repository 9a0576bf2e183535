package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/setup"
)

func init() { register(newUpCmd) }

func newUpCmd(g *globals) *cobra.Command {
	var (
		req        setup.Request
		vfs        []int
		macs       []string
		vlan, qos  int
		trust      bool
		spoofchk   bool
		config     string
		opts       setup.Options
		timeoutArg time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up PF --vfs N [--vf K ...] [flags]",
		Short: "Enable VFs on a PF, configure them, give them to vfio-pci and switch ntuple on (journaled)",
		Example: `  vfbypass up eth3 --vfs 2 --vf 0 --mac 02:00:00:00:00:01 --trust
  vfbypass up eth3 --vfs 4 --vf 0,1 --mac 02:00:00:00:00:01 --mac 02:00:00:00:00:02 --dry-run
  vfbypass up --config /etc/vfbypass/eth3.yaml -o json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if config != "" {
				c, err := setup.LoadConfig(config)
				if err != nil {
					return err
				}
				if len(args) == 1 && c.PF != "" && c.PF != args[0] {
					return outcome.Invalid("drop the PF argument or make it match the config", "PF %s given, but config %s is for %s", args[0], config, c.PF)
				}
				if len(args) == 1 {
					c.PF = args[0]
				}
				req = c
			} else {
				if len(args) != 1 {
					return outcome.Invalid("name the PF: vfbypass up eth3 --vfs 2", "up needs the PF interface name")
				}
				if !cmd.Flags().Changed("vfs") {
					return outcome.Invalid("pass --vfs N, e.g. --vfs 2", "up %s needs the number of VFs to enable", args[0])
				}
				req.PF = args[0]
				f := cmd.Flags()
				if len(vfs) == 0 {
					vfs = []int{0}
				}
				if len(macs) > 0 && len(macs) != len(vfs) {
					return outcome.Invalid("give one --mac per --vf, in the same order", "%d --mac values for %d VFs (%v)", len(macs), len(vfs), vfs)
				}
				for i, k := range vfs {
					v := setup.VFRequest{Index: k}
					if len(macs) > 0 {
						v.MAC = macs[i]
					}
					if f.Changed("vlan") {
						vl := vlan
						v.VLAN, v.QoS = &vl, qos
					} else if f.Changed("qos") {
						return outcome.Invalid("give --vlan with --qos", "--qos %d without --vlan", qos)
					}
					if f.Changed("trust") {
						t := trust
						v.Trust = &t
					}
					if f.Changed("spoofchk") {
						s := spoofchk
						v.Spoofchk = &s
					}
					req.VFs = append(req.VFs, v)
				}
			}
			h, err := g.openHost()
			if err != nil {
				return err
			}
			defer h.Close()
			opts.StateDir, opts.Timeout = g.StateDir, timeoutArg
			if g.Output == "text" {
				opts.Progress = func(s string) { fmt.Fprintf(g.Stderr, "→ %s\n", s) }
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := setup.Up(ctx, h, req, opts)
			return g.emit(res, err)
		},
	}
	f := cmd.Flags()
	f.IntVar(&req.NumVFs, "vfs", 0, "number of VFs to enable (sriov_numvfs)")
	f.IntSliceVar(&vfs, "vf", nil, "VF index(es) to give to the driver, as sysfs numbers them (virtfnK); repeatable or a list (default 0)")
	f.StringArrayVar(&macs, "mac", nil, "administrative MAC for each --vf, in order")
	f.IntVar(&vlan, "vlan", 0, "VLAN ID (0-4095) for the chosen VFs")
	f.IntVar(&qos, "qos", 0, "VLAN priority (0-7) with --vlan")
	f.BoolVar(&trust, "trust", false, "set trust on the chosen VFs (DPDK needs it for promiscuous/allmulticast)")
	f.BoolVar(&spoofchk, "spoofchk", false, "set spoof checking on the chosen VFs (--spoofchk=false switches it off)")
	f.StringVar(&req.Driver, "driver", "vfio-pci", "driver for the chosen VFs: vfio-pci or none")
	f.BoolVar(&req.NoIOMMU, "noiommu", false, "without an IOMMU, use vfio's unsafe no-IOMMU mode")
	f.StringVar(&config, "config", "", "read the request from a YAML/JSON file (see docs/config.md)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&opts.Force, "force", false, "allow a PF carrying the default route, and replacing VFs vfbypass did not create")
	f.BoolVar(&opts.Recreate, "recreate", false, "accept a change of --vfs on a PF that is up: every VF is removed and made again, the PF resets (its link drops)")
	f.DurationVar(&timeoutArg, "timeout", 10*time.Second, "how long to wait for VFs and /dev/vfio nodes to appear")
	return cmd
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
