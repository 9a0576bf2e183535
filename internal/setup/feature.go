package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
)

// featureTarget is an ethtool feature of the PF at a value: the ntuple
// and lro steps converge to one in up, and back to the journaled value in
// down, by the same read, compare and write.
type featureTarget struct {
	// name is the kernel's feature name (host.NtupleFeature); field is
	// the diff's field and ethtool -K's word for it; label is its name in
	// sentences.
	name, field, label string
	want               bool
	// stuck, when set, is why the driver may keep the feature as it is
	// without an error: apply reads it back and fails with stuck then.
	stuck string
}

func ntupleFeature(on bool) featureTarget {
	return featureTarget{name: host.NtupleFeature, field: "ntuple", label: "ntuple filters", want: on}
}

func lroFeature(on bool) featureTarget {
	return featureTarget{name: host.LROFeature, field: "lro", label: "LRO", want: on}
}

func (t featureTarget) read(e *env) (bool, error) {
	on, _, err := e.h.Ethtool.Feature(e.pf.Name, t.name)
	return on, err
}

func (t featureTarget) describe(e *env) string {
	return fmt.Sprintf("switch %[1]s %[2]s (ethtool -K %[3]s %[4]s %[2]s)", t.label, report.OnOff(t.want), e.pf.Name, t.field)
}

func (t featureTarget) changes(e *env) ([]report.Change, error) {
	on, err := t.read(e)
	if err != nil {
		return nil, err
	}
	return change(t.field, report.OnOff(on), report.OnOff(t.want)), nil
}

func (t featureTarget) apply(_ context.Context, e *env) error {
	if err := e.h.Ethtool.SetFeature(e.pf.Name, t.name, t.want); err != nil || t.stuck == "" {
		return err
	}
	on, err := t.read(e)
	if err == nil && on != t.want {
		err = fmt.Errorf("%s of %s stays %s: %s", t.label, e.pf.Name, report.OnOff(on), t.stuck)
	}
	return err
}
