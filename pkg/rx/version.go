//go:build cgo && !nodpdk

package rx

/*
#cgo pkg-config: libdpdk
#include <rte_version.h>
*/
import "C"

// DPDKVersion is the version of the DPDK library this process runs with,
// as rte_version() (librte_eal) says it, e.g. "DPDK 22.11.11". It needs no
// EAL.
func DPDKVersion() string { return C.GoString(C.rte_version()) }
