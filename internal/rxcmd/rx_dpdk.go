//go:build cgo && !nodpdk

package rxcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vfbypass/vfbypass/internal/buildinfo"
	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/pkg/rx"
	"github.com/vfbypass/vfbypass/pkg/rx/metrics"
)

// runRx starts EAL and the loop, reports each interval (live line, -o
// jsonl, metrics) and fills res when the loop stops (duration, SIGINT or
// SIGTERM).
func runRx(g *cli.Globals, o *rxOptions, res *rxResult) (err error) {
	var ln net.Listener
	if o.metrics != "" {
		// Listen before EAL starts: a taken address is the user's to fix
		// and nothing has been touched yet.
		if ln, err = net.Listen("tcp", o.metrics); err != nil {
			return outcome.Invalid("give --metrics-addr a free HOST:PORT (ss -ltn lists the ports in use)", "--metrics-addr %s: %v", o.metrics, err)
		}
		defer ln.Close()
	}
	e, err := rx.InitEAL(o.ealArgs)
	if err != nil {
		return outcome.Failed(err)
	}
	res.Warnings = append(res.Warnings, e.Warnings...)
	defer func() {
		if cerr := e.Close(); cerr != nil {
			res.Warn("shut down DPDK: %v", cerr)
		}
	}()
	p, err := openPort(e, o, res)
	if err != nil {
		return err
	}
	mode := receiveMode(o, res)

	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	l, err := p.Start(rx.LoopConfig{Burst: o.burst, Match: o.flow})
	if err != nil {
		return outcome.Failed(err)
	}
	start := time.Now()
	res.Warnings = append(res.Warnings, l.Warnings...)
	read := func() (metrics.Sample, error) {
		st, err := p.Stats()
		return metrics.Sample{Time: time.Now(), Queues: p.Counters(), Port: st, Restarts: uint64(p.Restarts())}, err
	}
	var exp *metrics.Exporter
	if ln != nil {
		exp = metrics.NewExporter(o.metricLabels(p.Driver, mode), read)
		stop, err := serveMetrics(ln, exp)
		if err != nil {
			return outcome.Failed(err)
		}
		defer stop()
		if !g.Quiet {
			fmt.Fprintf(g.Stderr, "rx: metrics at http://%s/metrics\n", ln.Addr())
		}
	}
	// One line on stderr once the port is started (also with -o json, whose
	// stdout is the summary only): scripts and the lab wait for it before
	// sending traffic. -q leaves it out with the rest.
	if !g.Quiet {
		fmt.Fprintf(g.Stderr, "rx: receiving on %s (%s), %d RX queue(s) polled by lcore(s) %v; %s; stop with SIGINT\n",
			o.device, p.Driver, p.RxQueues, l.Lcores(), mode)
	}

	res.StoppedBy = watch(ctx, g, o, start, read, exp, res, restarter(g, o, p, res))
	stopSignals()
	if err := l.Stop(); err != nil {
		res.Warn("%v", err)
	}
	o.summarise(p, time.Since(start), res)
	return nil
}

// recoverPeriod is how often rx reads the port's link and reset events
// (rx.Port.Recover): often enough to see a PF reset's link drop, which
// lasts about a second on the emulated igb (its autonegotiation), and
// cheap (rte_eth_link_get_nowait reads two VF registers).
const recoverPeriod = 100 * time.Millisecond

// rxRestart is the -o jsonl line of a port restart.
type rxRestart struct {
	Type     string  `json:"type"`
	Time     string  `json:"time"`
	Device   string  `json:"device"`
	Reason   string  `json:"reason"`
	TookMS   float64 `json:"took_ms"`
	Restarts int     `json:"restarts"`
	// Again says the restart was slow (a VF's reset message unanswered)
	// and will be tried again.
	Again bool `json:"again"`
}

// restarter returns what watch calls every recoverPeriod: it restarts the port
// when its device was reset under the loop (rx.Port.Recover: a PF reset
// stops a VF's receive until the VF resets) and reports the restart, a
// line on stderr (unless -q) and with -o jsonl a "restart" object; a
// failed restart is a warning and is tried again at the next interval.
func restarter(g *cli.Globals, o *rxOptions, p *rx.Port, res *rxResult) func(enc *json.Encoder) {
	return func(enc *json.Encoder) {
		r, err := p.Recover()
		if err != nil {
			if !g.Quiet {
				fmt.Fprintf(g.Stderr, "rx: %v\n", err)
			}
			res.Warn("%v", err)
			return
		}
		if r == nil {
			return
		}
		took := float64(r.Took.Microseconds()) / 1000
		if !g.Quiet {
			again := ""
			if r.Again {
				again = "; that slow, the VF's reset message may have gone unanswered: trying again once the link has settled"
			}
			fmt.Fprintf(g.Stderr, "rx: restarted port %s after a %s (restart %d, the loop paused %.1f ms%s)\n",
				o.device, r.Reason, r.Count, took, again)
		}
		if o.jsonl {
			rec := rxRestart{Type: "restart", Time: time.Now().UTC().Format(time.RFC3339Nano), Device: o.device,
				Reason: r.Reason, TookMS: took, Restarts: r.Count, Again: r.Again}
			if err := enc.Encode(rec); err != nil {
				res.Warn("write -o jsonl: %v", err)
			}
		}
	}
}

// summarise fills res with the stopped loop's counts, rates and the port's
// statistics over elapsed.
func (o *rxOptions) summarise(p *rx.Port, elapsed time.Duration, res *rxResult) {
	secs := elapsed.Seconds()
	res.Queues = p.Counters()
	res.Restarts = p.Restarts()
	tot := rx.Sum(res.Queues)
	res.Packets, res.Bytes, res.DurationS = tot.Packets, tot.Bytes, secs
	if secs > 0 {
		res.PPS = float64(tot.Packets) / secs
		res.Mbps = float64(tot.Bytes) * 8 / secs / 1e6
	}
	if o.flow != nil {
		res.Match = &rxMatch{Flow: o.flow.String(), Packets: tot.MatchPackets, Bytes: tot.MatchBytes}
	}
	var err error
	if res.PortStats, err = p.Stats(); err != nil {
		res.Warn("%v", err)
	}
}

// metricLabels are the exporter's labels for this run: the device, the PF
// and VF it was named by, the driver and mode, and the build.
func (o *rxOptions) metricLabels(driver, mode string) metrics.Labels {
	l := metrics.Labels{Device: o.device, PF: o.pf, Driver: driver, Mode: mode}
	if o.pf != "" && !o.queueMode() {
		l.VF = strconv.Itoa(o.vf)
	}
	in := buildinfo.Read("vfbypass-rx")
	l.Build = metrics.Build{Version: in.Version, Commit: in.Commit, GoVersion: in.Go, DPDK: rx.DPDKVersion()}
	return l
}

// openPort sets the port up and starts it; in queue mode under 'vfbypass
// rx' it then waits for the control plane's repair (afterAttach).
func openPort(e *rx.EAL, o *rxOptions, res *rxResult) (*rx.Port, error) {
	var promisc *bool
	if o.promisc {
		on := true
		promisc = &on
	}
	p, err := e.OpenPort(o.device, rx.PortConfig{RxQueues: o.queues, Mbufs: o.mbufs, Promisc: promisc})
	if err != nil {
		return nil, outcome.Failed(err)
	}
	res.Driver = p.Driver
	res.Warnings = append(res.Warnings, p.Warnings...)
	return p, o.afterAttach(res)
}

// receiveMode says how the port receives, for the start line and the
// metrics: "VF through vfio-pci", "vdev", or, in queue mode, whether the
// AF_XDP socket runs in zero-copy or copy mode, read from the kernel.
func receiveMode(o *rxOptions, res *rxResult) string {
	switch {
	case res.AFXDP != nil:
		m, err := rx.ProbeXSK(o.pf)
		if err != nil {
			res.Warn("AF_XDP on %s queue %d: cannot tell zero-copy from copy mode: %v", o.pf, o.queue, err)
			return "af_xdp"
		}
		res.AFXDP.XSKMode = m
		return fmt.Sprintf("AF_XDP %s", m)
	case len(o.vdevs) > 0:
		return "vdev"
	}
	return "vfio-pci"
}

// rxInterval is one line of -o jsonl.
type rxInterval struct {
	Type     string  `json:"type"`
	Time     string  `json:"time"`
	ElapsedS float64 `json:"elapsed_s"`
	Device   string  `json:"device"`
	metrics.Interval
}

// watch samples the loop every --interval until the duration passes or a
// signal arrives, and reports each interval: the live line (stdout in text
// mode, else stderr when it is a terminal), a JSON line with -o jsonl, and
// the exporter's rates. Every recoverPeriod it calls restart (a port
// restart, when one is due). It returns what stopped the run.
func watch(ctx context.Context, g *cli.Globals, o *rxOptions, start time.Time, read func() (metrics.Sample, error), exp *metrics.Exporter, res *rxResult, restart func(*json.Encoder)) string {
	var live io.Writer = g.Stdout
	switch {
	case g.Quiet:
		live = nil
	case g.Output != "text":
		live = nil
		if isTerminal(g.Stderr) {
			live = g.Stderr
		}
	}
	tty := live != nil && isTerminal(live)
	var deadline <-chan time.Time
	if o.duration > 0 {
		deadline = time.After(o.duration)
	}
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	check := time.NewTicker(recoverPeriod)
	defer check.Stop()
	defer func() {
		if tty {
			fmt.Fprintln(live)
		}
	}()
	last := metrics.Sample{Time: start, Queues: make([]rx.QueueCounters, o.queues)}
	enc := json.NewEncoder(g.Stdout)
	for {
		select {
		case <-ctx.Done():
			return "signal"
		case <-deadline:
			return "duration"
		case <-check.C:
			restart(enc)
			continue
		case <-tick.C:
		}
		cur, err := read()
		if err != nil {
			res.Warn("%v", err)
		}
		iv := metrics.Between(last, cur)
		last = cur
		if exp != nil {
			exp.Observe(iv)
		}
		if o.jsonl {
			if err := enc.Encode(rxInterval{Type: "interval", Time: cur.Time.UTC().Format(time.RFC3339Nano), ElapsedS: cur.Time.Sub(start).Seconds(), Device: o.device, Interval: iv}); err != nil {
				res.Warn("write -o jsonl: %v", err)
			}
		}
		if live == nil {
			continue
		}
		line := fmt.Sprintf("rx %s %4.0fs  %s  %.1f Mbit/s  missed %d  errors %d  nombuf %d",
			o.device, cur.Time.Sub(start).Seconds(), fmtPPS(iv.PPS), iv.Mbps, iv.Missed, iv.Errors, iv.NoMbuf)
		if tty {
			if o.duration > 0 {
				line = progressBar(cur.Time.Sub(start), o.duration) + " " + line
			}
			fmt.Fprintf(live, "\r%s\033[K", line)
		} else {
			fmt.Fprintln(live, line)
		}
	}
}

// serveMetrics serves exp at /metrics on ln until stop is called.
func serveMetrics(ln net.Listener, exp *metrics.Exporter) (stop func(), err error) {
	h, err := exp.Handler()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// progressBar draws how much of the run has passed, e.g. "[#####-----]".
func progressBar(done, total time.Duration) string {
	const width = 20
	n := int(int64(width) * int64(done) / int64(total))
	n = max(0, min(n, width))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}
