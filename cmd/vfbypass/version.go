package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/buildinfo"
)

func init() { register(newVersionCmd) }

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the build of vfbypass and of the receive loop vfbypass-rx (version, commit, Go and DPDK versions)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := &buildinfo.Result{Info: buildinfo.Read("vfbypass")}
			if path, err := findRx(); err == nil {
				rxInfo, err := rxVersion(path)
				if err != nil {
					res.Warn("%s --version: %v", path, err)
				}
				res.RX = rxInfo
			}
			return g.emit(res, nil)
		},
	}
}

// rxVersion asks vfbypass-rx at path for its build.
func rxVersion(path string) (*buildinfo.Info, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version", "-o", "json").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, err
	}
	var r buildinfo.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("its output is not a version report: %w", err)
	}
	return &r.Info, nil
}
