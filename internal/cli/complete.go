package cli

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Words completes a flag or argument with fixed words (and no file names).
func Words(words ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteGlobals completes the global flags' values on root (-o).
func (g *Globals) CompleteGlobals(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("output", Words(g.outputs()...))
}

// SRIOVPFs lists the SR-IOV capable interfaces under the host root, those
// with a device/sriov_totalvfs, for completing PF names.
func SRIOVPFs(hostRoot string) []string {
	paths, _ := filepath.Glob(filepath.Join(hostRoot, "sys/class/net/*/device/sriov_totalvfs"))
	var names []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			names = append(names, filepath.Base(filepath.Dir(filepath.Dir(p))))
		}
	}
	return names
}
