package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/buildinfo"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sdnotify"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/watch"
)

func init() { register(newWatchCmd) }

// jsonlAnnotation marks a command that also prints -o jsonl.
const jsonlAnnotation = "jsonl"

type watchFlags struct {
	config           string
	configReq        *setup.Request
	cfg              watch.Config
	metrics          string
	timeout          time.Duration
	resync, debounce time.Duration
}

// watchResult is what watch reports when it ends.
type watchResult struct {
	report.Common
	// Type is "summary" on the last line of -o jsonl.
	Type string `json:"type,omitempty"`
	// Stopped: "signal" or "down".
	Stopped string         `json:"stopped"`
	Repairs map[string]int `json:"repairs"`
	mu      sync.Mutex
	jsonl   bool
	out     io.Writer
}

func (r *watchResult) Text(w io.Writer) {
	if r.Stopped != "" {
		fmt.Fprintf(w, "watch %s stopped (%s): %d repaired, %d failed, %d unrepairable, %d backoffs, %d held\n", r.PF, r.Stopped,
			r.Repairs["repaired"], r.Repairs["failed"], r.Repairs["unrepairable"], r.Repairs["backoff"], r.Repairs["held"])
	}
}

// log prints a record as it happens: a line of text, or a JSON line with
// -o jsonl (on stderr as text with -o json, whose stdout is the summary).
func (r *watchResult) log(rec watch.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Result != "" {
		r.Repairs[rec.Result]++
	}
	if r.jsonl {
		b, _ := json.Marshal(rec)
		r.out.Write(append(b, '\n'))
		return
	}
	fmt.Fprintln(r.out, rec)
}

func newWatchCmd(g *globals) *cobra.Command {
	o := &watchFlags{}
	cmd := &cobra.Command{
		Use:   "watch PF | watch --config FILE",
		Short: "Keep a PF as up configured it: repair drift within milliseconds of a kernel event",
		Long: `Watch a PF that 'vfbypass up' configured and repair its drift as it happens:
rules flushed or the RSS table refilled by a driver reset (a link flap, an MTU or
channel change), VF settings or drivers changed behind vfbypass's back. The
watcher follows the kernel's rtnetlink and ethtool netlink notifications about
the PF, waits for a burst to settle (--debounce), and runs up's own plan for the
request in the PF's journal, taking the PF's lock for each repair (up, steer and
down run beside it). The kernel sends no notification for an RSS table write,
an ntuple rule insert or delete, or a driver rebind: the periodic --resync finds
those. The watcher never changes the VF count and never recreates VFs: such
drift is reported and left. A field that keeps drifting (another manager
changing it) is repaired with an exponential backoff, and reported.

Every repair is a line (with -o jsonl a JSON object: time, trigger, field, want,
have, result, latency_ms). 'vfbypass down' ends the watcher (exit 0), unless
--wait-for-up. SIGTERM lets a repair under way finish. Under systemd
(Type=notify) it reports READY=1 after the first reconcile and keeps the
watchdog alive (see docs/watch.md).`,
		Example: `  vfbypass watch eth3
  vfbypass watch eth3 -o jsonl --metrics-addr 127.0.0.1:9102
  vfbypass watch --config /etc/vfbypass/eth3.yaml --resync 10s`,
		Args:        maxArgs(1),
		Annotations: map[string]string{jsonlAnnotation: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &watchResult{Repairs: map[string]int{}, jsonl: g.Output == "jsonl", out: g.Stdout}
			switch {
			case g.Output == "json":
				res.out = g.Stderr
			case g.Output == "text" && g.Quiet:
				res.out = io.Discard
			}
			err := o.run(g, cmd, args, res)
			if res.jsonl {
				res.Type = "summary"
				return g.EmitLine(res, err)
			}
			return g.emit(res, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "the config 'vfbypass up --config' applied (it names the PF); the journal's request is what is kept")
	f.DurationVar(&o.resync, "resync", 30*time.Second, "period of a full reconcile without an event (catches ethtool -X, -N and driver rebinds)")
	f.DurationVar(&o.debounce, "debounce", 20*time.Millisecond, "how long the events must pause before a reconcile")
	f.BoolVar(&o.cfg.WaitForUp, "wait-for-up", false, "after 'vfbypass down', wait for the next up instead of exiting")
	f.BoolVar(&o.cfg.Options.Force, "force", false, "repair a PF that carries the default route (as up --force)")
	f.StringVar(&o.metrics, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9102")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long a repair waits for VFs and /dev/vfio nodes to appear")
	return cmd
}

// run checks the command line, then watches until a signal or down.
func (o *watchFlags) run(g *globals, cmd *cobra.Command, args []string, res *watchResult) error {
	pf, err := o.pf(g, args)
	res.PF = pf
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if !g.interfaceExists(pf) {
		return g.unknownPF(pf, "")
	}
	h, err := g.openHost()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := o.setup(g, pf, res); err != nil {
		return err
	}
	stopMetrics, err := o.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	ctx, stop := whileChanging() // a repair under way finishes, then watch exits
	defer stop()
	err = watch.Run(ctx, h, o.cfg)
	switch {
	case errors.Is(err, setup.ErrNotUp):
		return outcome.Invalid(fmt.Sprintf("run 'vfbypass up %s' first (or pass --wait-for-up)", pf), "%v", err)
	case err != nil:
		return err // its outcome decides the exit code
	case ctx.Err() != nil:
		res.Stopped = "signal"
	default:
		res.Stopped = "down"
	}
	return nil
}

// pf is the PF the argument or the config names.
func (o *watchFlags) pf(g *globals, args []string) (string, error) {
	if o.config == "" {
		if len(args) != 1 {
			return "", outcome.Invalid("name the PF: vfbypass watch eth3 (or --config FILE)", "watch needs the PF interface name")
		}
		return args[0], sriov.CheckIfname(args[0])
	}
	c, err := setup.LoadConfig(o.config, g.stdin)
	if err != nil {
		return "", err
	}
	if err := configPF(&c, "watch", o.config, args); err != nil {
		return "", err
	}
	if err := sriov.CheckIfname(c.PF); err != nil {
		return c.PF, err
	}
	o.configReq = &c
	return c.PF, nil
}

// check refuses flag values that cannot work.
func (o *watchFlags) check() error {
	if err := checkTimeout(o.timeout); err != nil {
		return err
	}
	if o.resync < time.Second {
		return outcome.Invalid("give --resync 1s or more (default 30s)", "--resync %s is too short: a resync reads the whole PF", o.resync)
	}
	if o.debounce < 0 || o.debounce > 10*time.Second {
		return outcome.Invalid("give --debounce from 0 to 10s (default 20ms)", "--debounce %s is out of range", o.debounce)
	}
	if o.metrics != "" {
		if _, _, err := net.SplitHostPort(o.metrics); err != nil {
			return outcome.Invalid("give --metrics-addr as HOST:PORT, e.g. 127.0.0.1:9102 (or :9102 for every address)", "--metrics-addr %q: %v", o.metrics, err)
		}
	}
	return nil
}

// setup completes the watcher's configuration: the PF, the log, systemd's
// notification socket and watchdog, and a warning when --config is not
// the request the journal keeps.
func (o *watchFlags) setup(g *globals, pf string, res *watchResult) error {
	c := &o.cfg
	c.PF, c.Resync, c.Debounce = pf, o.resync, o.debounce
	c.Options.StateDir, c.Options.Timeout = g.StateDir, o.timeout
	c.Log = res.log
	n := sdnotify.FromEnv(os.Getenv)
	wd, err := sdnotify.Watchdog(os.Getenv, os.Getpid())
	if err != nil {
		return outcome.Invalid("set WatchdogSec= in the unit (systemd sets WATCHDOG_USEC from it)", "%v", err)
	}
	if n.Enabled() {
		c.Notify, c.Watchdog = n.Notify, wd
	}
	if o.metrics != "" {
		bi := buildinfo.Read("vfbypass")
		c.Metrics = watch.NewMetrics(pf, watch.BuildInfo{Version: bi.Version, Commit: bi.Commit, GoVersion: runtime.Version()})
	}
	if o.configReq != nil {
		if differs, err := requestDiffers(g.StateDir, *o.configReq); err == nil && differs {
			fmt.Fprintf(g.Stderr, "warning: %s is not the request %s's journal keeps: the watcher keeps the journal's ('vfbypass up --config %s' applies the config)\n", o.config, pf, o.config)
		}
	}
	return nil
}

// requestDiffers reports whether the journal of req's PF holds another
// request.
func requestDiffers(stateDir string, req setup.Request) (bool, error) {
	j, err := journal.Store{Dir: stateDir}.Load(req.PF)
	if err != nil || j == nil || j.Request == nil {
		return false, err
	}
	var have setup.Request
	if err := json.Unmarshal(j.Request, &have); err != nil {
		return false, err
	}
	have.Normalize()
	req.Normalize()
	a, _ := json.Marshal(have)
	b, _ := json.Marshal(req)
	return !bytes.Equal(a, b), nil
}

// serveMetrics serves the watcher's metrics at --metrics-addr until the
// returned function is called.
func (o *watchFlags) serveMetrics() (func(), error) {
	if o.cfg.Metrics == nil {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", o.metrics)
	if err != nil {
		return nil, outcome.Invalid("choose a free --metrics-addr", "--metrics-addr %s: %v", o.metrics, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", o.cfg.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l) // returns when Close is called
	return func() { srv.Close() }, nil
}
