package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/pkg/hostsim"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/report"
)

func init() { register(newSimCmd) }

type simResult struct {
	report.Common
	Dir     string `json:"dir"`
	Message string `json:"message"`
}

func (r *simResult) Text(w io.Writer) {
	if r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
}

func newSimCmd(g *globals) *cobra.Command {
	sim := &cobra.Command{
		Use:   "sim",
		Short: "Simulated hosts: an SR-IOV NIC in a directory, for tests, demos and dry runs without hardware",
	}
	var o hostsim.Options
	initCmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Make a simulated host in DIR (use it with --host-root DIR)",
		Args:  exactArgs(1, "the directory to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &simResult{Dir: args[0]}
			res.PF = o.PF
			if err := hostsim.Init(args[0], o); err != nil {
				return g.emit(res, outcome.Invalid("give a new directory and a known model", "sim init: %v", err))
			}
			res.Changed = true
			res.Message = fmt.Sprintf("simulated %s host with %s in %s: use --host-root %s", o.Model, o.PF, args[0], args[0])
			return g.emit(res, nil)
		},
	}
	f := initCmd.Flags()
	f.StringVar(&o.PF, "pf", "eth3", "PF interface name")
	f.StringVar(&o.Model, "model", "82599", "NIC model: 82599 (ixgbe) or 82576 (igb)")
	f.IntVar(&o.TotalVFs, "total-vfs", 0, "sriov_totalvfs (default: the model's maximum)")
	f.BoolVar(&o.DefaultRouteOnPF, "default-route-on-pf", false, "the PF carries the default route")
	f.BoolVar(&o.NoDriver, "no-driver", false, "no driver bound to the PF")
	f.BoolVar(&o.NoSRIOV, "no-sriov", false, "the PF has no SR-IOV capability")
	f.BoolVar(&o.NoVFIO, "no-vfio", false, "vfio-pci not loaded")
	f.BoolVar(&o.NoIOMMU, "no-iommu", false, "no IOMMU groups")
	f.BoolVar(&o.SharedGroup, "shared-group", false, "VFs share the PF's IOMMU group (no ACS)")
	f.IntVar(&o.Hugepages, "hugepages", 0, "2 MiB hugepages reserved")
	f.BoolVar(&o.Ntuple, "ntuple", false, "ntuple filters initially on")
	f.IntVar(&o.CPUs, "cpus", 16, "online CPUs, which bound the PF's RSS queues (82599: 16, 82576: 8)")

	var fl hostsim.Fault
	var errnoName string
	faultCmd := &cobra.Command{
		Use:   "fault DIR --op write|netlink|ethtool|module --match GLOB [--errno EIO] [--after N] [--times K]",
		Short: "Make a simulated kernel call fail, to test rollback",
		Args:  exactArgs(1, "the simulated host directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &simResult{Dir: args[0]}
			if !hostsim.Is(args[0]) {
				return g.emit(res, outcome.Invalid("make one with 'vfbypass sim init DIR'", "%s is not a simulated host", args[0]))
			}
			e, err := hostsim.ParseErrno(errnoName)
			if err != nil {
				return g.emit(res, outcome.Invalid("use an errno name such as EIO", "%v", err))
			}
			fl.Errno = e
			if err := hostsim.AddFault(args[0], fl); err != nil {
				return g.emit(res, outcome.Invalid("use a glob such as '*/sriov_numvfs'", "%v", err))
			}
			res.Changed = true
			res.Message = fmt.Sprintf("armed: %s %s fails with %s", fl.Op, fl.Match, errnoName)
			return g.emit(res, nil)
		},
	}
	ff := faultCmd.Flags()
	ff.StringVar(&fl.Op, "op", "write", "kind of call: write, netlink, ethtool, ethtool-set, ethtool-rule, module, or * for every one")
	ff.StringVar(&fl.Match, "match", "*", "glob on the host path (write) or PF/vfK/field (netlink)")
	ff.StringVar(&errnoName, "errno", "EIO", "error to return")
	ff.IntVar(&fl.After, "after", 0, "let this many matching calls succeed first")
	ff.IntVar(&fl.Times, "times", 1, "fail this many calls")
	sim.AddCommand(initCmd, faultCmd)
	return sim
}
