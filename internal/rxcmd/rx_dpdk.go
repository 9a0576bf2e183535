//go:build cgo && !nodpdk

package rxcmd

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/pkg/outcome"
	"github.com/vfbypass/vfbypass/pkg/rx"
)

// runRx starts EAL and the loop, prints the live line each second and fills
// res when the loop stops (duration, SIGINT or SIGTERM).
func runRx(g *cli.Globals, o *rxOptions, res *rxResult) (err error) {
	e, err := rx.InitEAL(o.ealArgs)
	if err != nil {
		return outcome.WithCode(outcome.Failed, err)
	}
	res.Warnings = append(res.Warnings, e.Warnings...)
	defer func() {
		if cerr := e.Close(); cerr != nil {
			res.Warn("shut down DPDK: %v", cerr)
		}
	}()
	var promisc *bool
	if o.promisc {
		on := true
		promisc = &on
	}
	p, err := e.OpenPort(o.device, rx.PortConfig{RxQueues: o.queues, Mbufs: o.mbufs, Promisc: promisc})
	if err != nil {
		return outcome.WithCode(outcome.Failed, err)
	}
	res.Driver = p.Driver
	res.Warnings = append(res.Warnings, p.Warnings...)

	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	l, err := p.Start(rx.LoopConfig{Burst: o.burst, Match: o.flow})
	if err != nil {
		return outcome.WithCode(outcome.Failed, err)
	}
	start := time.Now()
	res.Warnings = append(res.Warnings, l.Warnings...)
	// One line on stderr once the port is started (also with -o json, whose
	// stdout is the summary only): scripts and the lab wait for it before
	// sending traffic.
	fmt.Fprintf(g.Stderr, "rx: receiving on %s (%s), %d RX queue(s) polled by lcore(s) %v; stop with SIGINT\n",
		o.device, p.Driver, p.RxQueues, l.Lcores())

	var live io.Writer = g.Stdout
	if g.Output == "json" {
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
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastStats, lastT := rx.QueueCounters{}, rx.PortStats{}, start
	res.StoppedBy = "duration"
loop:
	for {
		select {
		case <-ctx.Done():
			res.StoppedBy = "signal"
			break loop
		case <-deadline:
			break loop
		case now := <-tick.C:
			if live == nil {
				continue
			}
			cur := rx.Sum(p.Counters())
			st, serr := p.Stats()
			if serr != nil {
				res.Warn("%v", serr)
			}
			dt := now.Sub(lastT).Seconds()
			line := fmt.Sprintf("rx %s %4.0fs  %s  %.1f Mbit/s  missed %d  errors %d  nombuf %d",
				o.device, now.Sub(start).Seconds(), fmtPPS(float64(cur.Packets-last.Packets)/dt),
				float64(cur.Bytes-last.Bytes)*8/dt/1e6, st.IMissed-lastStats.IMissed, st.IErrors-lastStats.IErrors, st.RxNoMbuf-lastStats.RxNoMbuf)
			if tty {
				if o.duration > 0 {
					line = progressBar(now.Sub(start), o.duration) + " " + line
				}
				fmt.Fprintf(live, "\r%s\033[K", line)
			} else {
				fmt.Fprintln(live, line)
			}
			last, lastStats, lastT = cur, st, now
		}
	}
	stopSignals()
	if err := l.Stop(); err != nil {
		res.Warn("%v", err)
	}
	elapsed := time.Since(start).Seconds()
	if tty {
		fmt.Fprintln(live)
	}
	res.Queues = p.Counters()
	tot := rx.Sum(res.Queues)
	res.Packets, res.Bytes, res.DurationS = tot.Packets, tot.Bytes, elapsed
	if elapsed > 0 {
		res.PPS = float64(tot.Packets) / elapsed
		res.Mbps = float64(tot.Bytes) * 8 / elapsed / 1e6
	}
	if o.flow != nil {
		res.Match = &rxMatch{Flow: o.flow.String(), Packets: tot.MatchPackets, Bytes: tot.MatchBytes}
	}
	if res.PortStats, err = p.Stats(); err != nil {
		res.Warn("%v", err)
	}
	return nil
}

// progressBar draws how much of the run has passed, e.g. "[#####-----]".
func progressBar(done, total time.Duration) string {
	const width = 20
	n := int(int64(width) * int64(done) / int64(total))
	n = max(0, min(n, width))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}
