//go:build nodpdk || !cgo

package rxcmd

import (
	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// runRx is never reached in a build without DPDK: the rx command refuses
// first (rx.Available is false).
func runRx(_ *cli.Globals, _ *rxOptions, _ *rxResult) error {
	return outcome.Invalid("build without -tags nodpdk", "this build has no DPDK")
}
