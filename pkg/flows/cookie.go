package flows

import "fmt"

// Cookie is the ring_cookie that steers to queue of VF vf, where vf is the
// 0-based sysfs index (virtfnK). The kernel's VF field (bits 32-39) is
// 1-based, 0 meaning the PF, so Cookie stores (vf+1)<<32 | queue, exactly as
// ethtool's `vf N queue M` does; vf < 0 means a queue of the PF. vf must be
// at most 254 to fit the 8-bit field.
func Cookie(vf int, queue uint32) uint64 {
	if vf < 0 {
		return uint64(queue)
	}
	return uint64(vf+1)<<RingVFShift | uint64(queue)
}

// Target is where a ring_cookie sends matching packets.
type Target struct {
	Drop  bool   // RX_CLS_FLOW_DISC: packets are dropped
	VF    int    // 0-based VF index (virtfnK); -1 = the PF
	Queue uint32 // RX queue of the PF or of the VF
}

// DecodeCookie reads a ring_cookie as the kernel does: all ones drops,
// otherwise bits 32-39 are the VF field (0 = PF, K+1 = VF K) and bits 0-31
// the queue. Other bits are ignored, as the kernel's helpers ignore them.
func DecodeCookie(c uint64) Target {
	if c == RingDrop {
		return Target{Drop: true, VF: -1}
	}
	return Target{VF: int((c&RingVFMask)>>RingVFShift) - 1, Queue: uint32(c & RingQueueMask)}
}

// Cookie returns the ring_cookie for t.
func (t Target) Cookie() uint64 {
	if t.Drop {
		return RingDrop
	}
	return Cookie(t.VF, t.Queue)
}

// String is "drop", "PF queue 3" or "VF 0 queue 0".
func (t Target) String() string {
	switch {
	case t.Drop:
		return "drop"
	case t.VF < 0:
		return fmt.Sprintf("PF queue %d", t.Queue)
	}
	return fmt.Sprintf("VF %d queue %d", t.VF, t.Queue)
}
