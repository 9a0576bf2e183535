package rxcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/pkg/rx"
)

// rxOptions are the flags of `vfbypass rx`.
type rxOptions struct {
	pf         string
	vf         int
	queue      int
	allow      string
	vdevs      []string
	lcores     string
	queues     int
	duration   time.Duration
	noHuge     bool
	mem        int
	filePrefix string
	promisc    bool
	mbufs      int
	burst      int
	match      string
	metrics    string
	interval   time.Duration
	ealExtra   []string

	// Resolved before EAL starts.
	device  string // the port's name: PCI address or vdev name
	ealArgs []string
	flow    *rx.Flow
	jsonl   bool
	// repair: the handshake with the control plane that repairs the PF
	// after this loop's XDP attach (queue mode under 'vfbypass rx').
	repair *cli.RepairLink
}

// joinRepair, in queue mode under 'vfbypass rx', tells the control plane
// which PF this loop is about to attach to; the loop then waits for its
// repair after the attach (afterAttach) and never writes the table or the
// rules itself.
func (o *rxOptions) joinRepair(g *cli.Globals) error {
	if !o.queueMode() {
		return nil
	}
	link, err := cli.ReceiverLink()
	if err != nil || link == nil {
		return err
	}
	o.repair = link
	return link.Send(cli.RepairMsg{Event: cli.RepairStarting, PF: o.pf, Queue: o.queue, HostRoot: g.HostRoot, StateDir: g.StateDir})
}

// afterAttach waits, once the port is up (and its XDP program attached),
// until the control plane has put the PF's table and rules back, so that
// nothing is counted while the reset left the queue in RSS.
func (o *rxOptions) afterAttach(res *rxResult) error {
	if o.repair == nil {
		return nil
	}
	m, err := o.repair.Attached()
	if err != nil {
		return outcome.Failed(fmt.Errorf("wait for 'vfbypass rx' to put the table and the rules of %s back: %w", o.pf, err))
	}
	if m.Error != "" {
		res.Warn("the table and the rules of %s were not all put back after the XDP attach (%s): the queue may receive the kernel's flows, or miss the steered ones", o.pf, m.Error)
	}
	return nil
}

// rxResult is what `vfbypass rx` reports when the loop ends: the output
// contract's common keys and the loop's own.
type rxResult struct {
	report.Common
	rxLoop
}

// rxLoop is what the loop reports of itself, also as the last line of -o
// jsonl (rxSummary).
type rxLoop struct {
	Device    string   `json:"device"`
	Driver    string   `json:"driver"`
	EALArgs   []string `json:"eal_args"`
	StoppedBy string   `json:"stopped_by"`
	// Restarts counts the port's restarts after a reset under the loop.
	Restarts  int                `json:"restarts"`
	Packets   uint64             `json:"packets"`
	Bytes     uint64             `json:"bytes"`
	DurationS float64            `json:"duration_s"`
	PPS       float64            `json:"pps"`
	Mbps      float64            `json:"mbps"`
	Queues    []rx.QueueCounters `json:"queues"`
	PortStats rx.PortStats       `json:"port_stats"`
	Match     *rxMatch           `json:"match,omitempty"`
	// AFXDP is set in queue mode (--pf PF --queue Q): the kernel's
	// queue, and whether its AF_XDP socket runs in zero-copy mode.
	AFXDP *rxAFXDP `json:"af_xdp,omitempty"`
}

// rxSummary is the last line of -o jsonl: like the interval lines, a
// type and a time, then the loop's report, its warnings and error;
// nothing of the control plane's (changed, diff, vfs).
type rxSummary struct {
	Type string `json:"type"`
	Time string `json:"time"`
	PF   string `json:"pf,omitempty"`
	rxLoop
	Warnings []string          `json:"warnings"`
	Error    *report.ErrorInfo `json:"error,omitempty"`
}

// rxAFXDP is the queue-mode part of the result.
type rxAFXDP struct {
	Iface string `json:"iface"`
	Queue int    `json:"queue"`
	rx.XSKMode
}

// rxMatch is the count of the --match flow.
type rxMatch struct {
	Flow    string `json:"flow"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func (r *rxResult) Text(w io.Writer) {
	if r.Device == "" || r.Driver == "" {
		return
	}
	fmt.Fprintf(w, "rx %s (%s): %d packets, %d bytes in %.2fs: %s, %.1f Mbit/s (stopped by %s)\n",
		r.Device, r.Driver, r.Packets, r.Bytes, r.DurationS, fmtPPS(r.PPS), r.Mbps, r.StoppedBy)
	for _, q := range r.Queues {
		fmt.Fprintf(w, "  queue %d on lcore %d: %d packets, %d bytes, %d bursts, %d empty polls\n", q.Queue, q.Lcore, q.Packets, q.Bytes, q.Bursts, q.EmptyPolls)
	}
	s := r.PortStats
	fmt.Fprintf(w, "  port: ipackets %d, ibytes %d, imissed %d, ierrors %d, rx_nombuf %d\n", s.IPackets, s.IBytes, s.IMissed, s.IErrors, s.RxNoMbuf)
	if r.Match != nil {
		fmt.Fprintf(w, "  flow %s: %d packets, %d bytes\n", r.Match.Flow, r.Match.Packets, r.Match.Bytes)
	}
	if a := r.AFXDP; a != nil {
		fmt.Fprintf(w, "  AF_XDP on %s queue %d: %s\n", a.Iface, a.Queue, a.XSKMode)
	}
}

// emit prints the result: with -o jsonl as one compact JSON line (the last
// line, "type": "summary"), else as every command does.
func emit(g *cli.Globals, res *rxResult, err error) error {
	if g.Output != "jsonl" {
		return g.Emit(res, err)
	}
	report.SetError(res, err, cli.ExitCode(err))
	sum := rxSummary{Type: "summary", Time: time.Now().UTC().Format(time.RFC3339Nano), PF: res.PF, rxLoop: res.rxLoop, Warnings: res.Warnings, Error: res.Error}
	if sum.Warnings == nil {
		sum.Warnings = []string{}
	}
	if jerr := json.NewEncoder(g.Stdout).Encode(sum); jerr != nil && err == nil {
		return jerr
	}
	if err != nil {
		return cli.Printed{Err: err}
	}
	return nil
}

func fmtPPS(pps float64) string {
	switch {
	case pps >= 1e6:
		return fmt.Sprintf("%.2f Mpps", pps/1e6)
	case pps >= 1e3:
		return fmt.Sprintf("%.1f kpps", pps/1e3)
	}
	return fmt.Sprintf("%.0f pps", pps)
}

func newRxCmd(g *cli.Globals, name string) *cobra.Command {
	o := &rxOptions{}
	cmd := &cobra.Command{
		Use:   name + " (--pf PF --vf K | --pf PF --queue Q | -a BDF | --vdev SPEC) [flags] [-- EAL args]",
		Short: "Run a DPDK receive loop on a VF, a PF queue (AF_XDP) or any DPDK device and report its rate",
		Long: `rx starts DPDK's EAL, sets up the device's RX queues and polls them from a
C loop on EAL lcores until --duration passes or SIGINT/SIGTERM arrives. It
prints a line each second (pps, Mbit/s, missed, errors) and a summary; with
-o json only the summary goes to stdout.

The device is one of: VF K of PF (bound to vfio-pci by "vfbypass up"), queue
Q of PF (queue mode: DPDK's net_af_xdp on that one queue, the rest of the PF
left to the kernel; the result says whether the AF_XDP socket runs in
zero-copy or copy mode), a PCI address (-a), or a DPDK virtual device
(--vdev; the first one given is the port received on). Arguments after "--"
go to EAL as they are.

-o jsonl prints one JSON object per interval (then the summary, one line);
--metrics-addr serves the counters in Prometheus text format at /metrics.

Without --no-huge, EAL needs 2 MiB hugepages reserved and hugetlbfs mounted
(queue mode does without them: it runs --no-huge when none are reserved).
PMDs are loaded from DPDK's plugin directory
(/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0 on Debian 12).`,
		Example: strings.ReplaceAll(`  vfbypass rx --pf eth3 --vf 0 --duration 10s
  vfbypass rx --pf eth3 --queue 1 --match "udp dst-port 4789" --metrics-addr 127.0.0.1:9101
  vfbypass rx --pf eth3 --vf 0 -o jsonl --interval 5s
  vfbypass rx -a 0000:04:10.1 --lcores 0,1 --queues 1 --promisc
  vfbypass rx --vdev net_null0 --no-huge --duration 5s -o json
  vfbypass rx --vdev net_af_packet0,iface=veth1 --no-huge --match "udp dst-port 4789"`, "vfbypass rx", name),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &rxResult{rxLoop: rxLoop{EALArgs: []string{}, Queues: []rx.QueueCounters{}}}
			o.jsonl = g.Output == "jsonl"
			if !rx.Available {
				return g.Emit(res, outcome.Invalid("install libdpdk-dev (apt-get install libdpdk-dev dpdk pkg-config) and build without -tags nodpdk: make build (or go build -o bin/vfbypass-rx ./cmd/vfbypass-rx)",
					"this vfbypass-rx was built without DPDK (-tags nodpdk or CGO_ENABLED=0), so it has no receive loop"))
			}
			dash := cmd.ArgsLenAtDash()
			pos := args
			if dash >= 0 {
				pos, o.ealExtra = args[:dash], args[dash:]
			}
			if len(pos) > 1 || (len(pos) == 1 && o.pf != "") {
				return g.Emit(res, outcome.Invalid("name the PF once (--pf PF) and put EAL arguments after --", "rx takes at most one PF argument, got %q", pos))
			}
			if len(pos) == 1 {
				o.pf = pos[0]
			}
			if err := o.resolve(g, cmd, res); err != nil {
				return emit(g, res, err)
			}
			if err := o.joinRepair(g); err != nil {
				return emit(g, res, err)
			}
			return emit(g, res, runRx(g, o, res))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.pf, "pf", "", "PF whose VF to receive on (with --vf)")
	f.IntVarP(&o.vf, "vf", "", -1, "VF index on --pf (bound to vfio-pci by 'vfbypass up')")
	f.IntVar(&o.queue, "queue", -1, "queue of --pf to receive from through AF_XDP (net_af_xdp; queue mode)")
	f.StringVarP(&o.allow, "allow", "a", "", "PCI address of the device to receive on (bound to vfio-pci)")
	f.StringArrayVar(&o.vdevs, "vdev", nil, "DPDK virtual device, e.g. net_null0 or net_af_packet0,iface=eth1 (repeatable; the first is received on)")
	f.StringVarP(&o.lcores, "lcores", "l", "", "EAL lcore list; the first is the main lcore, the others poll (default: 0 and one per queue, as the CPUs allow)")
	f.IntVar(&o.queues, "queues", 1, "RX queues")
	f.DurationVarP(&o.duration, "duration", "d", 0, "stop after this long (default: until SIGINT/SIGTERM)")
	f.BoolVar(&o.noHuge, "no-huge", false, "run EAL without hugepages (--no-huge; enough for vdevs, not for vfio-pci devices)")
	f.IntVarP(&o.mem, "mem", "m", 0, "EAL memory in MiB (-m; default 512 with --no-huge)")
	f.StringVar(&o.filePrefix, "file-prefix", "", "EAL --file-prefix, to run several DPDK processes side by side")
	f.BoolVar(&o.promisc, "promisc", false, "switch the port to promiscuous mode")
	f.IntVar(&o.mbufs, "mbufs", 8191, "mbufs in the pool")
	f.IntVar(&o.burst, "burst", 32, "packets per rte_eth_rx_burst")
	f.StringVar(&o.match, "match", "", `also count one flow, e.g. "udp dst-ip 10.0.0.2 dst-port 4789" (parsed per packet in C)`)
	f.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9101")
	f.DurationVar(&o.interval, "interval", time.Second, "period of the live line, of -o jsonl's objects and of the rates")
	return cmd
}

// resolve checks the flags and the host before EAL starts, and builds EAL's
// arguments. Every refusal is a bad-input error with its fix.
func (o *rxOptions) resolve(g *cli.Globals, cmd *cobra.Command, res *rxResult) error {
	if err := o.checkFlags(cmd); err != nil {
		return err
	}
	h, err := g.OpenHost()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := o.resolveDevice(h, res); err != nil {
		return err
	}
	return o.buildEALArgs(h, res, g.Quiet)
}

// queueMode reports whether the flags ask for one PF queue through AF_XDP.
func (o *rxOptions) queueMode() bool { return o.queue >= 0 }

// checkFlags refuses flags that contradict each other or are out of range.
func (o *rxOptions) checkFlags(cmd *cobra.Command) error {
	if err := o.checkDevice(cmd); err != nil {
		return err
	}
	if err := o.checkRanges(); err != nil {
		return err
	}
	if o.match != "" {
		fl, err := rx.ParseFlow(o.match)
		if err != nil {
			return outcome.Invalid(`write the flow as "udp dst-ip 10.0.0.2 dst-port 4789"`, "--match: %v", err)
		}
		o.flow = &fl
	}
	if o.metrics != "" {
		if _, _, err := net.SplitHostPort(o.metrics); err != nil {
			return outcome.Invalid("give --metrics-addr as HOST:PORT, e.g. 127.0.0.1:9101 (or :9101 for every address)", "--metrics-addr %q: %v", o.metrics, err)
		}
	}
	return nil
}

// checkDevice wants exactly one device selector, and --pf with one of --vf
// and --queue.
func (o *rxOptions) checkDevice(cmd *cobra.Command) error {
	usePF := o.pf != "" || cmd.Flags().Changed("vf") || cmd.Flags().Changed("queue")
	n := 0
	for _, set := range []bool{usePF, o.allow != "", len(o.vdevs) > 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return outcome.Invalid("name the device: --pf PF --vf K, --pf PF --queue Q, -a BDF or --vdev SPEC", "rx needs a device to receive on")
	case n > 1:
		return outcome.Invalid("give only one of --pf (with --vf or --queue), -a and --vdev", "conflicting device selectors: %s", o.selectors())
	}
	if cmd.Flags().Changed("vf") && cmd.Flags().Changed("queue") {
		return outcome.Invalid("give --vf K (VF mode) or --queue Q (queue mode), not both", "--vf %d and --queue %d name two receive modes", o.vf, o.queue)
	}
	if cmd.Flags().Changed("queue") && o.queue < 0 {
		return outcome.Invalid("give a queue number of the PF, 0 or more (ethtool -l PF shows them)", "--queue %d is negative", o.queue)
	}
	if usePF && (o.pf == "" || (o.vf < 0 && !o.queueMode())) {
		return outcome.Invalid("give both: --pf PF --vf K (or --pf PF --queue Q)", "--pf and --vf go together (pf %q, vf %d)", o.pf, o.vf)
	}
	return nil
}

// checkRanges refuses numbers and durations out of their range.
func (o *rxOptions) checkRanges() error {
	if o.queueMode() && o.queues != 1 {
		return outcome.Invalid("leave out --queues: queue mode receives from the one queue --queue names", "--queues %d with --queue %d", o.queues, o.queue)
	}
	if o.queues < 1 || o.queues > 128 {
		return outcome.Invalid("use --queues 1 to 128", "--queues %d is out of range", o.queues)
	}
	if o.duration < 0 {
		return outcome.Invalid("use a positive --duration, e.g. 10s", "--duration %v is negative", o.duration)
	}
	if o.interval < 100*time.Millisecond {
		return outcome.Invalid("use an --interval of 100ms or more, e.g. 1s", "--interval %v is too short", o.interval)
	}
	// The pool keeps a 256-mbuf cache per lcore, which DPDK caps at 2/3 of
	// the pool; below that the pool cannot be made at all.
	if o.mbufs < 512 || o.mbufs > 1<<24 {
		return outcome.Invalid("use --mbufs 512 to 16777216 (the default 8191 fills one 1024-descriptor ring many times over)", "--mbufs %d is out of range", o.mbufs)
	}
	if o.burst < 1 || o.burst > 512 {
		return outcome.Invalid("use --burst 1 to 512", "--burst %d is out of range", o.burst)
	}
	return nil
}

// resolveDevice finds the port to receive on: a VF's or a PCI device's
// address, a PF queue's net_af_xdp vdev, or the first --vdev.
func (o *rxOptions) resolveDevice(h *host.Host, res *rxResult) error {
	switch {
	case o.queueMode():
		return o.resolveQueue(h, res)
	case o.pf != "":
		res.PF = o.pf
		vf, err := sriov.LookupVF(h.FS, o.pf, o.vf)
		upFix := fmt.Sprintf("vfbypass up %s --vfs %d --vf %d", o.pf, max(o.vf+1, numVFs(h.FS, o.pf)), o.vf)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return outcome.Invalid(upFix, "%v", err)
			}
			return outcome.Invalid("check the PF name (vfbypass doctor "+o.pf+")", "%v", err)
		}
		res.VFs = []report.VF{{Index: vf.Index, Address: vf.Address, Driver: vf.Driver, IOMMUGroup: vf.IOMMUGroup, Netdev: vf.Netdev}}
		if vf.Driver != "vfio-pci" {
			return outcome.Invalid(upFix, "VF %d of %s (%s) is bound to %s, not vfio-pci", o.vf, o.pf, vf.Address, orNoDriver(vf.Driver))
		}
		o.device = vf.Address
	case o.allow != "":
		o.device = o.allow
		dir := sriov.DeviceDir(pciFull(o.allow))
		if _, err := h.FS.Stat(dir); err != nil {
			return outcome.Invalid("give the PCI address of a device on this host (ls /sys/bus/pci/devices)", "no PCI device %s (%s): %v", o.allow, dir, err)
		}
		if drv, err := host.LinkBase(h.FS, dir+"/driver"); err == nil && drv != "vfio-pci" {
			return outcome.Invalid("bind it to vfio-pci: vfbypass up PF --vfs N --vf K (or dpdk-devbind.py -b vfio-pci "+o.allow+")",
				"device %s is bound to %s, not vfio-pci", o.allow, orNoDriver(drv))
		}
	default:
		o.device, _, _ = strings.Cut(o.vdevs[0], ",")
	}
	return nil
}

// resolveQueue checks that queue --queue of --pf exists and makes the
// net_af_xdp vdev that receives from it alone. The PF keeps its kernel
// driver: AF_XDP takes the one queue, the kernel serves the others.
func (o *rxOptions) resolveQueue(h *host.Host, res *rxResult) error {
	res.PF = o.pf
	vdev, err := rx.AFXDPVdev(o.pf, o.queue)
	if err != nil {
		return outcome.Invalid("give the PF's interface name (ip link lists them)", "--pf: %v", err)
	}
	if _, err := h.FS.Stat(sriov.NetDir(o.pf)); err != nil {
		return outcome.Invalid("give the PF's interface name (ip link lists them)", "no network interface %s (%s): %v", o.pf, sriov.NetDir(o.pf), err)
	}
	if n, err := h.Ethtool.RxQueues(o.pf); err != nil {
		res.Warn("cannot check queue %d against the channels of %s: %v", o.queue, o.pf, err)
	} else if o.queue >= n {
		return outcome.Invalid(fmt.Sprintf("give a queue of %s from 0 to %d (ethtool -l %s)", o.pf, n-1, o.pf),
			"%s has %d RX queue(s); there is no queue %d", o.pf, n, o.queue)
	}
	warnIfInRSS(h, o.pf, o.queue, res)
	o.vdevs = []string{vdev}
	o.device, _, _ = strings.Cut(vdev, ",")
	res.AFXDP = &rxAFXDP{Iface: o.pf, Queue: o.queue}
	return nil
}

// warnIfInRSS warns when RSS still sends the kernel's flows to queue q:
// once an AF_XDP socket is bound there, the XDP program hands the socket
// every frame of that queue, so the kernel loses those flows. A device
// without an indirection table (a veth) gets no warning.
func warnIfInRSS(h *host.Host, pf string, q int, res *rxResult) {
	table, err := h.Ethtool.Indir(pf)
	if err != nil {
		return
	}
	n := 0
	for _, e := range table {
		if int(e) == q {
			n++
		}
	}
	if n > 0 {
		res.Warn("queue %d of %s is in its RSS indirection table (%d of %d entries): the kernel's flows hashed there go to this receiver instead; hide it first: vfbypass up %s --mode queue --queue %d",
			q, pf, n, len(table), pf, q)
	}
}

// buildEALArgs checks memory, privileges and lcores, and writes EAL's
// command line.
func (o *rxOptions) buildEALArgs(h *host.Host, res *rxResult, quiet bool) error {
	pciDev := (o.pf != "" && !o.queueMode()) || o.allow != ""
	if err := o.checkMemoryAndRoot(h, res, pciDev); err != nil {
		return err
	}
	lcores, err := o.lcoreList(res)
	if err != nil {
		return err
	}
	// Fewer polling lcores than queues: pkg/rx says so when the loop starts.
	a := append([]string{"-l", lcores}, o.memoryArgs()...)
	if o.filePrefix != "" {
		a = append(a, "--file-prefix", o.filePrefix)
	}
	if err := o.checkPrefixFree(); err != nil {
		return err
	}
	if quiet {
		// Before the user's EAL arguments, which may set their own level.
		a = append(a, "--log-level", "*:error")
	}
	if pciDev {
		a = append(a, "-a", o.device)
	} else {
		a = append(a, "--no-pci")
		for _, v := range o.vdevs {
			a = append(a, "--vdev", v)
		}
	}
	o.ealArgs = append(a, o.ealExtra...)
	res.EALArgs = o.ealArgs
	res.Device = o.device
	return nil
}

// checkMemoryAndRoot falls back to --no-huge in queue mode when there are
// no hugepages (refuses elsewhere), and wants root where DPDK needs it.
func (o *rxOptions) checkMemoryAndRoot(h *host.Host, res *rxResult, pciDev bool) error {
	if !o.noHuge {
		if err := checkHugepages(h.FS); err != nil {
			// AF_XDP's UMEM is ordinary memory: queue mode does without.
			if !o.queueMode() {
				return err
			}
			o.noHuge = true
		}
	}
	if os.Geteuid() != 0 && (pciDev || !o.noHuge || o.queueMode()) {
		why := map[bool]string{true: "vfio-pci devices", false: "hugepages"}[pciDev]
		if o.queueMode() {
			why = "AF_XDP (an XDP program on " + o.pf + ")"
		}
		return outcome.Invalid("run vfbypass rx as root", "DPDK needs root for %s", why)
	}
	if o.noHuge && pciDev {
		res.Warn("--no-huge with a PCI device: vfio-pci DMA needs IOVA-contiguous memory, which usually means hugepages")
	}
	return nil
}

// lcoreList is --lcores, or by default 0 and one lcore per queue as the
// CPUs allow; it must name CPUs this process may run on.
func (o *rxOptions) lcoreList(res *rxResult) (string, error) {
	lcores := o.lcores
	if lcores == "" {
		last := min(o.queues, runtime.NumCPU()-1)
		lcores = "0"
		if last >= 1 {
			lcores = "0-" + strconv.Itoa(last)
		}
	}
	if nl, err := countLcores(lcores, onlineCPUs()); err != nil {
		return "", outcome.Invalid("write lcores as 0,1 or 0-2, with CPUs this process may run on (taskset -cp $$ lists them)", "--lcores %q: %v", lcores, err)
	} else if nl < 2 {
		res.Warn("1 lcore (%s): the loop runs on the main lcore; give --lcores 0,1 (or more) for dedicated polling lcores", lcores)
	}
	return lcores, nil
}

// memoryArgs are EAL's memory arguments: --no-huge with -m (512 MiB by
// default), or -m alone when given.
func (o *rxOptions) memoryArgs() []string {
	if o.noHuge {
		mem := o.mem
		if mem == 0 {
			mem = 512
		}
		return []string{"--no-huge", "-m", strconv.Itoa(mem)}
	}
	if o.mem > 0 {
		return []string{"-m", strconv.Itoa(o.mem)}
	}
	return nil
}

// checkPrefixFree refuses an EAL file prefix another DPDK process holds
// (EAL would refuse to start).
func (o *rxOptions) checkPrefixFree() error {
	prefix := o.ealFilePrefix()
	if prefix == "" {
		return nil
	}
	if pid := ealPrefixHolder(ealRuntimeDir(), prefix); pid != 0 {
		return outcome.Invalid(fmt.Sprintf("give this loop a file prefix of its own: --file-prefix %s (each DPDK process needs one; or stop process %d)", suggestPrefix(o), pid),
			"another DPDK process (pid %d) holds the EAL file prefix %q (%s), so EAL would refuse to start (rte_eal_init: Invalid argument)", pid, prefix, filepath.Join(ealRuntimeDir(), prefix, "config"))
	}
	return nil
}

// ealFilePrefix is the EAL file prefix this run uses: --file-prefix, one
// given after "--", else EAL's default "rte"; "" with --in-memory, which
// takes no lock.
func (o *rxOptions) ealFilePrefix() string {
	prefix := "rte"
	if o.filePrefix != "" {
		prefix = o.filePrefix
	}
	for i, a := range o.ealExtra {
		switch {
		case a == "--in-memory":
			return ""
		case a == "--file-prefix" && i+1 < len(o.ealExtra):
			prefix = o.ealExtra[i+1]
		case strings.HasPrefix(a, "--file-prefix="):
			prefix = strings.TrimPrefix(a, "--file-prefix=")
		}
	}
	return prefix
}

// ealRuntimeDir is where EAL keeps its per-prefix runtime files, as
// eal_create_runtime_dir (DPDK 22.11 lib/eal/linux/eal.c) picks it:
// /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk.
func ealRuntimeDir() string {
	dir := "/var/run"
	if os.Geteuid() != 0 {
		dir = "/tmp"
		if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
			dir = x
		}
	}
	return filepath.Join(dir, "dpdk")
}

// ealPrefixHolder returns the pid of the process holding the primary
// process's lock of an EAL file prefix, or 0. A primary process keeps a
// write lock (fcntl F_SETLK) on DIR/PREFIX/config while it runs
// (rte_eal_config_create, DPDK 22.11 lib/eal/linux/eal.c); a second one
// with the same prefix fails with only "Cannot create lock" and
// rte_eal_init's EINVAL. F_GETLK asks who holds it without taking it.
func ealPrefixHolder(dir, prefix string) int {
	f, err := os.Open(filepath.Join(dir, prefix, "config"))
	if err != nil {
		return 0
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil || lk.Type == unix.F_UNLCK {
		return 0
	}
	return int(lk.Pid)
}

// suggestPrefix is a file prefix for this run: vfbypass-DEVICE, the device
// name with what EAL's paths do not take replaced.
func suggestPrefix(o *rxOptions) string {
	name := o.device
	if o.pf != "" {
		name = o.pf
		if o.queueMode() {
			name += "-q" + strconv.Itoa(o.queue)
		} else {
			name += "-vf" + strconv.Itoa(o.vf)
		}
	}
	return "vfbypass-" + strings.Map(func(r rune) rune {
		if r == '/' || r == ',' || r == '=' || r == ' ' {
			return '-'
		}
		return r
	}, name)
}

func (o *rxOptions) selectors() string {
	var s []string
	switch {
	case o.queueMode():
		s = append(s, fmt.Sprintf("--pf %s --queue %d", o.pf, o.queue))
	case o.pf != "" || o.vf >= 0:
		s = append(s, fmt.Sprintf("--pf %s --vf %d", o.pf, o.vf))
	}
	if o.allow != "" {
		s = append(s, "-a "+o.allow)
	}
	for _, v := range o.vdevs {
		s = append(s, "--vdev "+v)
	}
	return strings.Join(s, ", ")
}

func orNoDriver(d string) string {
	if d == "" {
		return "no driver"
	}
	return d
}

func numVFs(f host.FS, pf string) int {
	n, _ := host.ReadInt(f, sriov.NetDir(pf)+"/device/sriov_numvfs")
	return n
}

// pciFull adds the 0000: domain to a short PCI address.
func pciFull(a string) string {
	if strings.Count(a, ":") == 1 {
		return "0000:" + a
	}
	return a
}

const hugepageFix = "reserve hugepages and mount hugetlbfs: " + host.ReserveHugepages + "; or run with --no-huge (vdevs and tests)"

// checkHugepages refuses to start EAL without hugepages reserved and
// hugetlbfs mounted (EAL's own failure says far less).
func checkHugepages(f host.FS) error {
	hp, err := host.ReadHugepages(f)
	if err != nil {
		return err
	}
	total, free := hp.Total, hp.Free
	if total <= 0 {
		return outcome.Invalid(hugepageFix, "no hugepages reserved (HugePages_Total is %d in /proc/meminfo)", max(total, 0))
	}
	if free == 0 {
		return outcome.Invalid(hugepageFix, "all %d hugepages are in use (HugePages_Free is 0)", total)
	}
	if m, err := f.ReadFile("/proc/mounts"); err == nil && !strings.Contains(string(m), " hugetlbfs ") {
		return outcome.Invalid(hugepageFix, "%d hugepages reserved, but no hugetlbfs is mounted (/proc/mounts)", total)
	}
	return nil
}

// countLcores counts the lcores of an EAL list such as "0,1" or "0-3,6".
// EAL's other forms (with @ or parentheses) count as 2 (unknown, not fewer).
// With cpus, every lcore must be a CPU the process may run on (EAL refuses
// the others with a bare "Invalid argument").
func countLcores(s string, cpus func(int) bool) (int, error) {
	if strings.ContainsAny(s, "@()") {
		return 2, nil
	}
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("%q is not a CPU number", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("%q is not a CPU range", part)
			}
		}
		for c := a; c <= b; c++ {
			if cpus != nil && !cpus(c) {
				return 0, fmt.Errorf("CPU %d is not one this process may run on (%d CPUs online to it)", c, runtime.NumCPU())
			}
		}
		n += b - a + 1
	}
	return n, nil
}

// isTerminal reports whether w is a terminal (for the \r-updated live line).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// onlineCPUs reports which CPUs this process may run on (its affinity
// mask), or nil when that cannot be read.
func onlineCPUs() func(int) bool {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	return set.IsSet
}
