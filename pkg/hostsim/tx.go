package hostsim

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// treeEntry is one path of the simulated tree: a directory, a symlink
// (link) or a file (data).
type treeEntry struct {
	dir  bool
	link string
	data []byte
}

// capture records the tree outside MarkerDir.
func (s *Sim) capture() (map[string]treeEntry, error) {
	m := map[string]treeEntry{}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.root {
			return nil
		}
		if p == filepath.Join(s.root, MarkerDir) {
			return filepath.SkipDir
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[p] = treeEntry{link: t}
		case d.IsDir():
			m[p] = treeEntry{dir: true}
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[p] = treeEntry{data: b}
		}
		return nil
	})
	return m, err
}

// restore puts the tree back to before: what was added goes, what was
// removed or changed comes back. It is best effort: it runs after a failed
// call and has no one to report to but the error already returned.
func (s *Sim) restore(before map[string]treeEntry) {
	now, _ := s.capture()
	var extra []string
	for p, e := range now {
		if b, ok := before[p]; !ok || b.dir != e.dir || (b.link == "") != (e.link == "") {
			extra = append(extra, p)
		}
	}
	// Deepest first, so a directory is empty when its turn comes.
	sort.Slice(extra, func(i, j int) bool { return strings.Count(extra[i], "/") > strings.Count(extra[j], "/") })
	for _, p := range extra {
		os.RemoveAll(p)
	}
	paths := make([]string, 0, len(before))
	for p := range before {
		paths = append(paths, p)
	}
	sort.Strings(paths) // parents first
	for _, p := range paths {
		b, e := before[p], now[p]
		switch {
		case b.dir:
			os.Mkdir(p, 0o755)
		case b.link != "":
			if e.link != b.link {
				os.Remove(p)
				os.Symlink(b.link, p)
			}
		default:
			if _, ok := now[p]; !ok || e.dir || e.link != "" || !bytes.Equal(e.data, b.data) {
				os.WriteFile(p, b.data, 0o644)
			}
		}
	}
}
