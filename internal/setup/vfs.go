package setup

import (
	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/report"
	"github.com/vfbypass/vfbypass/internal/sriov"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// VFReports is the PF's VFs as every command reports them in
// report.Common.VFs (docs/json.md: the PF's VFs after the command); nil
// when the PF cannot be read.
func VFReports(h *host.Host, pf string) []report.VF { return vfReports(h, pf) }

// vfReports describes the PF's current VFs, with their rtnetlink settings.
func vfReports(h *host.Host, pf string) []report.VF {
	vfs, err := sriov.ListVFs(h.FS, pf)
	if err != nil {
		return nil
	}
	infos := map[int]host.VFInfo{}
	if l, err := h.Links.VFs(pf); err == nil {
		for _, i := range l {
			infos[i.Index] = i
		}
	}
	out := make([]report.VF, 0, len(vfs))
	for _, v := range vfs {
		r := report.VF{Index: v.Index, Address: v.Address, Driver: v.Driver, IOMMUGroup: v.IOMMUGroup, Netdev: v.Netdev}
		if v.Driver == vfio.Driver && v.IOMMUGroup != "" {
			r.VFIODevice = vfio.DeviceNode(h.FS, v.IOMMUGroup)
		}
		if i, ok := infos[v.Index]; ok {
			if i.MAC != nil {
				r.MAC = i.MAC.String()
			}
			r.VLAN, r.QoS, r.Trust, r.Spoofchk = i.VLAN, i.QoS, i.Trust, i.Spoofchk
		}
		out = append(out, r)
	}
	return out
}
