package rx

import "syscall"

// errnoErr maps a DPDK error number to a comparable error (nil for DPDK's
// own numbers above 1000).
func errnoErr(n int) error {
	if n <= 0 || n >= 1000 {
		return nil
	}
	return syscall.Errno(n)
}
