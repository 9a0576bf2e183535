//go:build cgo && !nodpdk

package rx

/*
#cgo pkg-config: libdpdk
#cgo CFLAGS: -O2 -Wall
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include "vfbrx.h"
*/
import "C"

import (
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// Available reports whether this build has DPDK.
const Available = true

// ealTried is the once-guard EAL forces on the process (see the package
// documentation): rte_eal_init must not be called twice.
var ealTried struct {
	sync.Mutex
	done bool
}

// EAL is the initialised DPDK environment of this process. All EAL and
// ethdev control calls (init, set-up, start, stop, close, cleanup) run on one
// OS thread that Go keeps locked: the thread rte_eal_init turned into the
// main lcore. Counters and port statistics are read from any goroutine.
// InitEAL also moves the Go runtime's threads off the worker lcores' CPUs,
// so that a polling loop has its CPU to itself.
type EAL struct {
	// Warnings says what EAL set-up could not do as wished.
	Warnings []string

	calls chan func()
	// callMu orders DPDK calls against Close: every call into DPDK holds
	// it (read, through calling) from the check of closed until the call
	// returns or the EAL thread has taken it, and Close holds it (write)
	// to run rte_eal_cleanup and close calls. Lock order: Port.mu, then
	// callMu.
	callMu sync.RWMutex
	closed bool // under callMu

	// alloc returns zeroed, cache-aligned C memory (vfb_alloc) for
	// counters, jobs and stop flags, or nil; tests make it fail.
	alloc func(size uintptr) unsafe.Pointer

	mu       sync.Mutex
	mainBusy bool // a loop runs on the main lcore (the EAL thread)
	ports    []*Port
	main     int
	workers  []int
}

// InitEAL initialises DPDK's EAL with args (as on a DPDK application's
// command line, without the program name, e.g. "-l", "0,1", "--no-huge",
// "-m", "512", "--no-pci", "--vdev", "net_null0"). It can succeed once per
// process; later calls return ErrEALUsed. EAL's own log goes to stderr.
// A failure carries DPDK's message (rte_strerror(rte_errno)).
func InitEAL(args []string) (*EAL, error) {
	ealTried.Lock()
	defer ealTried.Unlock()
	if ealTried.done {
		return nil, ErrEALUsed
	}
	cargv, argc, err := cArgv(args, cCalloc)
	if err != nil {
		return nil, err
	}
	ealTried.done = true

	e := &EAL{calls: make(chan func()), alloc: cAlloc}
	started := make(chan struct{})
	go e.thread(started)
	<-started

	var rc C.int
	var msg [256]C.char
	e.run(func() {
		rc = C.vfb_eal_init(argc, cargv, &msg[0], C.int(len(msg)))
	})
	if rc != 0 {
		close(e.calls)
		e.closed = true
		return nil, fmt.Errorf("EAL init with %q: %w", strings.Join(args, " "), &Error{Op: "rte_eal_init", Errno: int(-rc), Msg: C.GoString(&msg[0])})
	}
	e.main = int(C.vfb_main_lcore())
	var ws [C.RTE_MAX_LCORE]C.uint
	n := int(C.vfb_worker_lcores(&ws[0], C.RTE_MAX_LCORE))
	for i := 0; i < n && i < len(ws); i++ {
		e.workers = append(e.workers, int(ws[i]))
	}
	if err := e.keepOffWorkers(); err != nil {
		e.Warnings = append(e.Warnings, fmt.Sprintf("Go threads may share the polling lcores' CPUs: %v", err))
	}
	return e, nil
}

// cCalloc is C's calloc, for cArgv (tests make it fail).
func cCalloc(n, size uintptr) unsafe.Pointer { return C.calloc(C.size_t(n), C.size_t(size)) }

// cAlloc is EAL.alloc: vfb_alloc.
func cAlloc(size uintptr) unsafe.Pointer { return C.vfb_alloc(C.ulong(size)) }

// cArgv builds EAL's argv in C memory: the program name, args and a NULL.
// EAL may keep pointers into argv (it is a C program's argv to it), so once
// handed over the strings are never freed; they are when the array itself
// cannot be allocated.
func cArgv(args []string, calloc func(n, size uintptr) unsafe.Pointer) (**C.char, C.int, error) {
	argv := make([]*C.char, 0, len(args)+1)
	argv = append(argv, C.CString("vfbypass"))
	for _, a := range args {
		argv = append(argv, C.CString(a))
	}
	cargv := (**C.char)(calloc(uintptr(len(argv)+1), unsafe.Sizeof((*C.char)(nil))))
	if cargv == nil {
		for _, a := range argv {
			C.free(unsafe.Pointer(a))
		}
		return nil, 0, fmt.Errorf("EAL init: allocate argv of %d arguments: %w", len(argv), syscall.ENOMEM)
	}
	copy(unsafe.Slice(cargv, len(argv)+1), argv)
	return cargv, C.int(len(argv)), nil
}

// thread is the EAL's control thread: locked to its OS thread for the life
// of the EAL, so that rte_eal_init, the set-up calls and rte_eal_cleanup all
// run on the main lcore's thread.
func (e *EAL) thread(started chan<- struct{}) {
	runtime.LockOSThread()
	// Never unlocked: the thread carries EAL's per-lcore state and CPU
	// affinity, and exits with this goroutine.
	close(started)
	for f := range e.calls {
		f()
	}
}

// run runs f on the EAL thread and waits for it.
func (e *EAL) run(f func()) {
	done := make(chan struct{})
	e.calls <- func() { f(); close(done) }
	<-done
}

// calling runs f, which calls into DPDK, unless the EAL is closed; Close
// waits for it. f must not call calling, do or post (callMu is not
// reentrant).
func (e *EAL) calling(f func() error) error {
	e.callMu.RLock()
	defer e.callMu.RUnlock()
	if e.closed {
		return fmt.Errorf("EAL: %w", ErrClosed)
	}
	return f()
}

// do runs f on the EAL thread unless the EAL is closed.
func (e *EAL) do(f func()) error {
	return e.calling(func() error { e.run(f); return nil })
}

func (e *EAL) isClosed() bool {
	e.callMu.RLock()
	defer e.callMu.RUnlock()
	return e.closed
}

// WorkerLcores are the other lcores EAL was given (-l/--lcores).
func (e *EAL) WorkerLcores() []int { return append([]int(nil), e.workers...) }

// Ports lists the names of the ethdev ports EAL probed ("0000:04:10.1",
// "net_null0").
func (e *EAL) Ports() []string {
	var names []string
	if e.calling(func() error { names = e.portNames(); return nil }) != nil {
		return nil
	}
	return names
}

// portNames is Ports under callMu.
func (e *EAL) portNames() []string {
	var names []string
	var id C.uint16_t
	for id = 0; id < C.RTE_MAX_ETHPORTS; id++ {
		if C.rte_eth_dev_is_valid_port(id) == 0 {
			continue
		}
		var buf [C.RTE_ETH_NAME_MAX_LEN]C.char
		if C.vfb_port_name(id, &buf[0], C.int(len(buf))) == 0 {
			names = append(names, C.GoString(&buf[0]))
		}
	}
	return names
}

var shortBDF = regexp.MustCompile(`^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)

// PortID finds the port EAL made for name: a PCI address (with or without
// the 0000: domain) or a vdev name ("net_null0").
func (e *EAL) PortID(name string) (uint16, error) {
	if shortBDF.MatchString(name) {
		name = "0000:" + name
	}
	name = strings.ToLower(name)
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var id C.uint16_t
	var r C.int
	var have []string
	if err := e.calling(func() error {
		if r = C.vfb_port_by_name(cname, &id); r != 0 {
			have = e.portNames()
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("port %s: %w", name, err)
	}
	if r != 0 {
		sort.Strings(have)
		return 0, fmt.Errorf("port %s: EAL probed no such device (ports: %s): %w", name, orNone(have),
			&Error{Op: "rte_eth_dev_get_port_by_name", Errno: int(-r), Msg: "rte_eth_dev_get_port_by_name: " + strerror(int(-r))})
	}
	return uint16(id), nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func strerror(n int) string { return C.GoString(C.rte_strerror(C.int(n))) }

// Close stops every running loop, stops and closes every port, and calls
// rte_eal_cleanup. The EAL cannot be initialised again in this process.
func (e *EAL) Close() error {
	if e.isClosed() {
		return nil
	}
	e.mu.Lock()
	ports := e.ports
	e.mu.Unlock()
	var first error
	for _, p := range ports {
		if err := p.Close(); err != nil && first == nil {
			first = err
		}
	}
	e.callMu.Lock()
	defer e.callMu.Unlock()
	if e.closed { // a concurrent Close got here first
		return first
	}
	var rc C.int
	e.run(func() { rc = C.vfb_eal_cleanup() })
	e.closed = true
	close(e.calls)
	if rc != 0 && first == nil {
		first = fmt.Errorf("EAL cleanup: %w", &Error{Op: "rte_eal_cleanup", Errno: int(-rc), Msg: "rte_eal_cleanup: " + strerror(int(-rc))})
	}
	return first
}
