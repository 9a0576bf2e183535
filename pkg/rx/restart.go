//go:build cgo && !nodpdk

package rx

/*
#include "vfbrx.h"
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// Restart is one restart of a port by Recover.
type Restart struct {
	// Reason is what made the restart due: "reset event" (the PMD's
	// RTE_ETH_EVENT_INTR_RESET) or "link down and up".
	Reason string
	// Took is how long the loop did not poll: halt, stop, start, relaunch.
	Took time.Duration
	// Count is the port's restarts so far, this one included.
	Count int
	// Again says the restart was slow, as when a VF's reset message goes
	// unanswered, and will be tried again once the link has settled.
	Again bool
}

// restartSettle is how long the link must have been up before a due
// restart runs: a PF's link can come up (autonegotiation) before the PF has
// its interrupts back (igb's __igb_open requests them after configuring),
// and a VF's reset message sent before then goes unanswered.
const restartSettle = 2 * time.Second

// restartSlow is how long a restart takes when the VF's reset message went
// unanswered: e1000_reset_hw_vf waits up to 1 s for the PF's ack
// (e1000_poll_for_ack, E1000_VF_MBX_INIT_TIMEOUT polls of 500 us), and
// igbvf_dev_start ignores the failure. Such a restart is tried again, at
// most restartTries times in a row.
const (
	restartSlow  = time.Second
	restartTries = 3
)

// restartState is what Recover remembers between calls, under Port.mu.
type restartState struct {
	resetsSeen uint32    // the reset events already acted on
	linkDown   bool      // the link was seen down since the last restart
	upSince    time.Time // when the link was first seen up again; zero while down
	pending    string    // why a restart is due; "" when none is
	tries      int       // slow restarts in a row
	count      int       // restarts done
	settle     time.Duration
}

// due takes the reset events counted so far and the link as vfb_link
// reads it (1 up, 0 down, negative: the PMD cannot tell, taken as up) at
// now, and says whether a restart is due: one was asked for and the link
// has been up for the settle time.
func (s *restartState) due(resets uint32, link int, now time.Time) bool {
	if resets != s.resetsSeen {
		// The PF pings its VFs as its reset begins, before its link
		// drops: the settle time counts from the event.
		s.resetsSeen, s.pending, s.upSince = resets, "reset event", now
	}
	if link == 0 {
		s.linkDown, s.upSince = true, time.Time{}
		return false
	}
	if s.upSince.IsZero() {
		s.upSince = now
	}
	if s.linkDown {
		s.linkDown = false
		if s.pending == "" {
			s.pending = "link down and up"
		}
	}
	return s.pending != "" && now.Sub(s.upSince) >= s.settle
}

// done records a restart that took took, ending at now: a slow one (see
// restartSlow) stays due and waits for the settle time again, at most
// restartTries times in a row. It says whether the restart is to be tried
// again.
func (s *restartState) done(took time.Duration, now time.Time) (again bool) {
	s.count++
	if took >= restartSlow && s.tries+1 < restartTries {
		s.tries++
		s.upSince = now
		return true
	}
	s.pending, s.tries = "", 0
	return false
}

// watchResets registers the port's RTE_ETH_EVENT_INTR_RESET callback,
// which counts the events in C memory; a port without it is restarted on
// link changes only (a warning says so).
func (p *Port) watchResets() {
	cnt := (*C.uint32_t)(p.eal.alloc(C.VFB_CACHE_LINE))
	if cnt == nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("port %s: reset events not watched: no memory for their counter", p.Name))
		return
	}
	var r C.int
	if err := p.eal.calling(func() error { r = C.vfb_watch_reset(C.uint16_t(p.ID), cnt); return nil }); err != nil || r != 0 {
		C.vfb_free(unsafe.Pointer(cnt))
		if r != 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("port %s: reset events not watched: rte_eth_dev_callback_register: %s", p.Name, strerror(int(-r))))
		}
		return
	}
	p.resets = cnt
}

// unwatchResets unregisters the reset callback and frees its counter;
// Close calls it under p.mu and the EAL's callMu, before closing the port.
func (p *Port) unwatchResets() {
	if p.resets == nil {
		return
	}
	C.vfb_unwatch_reset(C.uint16_t(p.ID), p.resets)
	C.vfb_free(unsafe.Pointer(p.resets))
	p.resets = nil
}

// Recover restarts the port when its device was reset under it: when the
// PMD raised a reset event (igbvf and ixgbevf raise RTE_ETH_EVENT_INTR_RESET
// when their PF resets, e.g. on ip link set PF down) or when the link was
// seen down and is up again since the last call. A due restart waits until
// the link has been up for 2 s: the PF answers a VF's reset message only
// once it is up again. The running loop is halted for the restart
// (rte_eth_dev_stop, then rte_eth_dev_start, which resets a VF and so has
// its PF enable its receive again) and relaunched on its lcores; its
// counters go on. Call it from the control side, often enough to see a
// link drop (rx calls it every 100 ms): it returns nil, nil when no restart
// was due. A failed restart is tried again after the settle time, and so is
// a slow one (Restart.Again), up to 3 in a row.
func (p *Port) Recover() (*Restart, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("port %s: %w", p.Name, ErrClosed)
	}
	var link C.int
	var resets uint32
	if err := p.eal.calling(func() error {
		link = C.vfb_link(C.uint16_t(p.ID))
		if p.resets != nil {
			resets = uint32(C.vfb_read_u32(p.resets))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("port %s: %w", p.Name, err)
	}
	if !p.rs.due(resets, int(link), time.Now()) {
		return nil, nil
	}
	start := time.Now()
	if err := p.restart(); err != nil {
		p.rs.upSince = time.Now() // tried again after the settle time
		return nil, fmt.Errorf("port %s: restart after a %s: %w", p.Name, p.rs.pending, err)
	}
	r := &Restart{Reason: p.rs.pending, Took: time.Since(start)}
	r.Again = p.rs.done(r.Took, time.Now())
	r.Count = p.rs.count
	return r, nil
}

// Restarts is the number of restarts Recover made.
func (p *Port) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rs.count
}

// restart halts the port's loop, stops and starts the port on the EAL
// thread, and relaunches the loop unless the start failed (the loop then
// stays halted until a restart succeeds or Stop). Under p.mu.
func (p *Port) restart() error {
	l := p.loop
	if l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.stop == nil { // stopped and freed meanwhile
			l = nil
		}
	}
	var rc C.int
	var msg [256]C.char
	return p.eal.calling(func() error {
		if l != nil {
			l.halt()
		}
		p.eal.run(func() { rc = C.vfb_port_restart(C.uint16_t(p.ID), &msg[0], C.int(len(msg))) })
		if rc != 0 {
			return &Error{Op: "restart", Errno: int(-rc), Msg: C.GoString(&msg[0])}
		}
		if l == nil {
			return nil
		}
		l.rearm()
		return l.launchJobs()
	})
}

// rearm readies a halted loop for launchJobs: the stop flag cleared, no
// lcore launched. Under l.mu.
func (l *Loop) rearm() {
	C.vfb_set_stop(l.stop, 0)
	l.workers, l.onMain, l.mainDone = nil, false, nil
}

// fakeReset counts one reset event as the PMD's callback would: a test
// hook for PMDs that never raise one (vdevs).
func (p *Port) fakeReset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resets != nil {
		C.vfb_add_u32(p.resets, 1)
	}
}

// setLink takes the port's link down or up (rte_eth_dev_set_link_down,
// _up): a test hook for vdevs that support it (net_ring).
func (p *Port) setLink(up bool) error {
	var r C.int
	u := C.int(0)
	if up {
		u = 1
	}
	if err := p.eal.calling(func() error { r = C.vfb_set_link(C.uint16_t(p.ID), u); return nil }); err != nil {
		return err
	}
	if r != 0 {
		return &Error{Op: "set link", Errno: int(-r), Msg: "rte_eth_dev_set_link_up/down: " + strerror(int(-r))}
	}
	return nil
}
