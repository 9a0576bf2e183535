package setup

import (
	"context"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

var _ journaled = (*moduleStep)(nil)

// moduleStep loads a kernel module (vfio-pci) and records whether it was
// loaded.
type moduleStep struct {
	Name      string `json:"name"`
	WasLoaded bool   `json:"was_loaded"`
}

func (s *moduleStep) id() string { return "module-" + s.Name }

func (s *moduleStep) kind() StepKind { return KindModule }

func (s *moduleStep) describe(e *env) string { return "load kernel module " + s.Name }

func (s *moduleStep) changes(e *env) ([]report.Change, error) {
	return change("module."+s.Name, loaded(e.h.Modules.Loaded(s.Name)), loaded(true)), nil
}

func (s *moduleStep) record(e *env) error {
	s.WasLoaded = e.h.Modules.Loaded(s.Name)
	return nil
}

func (s *moduleStep) keep(old journaled, _ *env) error {
	o, err := earlier[*moduleStep](old)
	if err != nil {
		return err
	}
	s.WasLoaded = o.WasLoaded
	return nil
}

func (s *moduleStep) apply(_ context.Context, e *env) error {
	if err := e.h.Modules.Load(s.Name); err != nil {
		return err
	}
	if !e.h.Modules.Loaded(s.Name) {
		return fmt.Errorf("module %s: loaded, but /sys/module shows no such module", s.Name)
	}
	return nil
}

// undo unloads the module only when this run loaded it and no device is
// bound to it any more.
func (s *moduleStep) undo(_ context.Context, e *env) (bool, error) {
	if s.WasLoaded || !e.h.Modules.Loaded(s.Name) {
		return false, nil
	}
	bound, err := vfio.BoundDevices(e.h.FS, s.Name)
	if err != nil || len(bound) > 0 {
		return false, err // still in use by another device: leave it loaded
	}
	return true, e.h.Modules.Unload(s.Name)
}

func (s *moduleStep) restores(e *env) []report.Change {
	if s.WasLoaded {
		return nil
	}
	return change("module."+s.Name, loaded(e.h.Modules.Loaded(s.Name)), loaded(false))
}

func (s *moduleStep) describeUndo(*env) string {
	if s.WasLoaded {
		return "leave kernel module " + s.Name + " loaded (it was before up)"
	}
	return "unload kernel module " + s.Name + " (unless another device is bound to it)"
}

func (s *moduleStep) validate(int) error { return checkDriver("name", s.Name, false) }

func loaded(on bool) string {
	if on {
		return "loaded"
	}
	return "not loaded"
}
