//go:build cgo && !nodpdk

package rx

/*
#include <rte_lcore.h>
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// keepOffWorkers moves the process's threads that may run on a worker
// lcore's CPU (the Go runtime's threads, and any other thread EAL did not pin
// to a worker) off those CPUs, so that only the polling loop runs there, as
// in testpmd, whose non-lcore threads EAL pins itself. Threads created later
// inherit the narrowed mask of the thread that creates them. Threads pinned
// to worker CPUs only (EAL's worker lcores) are left alone. Best effort: it
// returns what it could not do.
func (e *EAL) keepOffWorkers() error {
	var workers unix.CPUSet
	for _, l := range e.workers {
		if cpu := int(C.rte_lcore_to_cpu_id(C.int(l))); cpu >= 0 {
			workers.Set(cpu)
		}
	}
	if workers.Count() == 0 {
		return nil
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	var first error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			continue // the thread ended
		}
		narrowed, overlap := set, false
		for cpu := 0; cpu < len(set)*64; cpu++ {
			if set.IsSet(cpu) && workers.IsSet(cpu) {
				narrowed.Clear(cpu)
				overlap = true
			}
		}
		if !overlap || narrowed.Count() == 0 {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &narrowed); err != nil && first == nil {
			first = fmt.Errorf("thread %d: set CPU affinity: %w", tid, err)
		}
	}
	return first
}
