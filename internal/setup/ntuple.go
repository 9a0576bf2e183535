package setup

import (
	"context"

	"github.com/vfbypass/vfbypass/internal/report"
)

var _ journaled = (*ntupleStep)(nil)

// ntupleStep switches the PF's ntuple filters on and records whether they
// were.
type ntupleStep struct {
	Old bool `json:"old"`
}

func (s *ntupleStep) id() string { return string(KindNtuple) }

func (s *ntupleStep) kind() StepKind { return KindNtuple }

func (s *ntupleStep) describe(e *env) string {
	d := ntupleFeature(true).describe(e)
	if e.pf.Driver == "ixgbe" {
		// ixgbe_set_features: a change of NETIF_F_NTUPLE means ixgbe_do_reset.
		d += "; ixgbe resets the PF for it: its link drops for a moment"
	}
	return d
}

func (s *ntupleStep) changes(e *env) ([]report.Change, error) { return ntupleFeature(true).changes(e) }

func (s *ntupleStep) record(e *env) error {
	on, err := ntupleFeature(true).read(e)
	s.Old = on
	return err
}

func (s *ntupleStep) keep(old journaled, _ *env) error {
	o, err := earlier[*ntupleStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}

func (s *ntupleStep) apply(ctx context.Context, e *env) error {
	return ntupleFeature(true).apply(ctx, e)
}

// back is ntuple as it was before the first up.
func (s *ntupleStep) back() target { return ntupleFeature(s.Old) }

func (s *ntupleStep) validate(int) error { return nil }
