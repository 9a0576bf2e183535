package setup

import (
	"fmt"
	"strings"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// ModeReport is what doctor says of one bypass mode on a PF: whether the
// PF can run it, what it has and lacks for it, and what the mode costs the
// kernel in RSS queues.
type ModeReport struct {
	Mode      string   `json:"mode"`
	Supported bool     `json:"supported"`
	Has       []string `json:"has"`
	Lacks     []string `json:"lacks"`
	// KernelQueues is what RSS keeps for the kernel in this mode, e.g.
	// "4 of 16 RX queues".
	KernelQueues string `json:"kernel_queues"`
	Cost         string `json:"cost"`
}

// nativeXDPDriver reports whether a PCI network driver has driver-mode XDP
// (ndo_bpf with XDP_SETUP_PROG) in Linux 6.1; every driver has generic XDP.
func nativeXDPDriver(driver string) bool {
	switch driver {
	case "ixgbe", "igb", "igc", "i40e", "ice", "mlx5_core", "mlx4_core", "bnxt_en", "ena", "qede", "sfc", "nfp", "virtio-pci":
		return true
	}
	return false
}

// ModeReports describes vf and queue mode on pf and recommends one: queue
// mode when the PF can run it whole (it leaves the kernel all queues but
// one), else vf mode when it can, else none.
func ModeReports(h *host.Host, pf sriov.PF) ([]ModeReport, string) {
	p := probeQueue(h, pf)
	vf, queue := vfModeReport(pf, p), queueModeReport(pf, p)
	rec := ""
	switch {
	case queue.Supported:
		rec = ModeQueue
	case vf.Supported:
		rec = ModeVF
	}
	return []ModeReport{vf, queue}, rec
}

func vfModeReport(pf sriov.PF, p queueProbe) ModeReport {
	r := ModeReport{Mode: ModeVF, Has: []string{}, Lacks: []string{}}
	if pf.TotalVFs > 0 {
		r.Has = append(r.Has, fmt.Sprintf("SR-IOV (%d VFs max)", pf.TotalVFs))
	} else {
		r.Lacks = append(r.Lacks, "SR-IOV (no sriov_totalvfs)")
	}
	switch {
	case p.ntuple && pf.Driver == "ixgbe":
		r.Has = append(r.Has, "ntuple rules that target a VF (ixgbe)")
	case p.ntuple:
		r.Lacks = append(r.Lacks, fmt.Sprintf("ntuple rules that target a VF (built for ixgbe; %s does not promise them)", pf.Driver))
	default:
		r.Lacks = append(r.Lacks, "ntuple filters: "+p.ntupleWhy)
	}
	r.Supported = len(r.Lacks) == 0
	n := p.queues
	switch {
	case pf.NumVFs > 0:
		r.KernelQueues = fmt.Sprintf("%d RX queues now, with %d VFs on", n, pf.NumVFs)
	case pf.Driver == "ixgbe":
		r.KernelQueues = fmt.Sprintf("%d of %d RX queues (2 with more than 31 VFs)", min(n, 4), n)
	case pf.Driver == "igb":
		r.KernelQueues = fmt.Sprintf("%d of %d RX queues", min(n, 2), n)
	default:
		r.KernelQueues = fmt.Sprintf("fewer than %d RX queues (the driver's SR-IOV layout)", n)
	}
	r.Cost = "enabling SR-IOV resets the PF (its link drops) and shrinks its RSS to one VF pool's queues; the VF gets the flows whole, on its own PCI function (DPDK, vfio-pci)"
	return r
}

func queueModeReport(pf sriov.PF, p queueProbe) ModeReport {
	r := ModeReport{Mode: ModeQueue, Has: []string{}, Lacks: []string{}}
	switch {
	case p.noTable():
		r.Lacks = append(r.Lacks, "an RSS indirection table (ETHTOOL_GRXFHINDIR: not supported)")
	case p.tableErr != nil:
		r.Lacks = append(r.Lacks, "a readable RSS indirection table: "+p.tableErr.Error())
	default:
		r.Has = append(r.Has, fmt.Sprintf("a %d-entry RSS indirection table", len(p.table)))
	}
	if p.queues >= 2 {
		r.Has = append(r.Has, fmt.Sprintf("%d RX queues", p.queues))
	} else {
		r.Lacks = append(r.Lacks, fmt.Sprintf("a second RX queue (%d now: ethtool -L %s combined 2)", p.queues, pf.Name))
	}
	if p.ntuple {
		r.Has = append(r.Has, "ntuple filters to steer flows into the hidden queue")
	} else {
		r.Lacks = append(r.Lacks, "ntuple filters to steer flows into the hidden queue: "+p.ntupleWhy)
	}
	switch b := p.nativeXDPBlockers(); {
	case !nativeXDPDriver(pf.Driver):
		r.Has = append(r.Has, "generic (copy) XDP only: "+pf.Driver+" has no native XDP")
	case len(b) > 0:
		fix := "up switches LRO off"
		if pf.NumVFs > 0 {
			fix = fmt.Sprintf("'vfbypass down %s' removes the VFs, or accept --xdp-mode generic; up switches LRO off", pf.Name)
		}
		r.Has = append(r.Has, fmt.Sprintf("native XDP (%s), refused while %s (ixgbe_xdp_setup): %s", pf.Driver, strings.Join(b, " and "), fix))
	default:
		r.Has = append(r.Has, "native XDP ("+pf.Driver+")")
	}
	r.Supported = len(r.Lacks) == 0
	if p.queues >= 2 {
		r.KernelQueues = fmt.Sprintf("%d of %d RX queues", p.queues-1, p.queues)
	}
	r.Cost = "one RX queue leaves RSS (the PF keeps its link, no reset on most drivers; ixgbe resets once for ntuple/LRO and again when the XDP program attaches); the flows are received by AF_XDP on the PF itself"
	return r
}
