package setup

import (
	"context"

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
	return lroFeature(false).describe(e) + ", which XDP needs"
}

func (s *lroStep) changes(e *env) ([]report.Change, error) { return lroFeature(false).changes(e) }

func (s *lroStep) record(e *env) error {
	on, err := lroFeature(false).read(e)
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

func (s *lroStep) apply(ctx context.Context, e *env) error {
	return lroFeature(false).apply(ctx, e)
}

// back is LRO as it was before the first up. A driver may keep it off
// without an error (ixgbe_fix_features while an XDP program is attached):
// the target checks that it came back.
func (s *lroStep) back() target {
	t := lroFeature(s.Old)
	t.stuck = "the driver keeps it so while an XDP program is attached (stop 'vfbypass rx --queue' and run down again)"
	return t
}

func (s *lroStep) validate(int) error { return nil }
