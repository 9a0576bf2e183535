package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// pfArgOf is the PF a command was given as its first argument ("NAME PF"
// or "NAME [PF]" in its Use line), or "".
func pfArgOf(cmd *cobra.Command, args []string) string {
	w := strings.Fields(cmd.Use)
	if len(args) == 0 || len(w) < 2 || (w[1] != "PF" && w[1] != "[PF]") || !sriov.ValidIfname(args[0]) {
		return ""
	}
	return args[0]
}

// interfaceExists reports whether name is a network interface on the host.
func (g *globals) interfaceExists(name string) bool {
	_, err := os.Lstat(filepath.Join(g.HostRoot, sriov.NetDir(name)))
	return err == nil
}

// unknownPF is the error for a PF name that is no interface on the host,
// with the SR-IOV PF it is likely a typo of.
func (g *globals) unknownPF(name, what string) error {
	fix := "check the name with 'ip link' (or 'vfbypass doctor')"
	if near := nearestName(name, cli.SRIOVPFs(g.HostRoot)); near != "" {
		fix = fmt.Sprintf("did you mean %s? Else %s", near, fix)
	}
	return outcome.Invalid(fix, "PF %s: no such network interface%s", name, what)
}

// suggestPF adds "did you mean" to a bad-input error about the command's
// PF when that PF is no interface here and an SR-IOV PF's name is close.
func (g *globals) suggestPF(err error) error {
	var e *outcome.BadInput
	if err == nil || g.pfArg == "" || !outcome.Is[*outcome.BadInput](err) || !errors.As(err, &e) || g.interfaceExists(g.pfArg) {
		return err
	}
	if near := nearestName(g.pfArg, cli.SRIOVPFs(g.HostRoot)); near != "" && !strings.Contains(e.Fix, "did you mean") {
		e.Fix = fmt.Sprintf("did you mean %s? Else %s", near, e.Fix)
	}
	return err
}

// nearestName is the one name within two edits (insertions, deletions,
// substitutions, swaps of neighbours) of s, or "" when none or several are.
func nearestName(s string, names []string) string {
	best, bestD, ties := "", 3, 0
	for _, n := range names {
		d := editDistance(s, n)
		switch {
		case d < bestD:
			best, bestD, ties = n, d, 0
		case d == bestD:
			ties++
		}
	}
	if ties > 0 || s == best {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
