package hostsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Snapshot lists every path of the simulated host at root with its content
// or link target, one line each, sorted; the simulator's lock, fault list,
// event feed and RSC latch (see rscLatch: set by every SR-IOV round trip on
// ixgbe, undone only by a driver reload) and vfbypass's own per-PF locks (run/lock/vfbypass, which
// outlive every run as on a real host) are left out. Two equal snapshots are
// byte-identical hosts.
func Snapshot(root string) (string, error) {
	const vfbypassLocks = "run/lock/vfbypass"
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == filepath.Join(MarkerDir, "lock") || rel == filepath.Join(MarkerDir, "faults.json") ||
			rel == filepath.Join(MarkerDir, eventsFile) || rel == filepath.Join(MarkerDir, rscLatch) {
			return nil
		}
		if rel == vfbypassLocks || strings.HasPrefix(rel, vfbypassLocks+"/") {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			lines = append(lines, rel+" -> "+t)
		case d.IsDir():
			lines = append(lines, rel+"/")
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			lines = append(lines, fmt.Sprintf("%s %s", rel, hex.EncodeToString(sum[:8])))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n"), err
}
