// Package setup brings a PF up for flow bypass and back down: it turns a
// request into a plan of steps, applies the plan under the PF's journal with
// rollback on failure, undoes a journal in reverse, and reports status and
// drift between the journal and the kernel.
package setup
