package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
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
	d := fmt.Sprintf("switch ntuple filters on (ethtool -K %s ntuple on)", e.pf.Name)
	if e.pf.Driver == "ixgbe" {
		// ixgbe_set_features: a change of NETIF_F_NTUPLE means ixgbe_do_reset.
		d += "; ixgbe resets the PF for it: its link drops for a moment"
	}
	return d
}

func (s *ntupleStep) changes(e *env) ([]report.Change, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return nil, err
	}
	return change("ntuple", onOff(on), "on"), nil
}

func (s *ntupleStep) record(e *env) error {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
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

func (s *ntupleStep) apply(_ context.Context, e *env) error {
	return e.h.Ethtool.SetFeature(e.pf.Name, host.NtupleFeature, true)
}

func (s *ntupleStep) undo(_ context.Context, e *env) (bool, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return false, err
	}
	if on == s.Old {
		return false, nil
	}
	return true, e.h.Ethtool.SetFeature(e.pf.Name, host.NtupleFeature, s.Old)
}

func (s *ntupleStep) restores(e *env) []report.Change {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.NtupleFeature)
	if err != nil {
		return nil
	}
	return change("ntuple", onOff(on), onOff(s.Old))
}

func (s *ntupleStep) describeUndo(e *env) string {
	return fmt.Sprintf("switch ntuple filters %[1]s (ethtool -K %[2]s ntuple %[1]s)", onOff(s.Old), e.pf.Name)
}

func (s *ntupleStep) validate(int) error { return nil }
