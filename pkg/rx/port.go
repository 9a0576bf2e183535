//go:build cgo && !nodpdk

package rx

/*
#include <stdlib.h>
#include <rte_lcore.h>
#include "vfbrx.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"
)

// Port is an ethdev port set up for receiving: configured, its queues and
// mempool created, started.
type Port struct {
	// ID is DPDK's port id.
	ID uint16
	// Name is the device name ("0000:04:10.1", "net_null0").
	Name string
	// Driver is the PMD's name ("net_null", "net_e1000_igb_vf").
	Driver string
	// RxQueues and TxQueues are the queues configured; RxDesc the RX ring size.
	RxQueues, TxQueues, RxDesc int
	// Mbufs is the mempool size.
	Mbufs int
	// Warnings says what was asked but could not be done (e.g. promiscuous
	// mode on a PMD without it).
	Warnings []string

	eal    *EAL
	pool   unsafe.Pointer
	stats  *C.struct_vfb_qstats // RxQueues entries, C memory
	mu     sync.Mutex
	loop   *Loop
	lcores []int // per RX queue, the lcore of the last loop started
	closed bool
	// resets is the count of the PMD's reset events (C memory the
	// callback writes); nil when the PMD refused the callback.
	resets *C.uint32_t
	rs     restartState
}

// OpenPort sets up the port EAL made for name (a PCI address or a vdev name)
// as cfg says and starts it. A set-up that fails once the port is configured
// stops and closes the port before freeing its mempool; DPDK then releases
// the port, so it cannot be opened again in this process.
func (e *EAL) OpenPort(name string, cfg PortConfig) (*Port, error) {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("port %s: %w", name, err)
	}
	id, err := e.PortID(name)
	if err != nil {
		return nil, err
	}
	p := &Port{ID: id, Name: name, eal: e, RxQueues: c.RxQueues, TxQueues: c.TxQueues, Mbufs: c.Mbufs, rs: restartState{settle: restartSettle}}
	pc := C.struct_vfb_port_cfg{
		rxq:     C.uint16_t(c.RxQueues),
		txq:     C.uint16_t(c.TxQueues),
		rxd:     C.uint16_t(c.RxDesc),
		mbufs:   C.uint32_t(c.Mbufs),
		cache:   C.uint32_t(c.MbufCache),
		promisc: -1,
	}
	if c.Promisc != nil {
		pc.promisc = 0
		if *c.Promisc {
			pc.promisc = 1
		}
	}
	// The counters are allocated before the port starts, so that nothing
	// can fail between its start and its handing over to the caller (a
	// started port left behind would keep receiving into its pool).
	p.stats = (*C.struct_vfb_qstats)(e.alloc(uintptr(c.RxQueues) * unsafe.Sizeof(C.struct_vfb_qstats{})))
	if p.stats == nil {
		return nil, fmt.Errorf("port %s: allocate counters: %w", name, syscall.ENOMEM)
	}
	var rc C.int
	var msg [256]C.char
	if err := e.do(func() { rc = C.vfb_port_setup(C.uint16_t(id), &pc, &msg[0], C.int(len(msg))) }); err != nil {
		C.vfb_free(unsafe.Pointer(p.stats))
		return nil, err
	}
	p.Driver = C.GoString(&pc.driver[0])
	if rc != 0 {
		C.vfb_free(unsafe.Pointer(p.stats))
		derr := &Error{Op: "port set-up", Errno: int(-rc), Msg: C.GoString(&msg[0])}
		if errors.Is(derr, syscall.ENOMEM) {
			return nil, fmt.Errorf("port %s (%s, id %d): %w (%d mbufs, %d per RX ring; with --no-huge give EAL more memory with -m, or fewer mbufs)",
				name, p.Driver, id, derr, c.Mbufs, int(pc.rxd_used))
		}
		return nil, fmt.Errorf("port %s (%s, id %d): %w", name, p.Driver, id, derr)
	}
	p.TxQueues = int(pc.txq)
	p.RxDesc = int(pc.rxd_used)
	p.pool = pc.pool
	p.watchResets()
	if pc.promisc_result != 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("port %s (%s): promiscuous mode not changed: %s", name, p.Driver, strerror(int(-pc.promisc_result))))
	}
	if need := c.RxQueues*p.RxDesc + 32; need > c.Mbufs {
		p.Warnings = append(p.Warnings, fmt.Sprintf("port %s: %d mbufs for %d RX descriptors: the rings cannot all be filled; raise --mbufs", name, c.Mbufs, c.RxQueues*p.RxDesc))
	}
	e.mu.Lock()
	e.ports = append(e.ports, p)
	e.mu.Unlock()
	return p, nil
}

// Counters returns the per-queue counters, read while the loop runs.
func (p *Port) Counters() []QueueCounters {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stats == nil {
		return nil
	}
	qs := unsafe.Slice(p.stats, p.RxQueues)
	out := make([]QueueCounters, p.RxQueues)
	var v [6]C.uint64_t
	for i := range qs {
		C.vfb_read_qstats(&qs[i], &v[0])
		out[i] = QueueCounters{Queue: i, Lcore: -1, Packets: uint64(v[0]), Bytes: uint64(v[1]), Bursts: uint64(v[2]),
			EmptyPolls: uint64(v[3]), MatchPackets: uint64(v[4]), MatchBytes: uint64(v[5])}
		if p.lcores != nil {
			out[i].Lcore = p.lcores[i]
		}
	}
	return out
}

// Stats reads the port's ethdev counters (rte_eth_stats_get) without
// stopping the loop. It holds the port's lock, as Close does, so it never
// reads a port being stopped or closed.
func (p *Port) Stats() (PortStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return PortStats{}, fmt.Errorf("port %s: %w", p.Name, ErrClosed)
	}
	var s C.struct_vfb_port_stats
	var r C.int
	if err := p.eal.calling(func() error { r = C.vfb_port_stats(C.uint16_t(p.ID), &s); return nil }); err != nil {
		return PortStats{}, fmt.Errorf("port %s: %w", p.Name, err)
	}
	if r != 0 {
		return PortStats{}, fmt.Errorf("port %s: %w", p.Name, &Error{Op: "rte_eth_stats_get", Errno: int(-r), Msg: "rte_eth_stats_get: " + strerror(int(-r))})
	}
	return PortStats{IPackets: uint64(s.ipackets), IBytes: uint64(s.ibytes), IMissed: uint64(s.imissed),
		IErrors: uint64(s.ierrors), RxNoMbuf: uint64(s.rx_nombuf)}, nil
}

// Close stops the port's loop if it runs, then stops and closes the port and
// frees its mempool, holding the port's lock (Stats waits). Counters read
// as zero afterwards.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	l := p.loop
	p.mu.Unlock()
	var first error
	if l != nil {
		first = l.Stop() // takes p.mu itself
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed { // a concurrent Close got here first
		return first
	}
	var rc C.int
	var msg [256]C.char
	if err := p.eal.do(func() {
		p.unwatchResets()
		rc = C.vfb_port_stop_close(C.uint16_t(p.ID), p.pool, &msg[0], C.int(len(msg)))
	}); err != nil {
		return err
	}
	p.closed = true
	C.vfb_free(unsafe.Pointer(p.stats))
	p.stats = nil
	if rc != 0 && first == nil {
		first = fmt.Errorf("close port %s: %w", p.Name, &Error{Op: "close", Errno: int(-rc), Msg: C.GoString(&msg[0])})
	}
	return first
}

// Loop is a running receive loop: one C polling function per lcore.
type Loop struct {
	port       *Port
	stop       *C.uint32_t
	jobs       []*C.struct_vfb_job
	workers    []int // worker lcores launched
	onMain     bool
	mainDone   chan struct{}
	queueLcore []int
	lcores     []int // per job, its lcore
	stopOnce   sync.Once
	stopErr    error
	// mu orders a restart's halt and relaunch (Port.Recover, under
	// Port.mu) against Stop's halt; Stop never holds it while taking
	// Port.mu. Lock order: Port.mu, Loop.mu, the EAL's callMu.
	mu sync.Mutex
	// Warnings says where the lcores given do not fit the queues.
	Warnings []string
}

// Start launches the receive loop on the port's queues: on worker lcores with
// rte_eal_remote_launch, and on the main lcore (the EAL thread) when it is
// among lc.Lcores or there is no worker. Queues are dealt to lcores
// round-robin.
func (p *Port) Start(lc LoopConfig) (*Loop, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("port %s: %w", p.Name, ErrClosed)
	}
	if p.loop != nil {
		return nil, fmt.Errorf("port %s: a loop runs already", p.Name)
	}
	burst := lc.Burst
	if burst <= 0 {
		burst = 32
	}
	if burst > C.VFB_MAX_BURST {
		return nil, fmt.Errorf("port %s: burst %d: at most %d", p.Name, burst, C.VFB_MAX_BURST)
	}
	var l *Loop
	err := p.eal.calling(func() error {
		var err error
		l, err = p.start(lc, burst)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, fmt.Errorf("port %s: %w", p.Name, err)
		}
		return nil, err
	}
	p.loop = l
	p.lcores = l.queueLcore
	return l, nil
}

// start is Start under p.mu and the EAL's callMu: it checks the lcores,
// makes one job per lcore and launches them.
func (p *Port) start(lc LoopConfig, burst int) (*Loop, error) {
	lcores, err := p.loopLcores(lc.Lcores)
	if err != nil {
		return nil, err
	}
	l := &Loop{port: p, queueLcore: make([]int, p.RxQueues)}
	if len(lcores) > p.RxQueues {
		l.Warnings = append(l.Warnings, fmt.Sprintf("%d lcores for %d RX queues: lcores %v stay idle", len(lcores), p.RxQueues, lcores[p.RxQueues:]))
		lcores = lcores[:p.RxQueues]
	} else if len(lcores) < p.RxQueues {
		l.Warnings = append(l.Warnings, fmt.Sprintf("%d RX queues on %d lcores: each lcore polls several queues; give %d lcores for one each", p.RxQueues, len(lcores), p.RxQueues))
	}
	if err := l.makeJobs(lcores, burst, cMatch(lc.Match)); err != nil {
		return nil, err
	}
	l.lcores = lcores
	if err := l.launch(); err != nil {
		return nil, err
	}
	return l, nil
}

// loopLcores are the lcores asked for (default: the workers, else the main
// lcore), each one EAL was given, none twice.
func (p *Port) loopLcores(asked []int) ([]int, error) {
	e := p.eal
	lcores := asked
	if len(lcores) == 0 {
		lcores = e.WorkerLcores()
		if len(lcores) == 0 {
			lcores = []int{e.main}
		}
	}
	seen := map[int]bool{}
	for _, l := range lcores {
		if l < 0 || l >= C.RTE_MAX_LCORE || C.rte_lcore_is_enabled(C.uint(l)) == 0 {
			return nil, fmt.Errorf("port %s: lcore %d is not one EAL was given (main %d, workers %v)", p.Name, l, e.main, e.workers)
		}
		if seen[l] {
			return nil, fmt.Errorf("port %s: lcore %d given twice", p.Name, l)
		}
		seen[l] = true
	}
	return lcores, nil
}

// cMatch is the loop's packet filter in C's form (IPv4 addresses in host
// byte order); disabled for nil.
func cMatch(f *Flow) C.struct_vfb_match {
	var match C.struct_vfb_match
	if f == nil {
		return match
	}
	match.enabled = 1
	match.proto = C.uint8_t(f.Proto)
	if f.Dst.IsValid() {
		b := f.Dst.As4()
		match.dst_ip = C.uint32_t(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	if f.Src.IsValid() {
		b := f.Src.As4()
		match.src_ip = C.uint32_t(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	match.dst_port = C.uint16_t(f.DstPort)
	match.src_port = C.uint16_t(f.SrcPort)
	return match
}

// makeJobs allocates the stop flag and one job per lcore, dealing the
// port's queues to them round-robin.
func (l *Loop) makeJobs(lcores []int, burst int, match C.struct_vfb_match) error {
	p, e := l.port, l.port.eal
	l.stop = (*C.uint32_t)(e.alloc(C.VFB_CACHE_LINE))
	if l.stop == nil {
		return fmt.Errorf("port %s: allocate stop flag: %w", p.Name, syscall.ENOMEM)
	}
	for i, lcore := range lcores {
		j := (*C.struct_vfb_job)(e.alloc(unsafe.Sizeof(C.struct_vfb_job{})))
		if j == nil {
			l.free()
			return fmt.Errorf("port %s: allocate loop: %w", p.Name, syscall.ENOMEM)
		}
		j.port = C.uint16_t(p.ID)
		j.burst = C.uint16_t(burst)
		j.stats = p.stats
		j.stop = l.stop
		j.match = match
		for q := i; q < p.RxQueues; q += len(lcores) {
			j.queues[j.nq] = C.uint16_t(q)
			j.nq++
			l.queueLcore[q] = lcore
		}
		l.jobs = append(l.jobs, j)
	}
	return nil
}

// launch starts each job on its lcore; on a failure it stops those started
// and frees the jobs.
func (l *Loop) launch() error {
	if err := l.launchJobs(); err != nil {
		l.free()
		return err
	}
	return nil
}

// launchJobs starts each job on its lcore (l.lcores); on a failure it
// stops those started and leaves the jobs allocated.
func (l *Loop) launchJobs() error {
	p, e := l.port, l.port.eal
	for i, lcore := range l.lcores {
		j := l.jobs[i]
		if lcore == e.main {
			if err := l.launchOnMain(j); err != nil {
				l.halt()
				return fmt.Errorf("port %s: %w", p.Name, err)
			}
			continue
		}
		if r := C.vfb_launch(j, C.uint(lcore)); r != 0 {
			l.halt()
			return fmt.Errorf("port %s: launch on lcore %d: %w", p.Name, lcore, &Error{Op: "rte_eal_remote_launch", Errno: int(-r), Msg: "rte_eal_remote_launch: " + strerror(int(-r))})
		}
		l.workers = append(l.workers, lcore)
	}
	return nil
}

// launchOnMain hands job j to the EAL thread (the main lcore), which runs
// the loop until the stop flag is set; one loop at a time. It runs under
// the EAL's callMu (from start), so the call channel is open.
func (l *Loop) launchOnMain(j *C.struct_vfb_job) error {
	e := l.port.eal
	e.mu.Lock()
	busy := e.mainBusy
	e.mainBusy = true
	e.mu.Unlock()
	if busy {
		return fmt.Errorf("the main lcore %d polls another port already", e.main)
	}
	done := make(chan struct{})
	e.calls <- func() {
		C.vfb_rx_loop(unsafe.Pointer(j))
		e.mu.Lock()
		e.mainBusy = false
		e.mu.Unlock()
		close(done)
	}
	l.onMain, l.mainDone = true, done
	return nil
}

// Lcores returns, per RX queue, the lcore polling it.
func (l *Loop) Lcores() []int { return append([]int(nil), l.queueLcore...) }

// Stop sets the stop flag and waits until every lcore has left the loop. The
// counters keep their final values until the port is closed.
func (l *Loop) Stop() error {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.halt()
		l.free()
		l.mu.Unlock()
		l.port.mu.Lock()
		l.port.loop = nil
		l.port.mu.Unlock()
	})
	return l.stopErr
}

func (l *Loop) halt() {
	C.vfb_set_stop(l.stop, 1)
	for _, w := range l.workers {
		if r := C.vfb_wait(C.uint(w)); r != 0 && l.stopErr == nil {
			l.stopErr = fmt.Errorf("port %s: loop on lcore %d returned %d", l.port.Name, w, int(r))
		}
	}
	if l.onMain {
		<-l.mainDone
	}
}

func (l *Loop) free() {
	for _, j := range l.jobs {
		C.vfb_free(unsafe.Pointer(j))
	}
	l.jobs = nil
	C.vfb_free(unsafe.Pointer(l.stop))
	l.stop = nil
}
