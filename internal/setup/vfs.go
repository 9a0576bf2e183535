package setup

import (
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
)

// VFReports is the PF's VFs as every command reports them in
// report.Common.VFs (docs/json.md: the PF's VFs after the command); nil
// when the PF cannot be read.
func VFReports(h *host.Host, pf string) []report.VF { return vfReports(h, pf) }
