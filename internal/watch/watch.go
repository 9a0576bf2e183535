// Package watch keeps a PF as `vfbypass up` configured it. It follows the
// kernel's notifications about the PF (host.Events: rtnetlink and ethtool
// netlink on a host, the event feed on the simulator), lets a burst settle,
// and repairs the drift that status reports with setup.RepairDrift, which is up's
// own plan for the journal's request. A periodic resync catches what sends
// no notification (an RSS table write, an ntuple insert or delete, a driver
// rebind). Repairs of a field that keeps drifting back off exponentially.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// Config is what Run watches and how.
type Config struct {
	PF string
	// Options are passed to setup.RepairDrift (StateDir, Force, Timeout,
	// LockTimeout).
	Options setup.Options
	// Resync is the period of a reconcile without an event (default 30 s).
	Resync time.Duration
	// Debounce is how long the events must pause before a reconcile
	// (default 20 ms); a steady stream is reconciled MaxDelay after its
	// first event (default 1 s).
	Debounce, MaxDelay time.Duration
	// WaitForUp keeps watching after down, until the next up, instead of
	// returning.
	WaitForUp bool
	Backoff   Backoff
	// Log receives a record per field repaired (or not), and notes.
	Log func(Record)
	// Metrics, when set, counts what the watcher sees and does.
	Metrics *Metrics
	// Notify, when set, is told "READY=1" after the first reconcile and
	// "WATCHDOG=1" every Watchdog/2 (the systemd protocol).
	Notify   func(state string) error
	Watchdog time.Duration
}

// journalPoll is how often the journal is looked at: down removes it, and
// another up may change its request, neither with a kernel notification.
const journalPoll = time.Second

func (c *Config) defaults() {
	if c.Resync <= 0 {
		c.Resync = 30 * time.Second
	}
	if c.Debounce <= 0 {
		c.Debounce = 20 * time.Millisecond
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = time.Second
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	if c.Log == nil {
		c.Log = func(Record) {}
	}
	if c.Options.LockTimeout == 0 {
		c.Options.LockTimeout = 20 * time.Second
	}
}

// Record is one line of the watcher's log: a field it found drifted and
// what it did (Field set), or a note about the watcher itself.
type Record struct {
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger"`
	Field   string    `json:"field,omitempty"`
	Want    string    `json:"want,omitempty"`
	Have    string    `json:"have,omitempty"`
	// Result: repaired, failed, unrepairable, backoff, held (left
	// drifted while other fields were repaired); a note has none.
	Result string `json:"result,omitempty"`
	// LatencyMS is from the trigger (the first event of a burst) to the
	// end of the repair.
	LatencyMS float64 `json:"latency_ms,omitempty"`
	Message   string  `json:"message,omitempty"`
}

func (r Record) String() string {
	if r.Field == "" {
		return fmt.Sprintf("%s %s: %s", r.Time.Format(time.RFC3339Nano), r.Trigger, r.Message)
	}
	s := fmt.Sprintf("%s %s: %s %s (want %s, had %s) in %.1f ms", r.Time.Format(time.RFC3339Nano), r.Trigger, r.Field, r.Result, report.OrNone(r.Want), report.OrNone(r.Have), r.LatencyMS)
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// ErrAlreadyWatched: another watcher holds the PF.
var ErrAlreadyWatched = errors.New("another watcher runs for this PF")

// Run watches cfg.PF until ctx is done (a repair under way is finished
// first), or until down removes the PF's journal (unless WaitForUp). It
// returns an error when the event source fails or the PF was never up.
func Run(ctx context.Context, h *host.Host, cfg Config) error {
	cfg.defaults()
	if h.Events == nil {
		return fmt.Errorf("watch %s: this host has no event source", cfg.PF)
	}
	if !cfg.WaitForUp {
		// A PF that was never up is refused before anything is made: no
		// state directory, no lock file.
		if up, err := journaled(cfg.Options.StateDir, cfg.PF); err != nil || !up {
			return notUp(cfg.PF, err)
		}
	}
	st, err := openState(cfg.Options.StateDir, cfg.PF)
	if err != nil {
		return err
	}
	defer st.close()
	w := &watcher{h: h, cfg: cfg, fights: newFights(cfg.Backoff), state: st}
	sub, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := h.Events.Subscribe(sub, cfg.PF)
	if err != nil {
		return fmt.Errorf("watch %s: subscribe to the kernel's events: %w", cfg.PF, err)
	}
	down := w.reconcile(ctx, trigger{name: "start", at: time.Now()})
	if down && !cfg.WaitForUp {
		st.remove() // nothing to watch: the state directory stays as it was
		return notUp(cfg.PF, nil)
	}
	w.notify("READY=1")
	err = w.loop(ctx, events)
	if w.down {
		st.remove()
	}
	return err
}

// journaled reports whether the state directory holds a journal for pf;
// a missing directory holds none.
func journaled(dir, pf string) (bool, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	j, err := journal.Store{Dir: dir}.Load(pf)
	return j != nil, err
}

// notUp is the error for a PF without a journal to keep, or err when
// reading the journal failed.
func notUp(pf string, err error) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s has no journal with a request ('vfbypass up %s' first)", setup.ErrNotUp, pf, pf)
}

// trigger is why a reconcile runs, and since when.
type trigger struct {
	name string
	at   time.Time
}

// watcher is one Run.
type watcher struct {
	h      *host.Host
	cfg    Config
	fights *fights
	state  *stateFile
	// down: the last reconcile found no journal.
	down bool
	// retryAt: the earliest end of a backoff of a drifted field.
	retryAt time.Time
}

func (w *watcher) notify(s string) {
	if w.cfg.Notify != nil {
		_ = w.cfg.Notify(s) // systemd's socket may be gone; nothing to do then
	}
}

func (w *watcher) note(tr trigger, format string, args ...any) {
	w.cfg.Log(Record{Time: time.Now(), Trigger: tr.name, Message: fmt.Sprintf(format, args...)})
}

// loop waits for events, the resync, the journal poll, a backoff's end and
// the watchdog, and reconciles.
func (w *watcher) loop(ctx context.Context, events <-chan host.Event) error {
	resync := time.NewTicker(w.cfg.Resync)
	defer resync.Stop()
	poll := time.NewTicker(journalPoll)
	defer poll.Stop()
	var wd <-chan time.Time
	if w.cfg.Watchdog > 0 {
		t := time.NewTicker(w.cfg.Watchdog / 2)
		defer t.Stop()
		wd = t.C
	}
	settle := newDebouncer(w.cfg.Debounce, w.cfg.MaxDelay)
	defer settle.stop()
	retry := newDebouncer(0, 0)
	defer retry.stop()
	stamp := w.state.journalStamp()
	for {
		var tr trigger
		select {
		case <-ctx.Done():
			w.note(trigger{name: "stop"}, "stopped (%v)", context.Cause(ctx))
			return nil
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("watch %s: the event source stopped: %w", w.cfg.PF, w.h.Events.Err())
			}
			w.cfg.Metrics.event(ev.Kind)
			settle.add(ev)
			continue
		case <-wd:
			w.notify("WATCHDOG=1")
			continue
		case <-poll.C:
			s := w.state.journalStamp()
			if s == stamp {
				continue
			}
			stamp, tr = s, trigger{name: "journal", at: time.Now()}
		case <-settle.c():
			tr = settle.take()
		case <-resync.C:
			tr = trigger{name: "resync", at: time.Now()}
		case <-retry.c():
			retry.take()
			tr = trigger{name: "retry", at: time.Now()}
		}
		if w.reconcile(ctx, tr) && !w.cfg.WaitForUp {
			w.note(tr, "%s is down (its journal is gone): stopped", w.cfg.PF)
			return nil
		}
		stamp = w.state.journalStamp()
		retry.at(w.retryAt)
	}
}

// debouncer turns a burst of events into one trigger: it fires when the
// events pause for wait, or max after the first.
type debouncer struct {
	wait, max time.Duration
	t         *time.Timer
	first     trigger
	deadline  time.Time
}

func newDebouncer(wait, max time.Duration) *debouncer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &debouncer{wait: wait, max: max, t: t}
}

func (d *debouncer) add(ev host.Event) {
	now := time.Now()
	if d.first.name == "" {
		at := ev.Time
		if at.IsZero() || at.After(now) {
			at = now
		}
		d.first = trigger{name: eventName(ev), at: at}
		d.deadline = now.Add(d.max)
	}
	d.t.Reset(min(d.wait, time.Until(d.deadline)))
}

// at arms the debouncer to fire at t (zero: disarm).
func (d *debouncer) at(t time.Time) {
	d.t.Stop()
	if !t.IsZero() {
		d.first = trigger{name: "retry", at: t}
		d.t.Reset(time.Until(t))
	}
}

func (d *debouncer) c() <-chan time.Time { return d.t.C }
func (d *debouncer) stop()               { d.t.Stop() }

func (d *debouncer) take() trigger {
	tr := d.first
	d.first = trigger{}
	return tr
}

// eventName is an event as a trigger: "event link down".
func eventName(ev host.Event) string {
	s := "event " + string(ev.Kind)
	if ev.Detail != "" {
		s += " " + ev.Detail
	}
	return s
}
