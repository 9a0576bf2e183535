package steer

import (
	"errors"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

// warnDropRules warns, on ixgbe with VFs, when drop rules (action -1) do
// not drop: their hardware queue, IXGBE_FDIR_DROP_QUEUE (127), is then one
// of the PF's rings, and the flow reaches the kernel there.
func (e *env) warnDropRules(items []*item, res *Result) {
	r := ixgbeDropRing(e.numVFs, e.qpp)
	if !e.ixgbe || r < 0 {
		return
	}
	for _, it := range items {
		if flows.DecodeCookie(it.spec.RingCookie).Drop {
			res.Warn("action -1 on %s does not drop with %d VFs: ixgbe sends drop rules to hardware queue %d (IXGBE_FDIR_DROP_QUEUE), which is now PF queue %d, so the flow reaches the kernel on that queue", e.pf, e.numVFs, ixgbeDropQueue, r)
			return
		}
	}
}

// warnSharedQueues warns about each PF queue the batch targets that still
// receives RSS traffic: the kernel's indirection table is the observable
// truth of whether the queue is hidden (vfbypass up PF --mode queue takes
// it out of the table), so the steered flows would share it with whatever
// the hash spreads there.
func warnSharedQueues(h *host.Host, pf string, items []*item, res *Result) {
	var table []uint32
	var readErr error
	seen := map[uint32]bool{}
	for _, it := range items {
		t := flows.DecodeCookie(it.spec.RingCookie)
		if t.Drop || t.VF >= 0 || seen[t.Queue] {
			continue
		}
		seen[t.Queue] = true
		if table == nil && readErr == nil {
			table, readErr = h.Ethtool.Indir(pf)
		}
		switch {
		case errors.Is(readErr, flows.ErrNotSupported):
			res.Warn("%s has no RSS indirection table to read, so whether PF queue %d also receives RSS traffic cannot be told", pf, t.Queue)
			return
		case readErr != nil:
			res.Warn("cannot tell whether PF queue %d also receives RSS traffic: %v", t.Queue, readErr)
			return
		}
		n := 0
		for _, q := range table {
			if q == t.Queue {
				n++
			}
		}
		if n > 0 {
			res.Warn("queue %d also receives RSS traffic: %d of the %d entries of %s's RSS indirection table point at it, so the steered flows share it with the kernel's traffic ('vfbypass up %s --mode queue --queue %d' takes it out of RSS)",
				t.Queue, n, len(table), pf, pf, t.Queue)
		}
	}
}
