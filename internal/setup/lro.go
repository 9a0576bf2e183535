package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
)

var _ journaled = (*lroStep)(nil)

// lroStep switches large receive offload off: ixgbe_xdp_setup refuses a
// native XDP program while RSC is on, and generic XDP would switch it off
// itself (dev_disable_lro), unjournaled.
type lroStep struct {
	Old bool `json:"old"`
}

func (s *lroStep) id() string { return string(KindLRO) }

func (s *lroStep) kind() StepKind { return KindLRO }

func (s *lroStep) describe(e *env) string {
	return fmt.Sprintf("switch LRO off (ethtool -K %s lro off), which XDP needs", e.pf.Name)
}

func (s *lroStep) changes(e *env) ([]report.Change, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.LROFeature)
	if err != nil {
		return nil, err
	}
	return change("lro", onOff(on), "off"), nil
}

func (s *lroStep) record(e *env) error {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.LROFeature)
	s.Old = on
	return err
}

func (s *lroStep) keep(old journaled, _ *env) error {
	o, err := earlier[*lroStep](old)
	if err != nil {
		return err
	}
	s.Old = o.Old
	return nil
}

func (s *lroStep) apply(_ context.Context, e *env) error {
	return e.h.Ethtool.SetFeature(e.pf.Name, host.LROFeature, false)
}

// undo checks that LRO came back: a driver may keep it off without an
// error (ixgbe_fix_features while an XDP program is attached).
func (s *lroStep) undo(_ context.Context, e *env) (bool, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.LROFeature)
	if err != nil || on == s.Old {
		return false, err
	}
	if err := e.h.Ethtool.SetFeature(e.pf.Name, host.LROFeature, s.Old); err != nil {
		return true, err
	}
	if on, _, err = e.h.Ethtool.Feature(e.pf.Name, host.LROFeature); err == nil && on != s.Old {
		err = fmt.Errorf("LRO of %s stays %s: the driver keeps it so while an XDP program is attached (stop 'vfbypass rx --queue' and run down again)", e.pf.Name, onOff(on))
	}
	return true, err
}

func (s *lroStep) restores(e *env) []report.Change {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, host.LROFeature)
	if err != nil {
		return nil
	}
	return change("lro", onOff(on), onOff(s.Old))
}

func (s *lroStep) describeUndo(e *env) string {
	return fmt.Sprintf("switch LRO %[1]s (ethtool -K %[2]s lro %[1]s)", onOff(s.Old), e.pf.Name)
}

func (s *lroStep) validate(int) error { return nil }
