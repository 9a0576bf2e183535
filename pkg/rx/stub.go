//go:build !cgo || nodpdk

package rx

// Available reports whether this build has DPDK.
const Available = false
