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

// back unloads the module when up loaded it, unless a device is bound to
// it then (moduleBack's hold).
func (s *moduleStep) back() target {
	if s.WasLoaded {
		return leave("leave kernel module " + s.Name + " loaded (it was before up)")
	}
	return moduleBack{s.Name}
}

// moduleBack is a module up loaded, unloaded again.
type moduleBack struct{ name string }

func (b moduleBack) describe(*env) string {
	return "unload kernel module " + b.name + " (unless another device is bound to it)"
}

func (b moduleBack) changes(e *env) ([]report.Change, error) {
	return change("module."+b.name, loaded(e.h.Modules.Loaded(b.name)), loaded(false)), nil
}

// hold leaves the module loaded while a device is bound to it.
func (b moduleBack) hold(e *env) (bool, error) {
	bound, err := vfio.BoundDevices(e.h.FS, b.name)
	return len(bound) > 0, err
}

func (b moduleBack) apply(_ context.Context, e *env) error { return e.h.Modules.Unload(b.name) }

func (s *moduleStep) validate(int) error { return checkDriver("name", s.Name, false) }

func loaded(on bool) string {
	if on {
		return "loaded"
	}
	return "not loaded"
}
