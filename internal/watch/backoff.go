package watch

import "time"

// Backoff bounds how often the same field is repaired: a field repaired
// After times with less than Window between repairs is being changed by
// someone else (another manager, a script, a driver that keeps resetting),
// and its next repair waits Min, then twice as long each time, up to Max.
// The fight is reported, not looped on.
type Backoff struct {
	Window time.Duration
	After  int
	Min    time.Duration
	Max    time.Duration
}

// DefaultBackoff is watch's: a link flap (two repairs of a field) is no
// fight; a third repair within a minute waits a second, then 2, 4, ... up
// to 5 minutes.
var DefaultBackoff = Backoff{Window: time.Minute, After: 3, Min: time.Second, Max: 5 * time.Minute}

// fieldHistory is one field's recent repairs.
type fieldHistory struct {
	last   time.Time
	streak int
	until  time.Time
	// heldNoted: the backoff ending at until was reported as held.
	heldNoted time.Time
}

// fights tracks the fields' histories.
type fights struct {
	b Backoff
	m map[string]*fieldHistory
}

func newFights(b Backoff) *fights { return &fights{b: b, m: map[string]*fieldHistory{}} }

// due reports whether field may be repaired at now.
func (f *fights) due(field string, now time.Time) bool {
	h := f.m[field]
	return h == nil || !now.Before(h.until)
}

// until is when field may be repaired again (zero: now).
func (f *fights) until(field string) time.Time {
	if h := f.m[field]; h != nil {
		return h.until
	}
	return time.Time{}
}

// holding returns when field's backoff ends, and whether this is the
// first time it is asked during that backoff.
func (f *fights) holding(field string) (time.Time, bool) {
	h := f.m[field]
	if h == nil {
		return time.Time{}, false
	}
	first := !h.heldNoted.Equal(h.until)
	h.heldNoted = h.until
	return h.until, first
}

// tried records a repair of field at now; it returns how long the next
// repair of field must wait (0: no fight).
func (f *fights) tried(field string, now time.Time) time.Duration {
	h := f.m[field]
	if h == nil {
		h = &fieldHistory{}
		f.m[field] = h
	}
	if !h.last.IsZero() && now.Sub(h.last) < f.b.Window {
		h.streak++
	} else {
		h.streak = 1
	}
	h.last = now
	if h.streak < f.b.After {
		return 0
	}
	d := f.b.Min
	for i := f.b.After; i < h.streak && d < f.b.Max; i++ {
		d *= 2
	}
	d = min(d, f.b.Max)
	h.until = now.Add(d)
	return d
}

// hold keeps field from being repaired for the longest wait (a repair
// that cannot succeed: the field is reported again only then).
func (f *fights) hold(field string, now time.Time) time.Duration {
	f.m[field] = &fieldHistory{last: now, streak: f.b.After, until: now.Add(f.b.Max)}
	return f.b.Max
}

// forget drops the histories of fields that are no longer drifted and
// whose window has passed.
func (f *fights) forget(drifted map[string]bool, now time.Time) {
	for k, h := range f.m {
		if !drifted[k] && now.Sub(h.last) >= f.b.Window && !now.Before(h.until) {
			delete(f.m, k)
		}
	}
}
