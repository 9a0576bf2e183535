package setup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

var _ journaled = (*rssIndirStep)(nil)

// rssIndirStep takes one queue out of the PF's RSS indirection table.
type rssIndirStep struct {
	// Queue is the hidden queue; Want the table written (every queue but
	// Queue, as `ethtool -X PF weight 1 ... 0 ... 1` writes it).
	Queue uint32   `json:"queue"`
	Want  []uint32 `json:"want"`
	// Old is the table before the first up.
	Old []uint32 `json:"old"`
	// Configured: Old was not the kernel's default (entry i = i % RX
	// rings), so it is taken to have been written by someone and undo
	// writes it back exactly; otherwise undo resets the table with the
	// zero-size ETHTOOL_SRXFHINDIR, which also clears the kernel's
	// configured-by-user flag (the flag itself cannot be read).
	Configured bool `json:"configured"`
	// orig is the table someone had configured before the first up, as
	// up read it before its first step (the ntuple and lro steps reset
	// the PF and ixgbe_setup_reta fills the table in again before this
	// step runs); nil when the table was the driver's own.
	orig []uint32
}

func (s *rssIndirStep) id() string { return string(KindRSSIndir) }

func (s *rssIndirStep) kind() StepKind { return KindRSSIndir }

func (s *rssIndirStep) describe(e *env) string {
	return fmt.Sprintf("take RX queue %d of %s out of RSS: write its %d-entry indirection table over the other queues (ethtool -X %s weight ...)", s.Queue, e.pf.Name, len(s.Want), e.pf.Name)
}

func (s *rssIndirStep) changes(e *env) ([]report.Change, error) {
	cur, err := e.h.Ethtool.Indir(e.pf.Name)
	if err != nil {
		return nil, err
	}
	return change("rss.indir", IndirWords(cur), IndirWords(s.Want)), nil
}

func (s *rssIndirStep) record(e *env) error {
	if s.orig != nil {
		s.Old, s.Configured = s.orig, true
		return nil
	}
	cur, err := e.h.Ethtool.Indir(e.pf.Name)
	if err != nil {
		return err
	}
	rings, err := e.h.Ethtool.RxRings(e.pf.Name)
	if err != nil {
		return err
	}
	s.Old, s.Configured = cur, !slices.Equal(cur, flows.DefaultIndir(len(cur), rings))
	return nil
}

func (s *rssIndirStep) keep(old journaled, _ *env) error {
	o, err := earlier[*rssIndirStep](old)
	if err != nil {
		return err
	}
	s.Old, s.Configured = o.Old, o.Configured
	return nil
}

func (s *rssIndirStep) apply(_ context.Context, e *env) error {
	return e.h.Ethtool.SetIndir(e.pf.Name, s.Want)
}

// back is the table before the first up: the exact old table when it was
// configured, the driver's default (the zero-size reset) otherwise.
func (s *rssIndirStep) back() target { return indirBack{s} }

// indirBack is the recorded table (Old) of s.
type indirBack struct{ s *rssIndirStep }

func (b indirBack) describe(e *env) string {
	if !b.s.Configured {
		return fmt.Sprintf("reset the RSS indirection table of %s to the driver's default", e.pf.Name)
	}
	return fmt.Sprintf("write the RSS indirection table of %s back (%s)", e.pf.Name, IndirWords(b.s.Old))
}

// changes compares the table with Old, which for a table that was not
// configured is the driver's default as up found it.
func (b indirBack) changes(e *env) ([]report.Change, error) {
	cur, err := e.h.Ethtool.Indir(e.pf.Name)
	if err != nil {
		return nil, err
	}
	return change("rss.indir", IndirWords(cur), IndirWords(b.s.Old)), nil
}

// resets: a default table is reset also when it reads as the default
// already, since the configured flag may still be set by up's write.
func (b indirBack) resets() bool { return !b.s.Configured }

func (b indirBack) apply(_ context.Context, e *env) error {
	if !b.s.Configured {
		return e.h.Ethtool.SetIndir(e.pf.Name, nil)
	}
	if err := e.h.Ethtool.SetIndir(e.pf.Name, b.s.Old); err != nil {
		return fmt.Errorf("restore the RSS indirection table of %s (%s): %w", e.pf.Name, IndirWords(b.s.Old), err)
	}
	return nil
}

func (s *rssIndirStep) validate(int) error {
	if s.Queue >= maxQueueIndex {
		return fieldErr("queue", "queue %d is out of range 0..%d", s.Queue, maxQueueIndex-1)
	}
	for _, t := range []struct {
		name  string
		table []uint32
	}{{"want", s.Want}, {"old", s.Old}} {
		if len(t.table) == 0 || len(t.table) > 1<<16 {
			return fieldErr(t.name, "a table of %d entries (1..65536)", len(t.table))
		}
		if m := slices.Max(t.table); m >= maxQueueIndex {
			return fieldErr(t.name, "queue %d is out of range 0..%d", m, maxQueueIndex-1)
		}
	}
	if slices.Contains(s.Want, s.Queue) {
		return fieldErr("want", "the table still sends RSS traffic to the hidden queue %d", s.Queue)
	}
	return nil
}

// IndirWords writes a table exactly and compactly, each run of one queue
// as Q*N ("0*9 1*9 2*8", or "0 1 2 3 0 1 2 3" without runs).
func IndirWords(t []uint32) string {
	var w []string
	for i := 0; i < len(t); {
		n := 1
		for i+n < len(t) && t[i+n] == t[i] {
			n++
		}
		s := strconv.FormatUint(uint64(t[i]), 10)
		if n > 1 {
			s += "*" + strconv.Itoa(n)
		}
		w = append(w, s)
		i += n
	}
	return strings.Join(w, " ")
}
