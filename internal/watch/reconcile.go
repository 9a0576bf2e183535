package watch

import (
	"context"
	"errors"
	"time"

	"github.com/vfbypass/vfbypass/internal/setup"
)

// maxRequestRetries bounds the repairs that find the journal's request
// replaced by another up while they waited for the lock.
const maxRequestRetries = 3

// reconcile reads the drift as status does and repairs the fields that are
// due; it reports whether the PF is down (no journal with a request).
func (w *watcher) reconcile(ctx context.Context, tr trigger) bool {
	start := time.Now()
	defer func() { w.cfg.Metrics.reconciled(start, time.Since(start)) }()
	drift, up, err := w.drift()
	if err != nil {
		w.note(tr, "cannot read %s: %v", w.cfg.PF, err)
		return false
	}
	w.down = !up
	if !up {
		w.cfg.Metrics.setDrift(0)
		return true
	}
	todo, held := w.due(drift, start)
	if len(todo) == 0 {
		w.finish(tr, start, drift, nil, nil)
		return false
	}
	w.noteHeld(tr, held)
	var rerr error
	for range maxRequestRetries {
		// A repair under way is finished even when ctx ends (SIGTERM); it
		// leaves the fields in backoff as they are.
		_, rerr = setup.RepairDrift(context.WithoutCancel(ctx), w.h, w.cfg.PF, fieldsOf(held), w.cfg.Options)
		if !errors.Is(rerr, setup.ErrRequestChanged) {
			break
		}
	}
	if errors.Is(rerr, setup.ErrNotUp) {
		w.down = true
		return true
	}
	latency := time.Since(tr.at)
	after, _, aerr := w.drift()
	if aerr != nil {
		after, rerr = todo, errors.Join(rerr, aerr)
	}
	w.finish(tr, start, after, w.report(tr, todo, after, rerr, latency), rerr)
	return false
}

// drift is status's drift for the PF, and whether it is up (its journal
// holds a request).
func (w *watcher) drift() ([]setup.Drift, bool, error) {
	return setup.DriftOf(w.h, w.cfg.PF, w.cfg.Options.StateDir)
}

// due splits the drift into what may be repaired now and what is in
// backoff (held: the repair leaves it as it is).
func (w *watcher) due(drift []setup.Drift, now time.Time) (todo, held []setup.Drift) {
	for _, d := range drift {
		if w.fights.due(d.Field, now) {
			todo = append(todo, d)
		} else {
			held = append(held, d)
		}
	}
	return todo, held
}

func fieldsOf(drift []setup.Drift) []string {
	out := make([]string, 0, len(drift))
	for _, d := range drift {
		out = append(out, d.Field)
	}
	return out
}

// noteHeld logs, once per backoff, each field a repair leaves drifted
// because it is in backoff.
func (w *watcher) noteHeld(tr trigger, held []setup.Drift) {
	now := time.Now()
	for _, d := range held {
		until, first := w.fights.holding(d.Field)
		if !first {
			continue
		}
		w.cfg.Log(Record{Time: now, Trigger: tr.name, Field: d.Field, Want: d.Want, Have: d.Have, Result: "held",
			Message: "left drifted while other fields are repaired: it is in backoff until " + until.Format(time.RFC3339)})
		w.cfg.Metrics.repair(d.Field, "held")
	}
}

// report logs and counts what became of each field of todo, given the
// drift after the repair, and starts the backoff of fields that keep
// drifting; it returns the fields repaired.
func (w *watcher) report(tr trigger, todo, after []setup.Drift, rerr error, latency time.Duration) []string {
	left := map[string]bool{}
	for _, d := range after {
		left[d.Field] = true
	}
	now := time.Now()
	var repaired []string
	for _, d := range todo {
		rec := Record{Time: now, Trigger: tr.name, Field: d.Field, Want: d.Want, Have: d.Have, Result: "repaired", LatencyMS: ms(latency)}
		var wait time.Duration
		switch {
		case !left[d.Field]:
			repaired = append(repaired, d.Field)
			wait = w.fights.tried(d.Field, now)
		case errors.Is(rerr, setup.ErrNotRepairable):
			rec.Result, rec.Message = "unrepairable", errText(rerr)+"; reported again in "+w.fights.hold(d.Field, now).String()
		default:
			rec.Result, rec.Message = "failed", errText(rerr)
			wait = w.fights.tried(d.Field, now)
		}
		w.cfg.Log(rec)
		w.cfg.Metrics.repair(d.Field, rec.Result)
		if wait > 0 {
			w.cfg.Log(Record{Time: now, Trigger: tr.name, Field: d.Field, Want: d.Want, Have: d.Have, Result: "backoff",
				Message: "it keeps drifting (another manager may be changing it); next repair in " + wait.String()})
			w.cfg.Metrics.repair(d.Field, "backoff")
		}
	}
	return repaired
}

func errText(err error) string {
	if err == nil {
		return "still drifted after the repair"
	}
	return err.Error()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// finish records the reconcile: the drift now, when a field in backoff is
// due again, and the state file status reads.
func (w *watcher) finish(tr trigger, start time.Time, drift []setup.Drift, repaired []string, rerr error) {
	w.cfg.Metrics.setDrift(len(drift))
	drifted := map[string]bool{}
	w.retryAt = time.Time{}
	for _, d := range drift {
		drifted[d.Field] = true
		if u := w.fights.until(d.Field); u.After(start) && (w.retryAt.IsZero() || u.Before(w.retryAt)) {
			w.retryAt = u
		}
	}
	w.fights.forget(drifted, start)
	if err := w.state.update(tr.name, start, len(drift), repaired, rerr); err != nil {
		w.note(tr, "%v", err)
	}
}
