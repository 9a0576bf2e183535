//go:build !cgo || nodpdk

package rx

// Available reports whether this build has DPDK.
const Available = false

// DPDKVersion is "" in a build without DPDK.
func DPDKVersion() string { return "" }
