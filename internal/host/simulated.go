package host

import (
	"os"
	"path/filepath"
)

// SimDir is the directory inside a simulated host's root that holds the
// simulator's own files: 'vfbypass sim init' makes it, internal/hostsim
// keeps its state there.
const SimDir = ".vfbypass-sim"

// IsSimulated reports whether root is a simulated host: it holds
// SimDir/state.json, a regular file. Production builds, which leave the
// simulator out, use it to hand such a root to the build that has it.
func IsSimulated(root string) bool {
	st, err := os.Stat(filepath.Join(root, SimDir, "state.json"))
	return err == nil && st.Mode().IsRegular()
}
