// Package setup brings a PF up for flow bypass and back down: it turns a
// request into a plan of steps, applies the plan under the PF's journal with
// rollback on failure, undoes a journal in reverse, and computes the drift
// between the journal and the kernel (the diff up repairs). Reading a host
// without changing it (status, doctor) is package inspect's.
package setup
