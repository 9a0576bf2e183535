//go:build !nosim

package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
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
		Short: simShort,
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
	f.IntVar(&o.CPUs, "cpus", 16, "online CPUs, which bound the PF's queues (82599: up to 63 channels, RSS over 16; 82576: 8)")

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
	sim.AddCommand(initCmd, faultCmd, newSimSnapshotCmd(g), newSimLinkCmd(g), newSimChannelsCmd(g), newSimXDPCmd(g), newSimMTUCmd(g), newSimRingsCmd(g), newSimDCBCmd(g))
	return sim
}

// simEvent runs one kernel event on the simulated host --host-root names,
// for the PF args[0]; bad input is refused before anything changes, a
// refusal of the simulated kernel fails (exit 1) with its errno.
func simEvent(g *globals, pf, done string, f func(root string) error) error {
	res := &simResult{Dir: g.HostRoot}
	res.PF = pf
	if !hostsim.Is(g.HostRoot) {
		return g.emit(res, outcome.Invalid("give the simulated host with --host-root DIR (make one with 'vfbypass sim init DIR')", "--host-root %s is not a simulated host", g.HostRoot))
	}
	if err := f(g.HostRoot); err != nil {
		return g.emit(res, fmt.Errorf("sim: %s: %w", pf, err))
	}
	res.Changed = true
	res.Message = done
	return g.emit(res, nil)
}

// newSimSnapshotCmd prints hostsim.Snapshot: two equal outputs are
// byte-identical hosts, the simulator's own lock, fault list, event feed and
// RSC latch and vfbypass's lock files left out, as every test compares them.
func newSimSnapshotCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot DIR",
		Short: "Print every path of the simulated host in DIR with its content, to compare a host before and after",
		Args:  exactArgs(1, "the simulated host's directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &simResult{Dir: args[0]}
			snap, err := "", fmt.Errorf("%s is not a simulated host", args[0])
			if hostsim.Is(args[0]) {
				snap, err = hostsim.Snapshot(args[0])
			}
			if err != nil {
				return g.emit(res, outcome.Invalid("give the directory of a simulated host ('vfbypass sim init DIR' makes one)", "sim snapshot: %v", err))
			}
			res.Message = strings.TrimSuffix(snap, "\n")
			return g.emit(res, nil)
		},
	}
}

func newSimLinkCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "link PF down|up",
		Short: "Take the simulated PF down or up, as 'ip link set PF down|up' (ixgbe deletes every ntuple rule on down)",
		Args:  exactArgs(2, "the PF interface name and down or up"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[1] != "down" && args[1] != "up" {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("say down or up: vfbypass sim link "+args[0]+" down", "sim link %s %q: not down or up", args[0], args[1]))
			}
			return simEvent(g, args[0], args[0]+" is "+args[1], func(root string) error {
				return hostsim.SetLink(root, args[0], args[1] == "up")
			})
		},
	}
}

func newSimChannelsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "channels PF N",
		Short: "Set the simulated PF's combined channels, as 'ethtool -L PF combined N' (ixgbe resets the port: rules deleted, RSS table refilled)",
		Args:  exactArgs(2, "the PF interface name and the channel count"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("give a count of 1 or more: vfbypass sim channels "+args[0]+" 4", "sim channels %s %q: not a channel count", args[0], args[1]))
			}
			return simEvent(g, args[0], fmt.Sprintf("%s has %d combined channels", args[0], n), func(root string) error {
				return hostsim.SetChannels(root, args[0], n)
			})
		},
	}
}

func newSimMTUCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "mtu PF N",
		Short: "Set the simulated PF's MTU, as 'ip link set PF mtu N' (ixgbe re-initialises the port: rules kept, RSS table refilled)",
		Args:  exactArgs(2, "the PF interface name and the MTU"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("give an MTU in bytes: vfbypass sim mtu "+args[0]+" 9000", "sim mtu %s %q: not an MTU", args[0], args[1]))
			}
			return simEvent(g, args[0], fmt.Sprintf("%s has MTU %d", args[0], n), func(root string) error {
				return hostsim.SetMTU(root, args[0], n)
			})
		},
	}
}

func newSimRingsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rings PF N",
		Short: "Set the simulated PF's RX ring size, as 'ethtool -G PF rx N' (ixgbe re-initialises the port: rules kept, RSS table refilled)",
		Args:  exactArgs(2, "the PF interface name and the RX ring size"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("give a descriptor count: vfbypass sim rings "+args[0]+" 1024", "sim rings %s %q: not a ring size", args[0], args[1]))
			}
			return simEvent(g, args[0], fmt.Sprintf("%s has RX rings of %d descriptors", args[0], n), func(root string) error {
				return hostsim.SetRxRing(root, args[0], n)
			})
		},
	}
}

func newSimXDPCmd(g *globals) *cobra.Command {
	queue := -1
	cmd := &cobra.Command{
		Use:   "xdp PF attach|detach|replace [native|generic]",
		Short: "Attach, replace or detach an XDP program on the simulated PF (a native one coming or going resets ixgbe: rules deleted)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 3 {
				return nil
			}
			return exactArgs(2, "the PF interface name, attach, detach or replace, and optionally the mode")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pf, action, mode := args[0], args[1], hostsim.XDPNative
			if len(args) == 3 {
				mode = args[2]
			}
			bad := func(format string, a ...any) error {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("vfbypass sim xdp "+pf+" attach native [--queue Q]", format, a...))
			}
			if mode != hostsim.XDPNative && mode != hostsim.XDPGeneric {
				return bad("sim xdp %s: mode %q is not native or generic", pf, mode)
			}
			var f func(root string) error
			switch action {
			case "attach":
				f = func(root string) error { return hostsim.AttachXSK(root, pf, mode, queue) }
			case "replace":
				f = func(root string) error { return hostsim.ReplaceXDP(root, pf, mode) }
			case "detach":
				f = func(root string) error { return hostsim.DetachXDP(root, pf) }
			default:
				return bad("sim xdp %s %q: say attach, detach or replace", pf, action)
			}
			return simEvent(g, pf, fmt.Sprintf("%s: XDP program %sed", pf, strings.TrimSuffix(action, "e")), f)
		},
	}
	cmd.Flags().IntVar(&queue, "queue", -1, "with attach: bind an AF_XDP socket to this RX queue")
	return cmd
}

func newSimDCBCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "dcb PF on|off",
		Short: "Switch DCB on or off on the simulated PF, as dcbnl does (ixgbe resets the port: rules deleted, RSS table refilled; igb has no DCB)",
		Args:  exactArgs(2, "the PF interface name and on or off"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[1] != "on" && args[1] != "off" {
				return g.emit(&simResult{Dir: g.HostRoot}, outcome.Invalid("say on or off: vfbypass sim dcb "+args[0]+" on", "sim dcb %s %q: not on or off", args[0], args[1]))
			}
			return simEvent(g, args[0], "DCB is "+args[1]+" on "+args[0], func(root string) error {
				err := hostsim.SetDCB(root, args[0], args[1] == "on")
				if errors.Is(err, unix.EOPNOTSUPP) {
					return outcome.Invalid("give the PF of an 82599 host (ixgbe): 'vfbypass sim init DIR' makes one", "sim dcb %s: no DCB on this interface (only ixgbe has DCB; igb and virtio-net have no dcbnl support)", args[0])
				}
				return err
			})
		},
	}
}
