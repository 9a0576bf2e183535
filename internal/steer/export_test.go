package steer

import (
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// DriverRefusal is the precheck's driver verdict on fs (at fs.Location)
// for pf's table as it is now: refused is nil when the precheck expects
// the driver to take the rule.
func DriverRefusal(h *host.Host, pf string, fs flows.FlowSpec) (refused error, err error) {
	e, err := open(h, pf, true, nil, nil)
	if err != nil {
		return nil, err
	}
	defer e.close()
	return e.driverRefusal("the rule", "FT", fs, true, nil), nil
}

// StoredForm is the precheck's prediction of fs as pf's driver reports it
// back once inserted.
func StoredForm(h *host.Host, pf string, fs flows.FlowSpec) (flows.FlowSpec, error) {
	e, err := open(h, pf, false, nil, nil)
	if err != nil {
		return fs, err
	}
	defer e.close()
	return e.stored(fs), nil
}
