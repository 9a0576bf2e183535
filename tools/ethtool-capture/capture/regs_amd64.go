//go:build linux

package capture

import "golang.org/x/sys/unix"

func syscallArgs(r *unix.PtraceRegs) (nr, a1, a2 uint64) { return r.Orig_rax, r.Rsi, r.Rdx }

// skipSyscall makes the kernel skip the call (an invalid number).
func skipSyscall(r *unix.PtraceRegs) { r.Orig_rax = ^uint64(0) }

func setReturn(r *unix.PtraceRegs, v uint64) { r.Rax = v }
