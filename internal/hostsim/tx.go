package hostsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// removed or changed comes back. It goes on past a failed step and returns
// the first error: the caller then keeps the call's record, so the next
// call of any process puts the tree back (see recover) instead of leaving
// half a VF behind.
func (s *Sim) restore(before map[string]treeEntry) error {
	now, err := s.capture()
	if err != nil {
		return fmt.Errorf("simulator: put the tree back: %w", err)
	}
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = fmt.Errorf("simulator: put the tree back: %w", err)
		}
	}
	var extra []string
	for p, e := range now {
		if b, ok := before[p]; !ok || b.dir != e.dir || (b.link == "") != (e.link == "") {
			extra = append(extra, p)
		}
	}
	// Deepest first, so a directory is empty when its turn comes.
	sort.Slice(extra, func(i, j int) bool { return strings.Count(extra[i], "/") > strings.Count(extra[j], "/") })
	for _, p := range extra {
		note(os.RemoveAll(p))
	}
	paths := make([]string, 0, len(before))
	for p := range before {
		paths = append(paths, p)
	}
	sort.Strings(paths) // parents first
	for _, p := range paths {
		note(restoreEntry(p, before[p], now))
	}
	return first
}

// restoreEntry puts path p back to b, given what the tree held (now).
func restoreEntry(p string, b treeEntry, now map[string]treeEntry) error {
	e, ok := now[p]
	switch {
	case b.dir:
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case b.link != "":
		if e.link != b.link {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return os.Symlink(b.link, p)
		}
	default:
		if !ok || e.dir || e.link != "" || !bytes.Equal(e.data, b.data) {
			return os.WriteFile(p, b.data, 0o644)
		}
	}
	return nil
}

// txRecord is what saveTx keeps on disk while a tree-changing call runs.
type txRecord struct {
	Tree  map[string]txEntry `json:"tree"`
	State []byte             `json:"state"`
}

type txEntry struct {
	Dir  bool   `json:"dir,omitempty"`
	Link string `json:"link,omitempty"`
	Data []byte `json:"data,omitempty"`
}

func (s *Sim) txFile() string { return filepath.Join(s.root, MarkerDir, "tx.json") }

// saveTx records the tree and the simulator state as they are before a
// tree-changing call (written to a temporary file and renamed, so the
// record is whole or absent).
func (s *Sim) saveTx(before map[string]treeEntry, state []byte) error {
	rec := txRecord{Tree: make(map[string]txEntry, len(before)), State: state}
	for p, e := range before {
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return fmt.Errorf("simulator: %w", err)
		}
		rec.Tree[rel] = txEntry{Dir: e.dir, Link: e.link, Data: e.data}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if err := replaceFile(s.txFile(), b); err != nil {
		return fmt.Errorf("simulator: record the call in progress: %w", err)
	}
	return nil
}

// recover finishes a call that a killed process left half-done: a real
// kernel completes or refuses an attribute write as a whole, so the tree
// and the state go back to before that call, as if it had been refused.
// It reports whether it restored something; the caller holds the lock.
func (s *Sim) recover() (bool, error) {
	b, err := os.ReadFile(s.txFile())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("simulator: read %s: %w", s.txFile(), err)
	}
	var rec txRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		// A torn record cannot be: it is renamed into place whole.
		return false, fmt.Errorf("simulator: %s is damaged: %w", s.txFile(), err)
	}
	before := make(map[string]treeEntry, len(rec.Tree))
	for rel, e := range rec.Tree {
		before[filepath.Join(s.root, rel)] = treeEntry{dir: e.Dir, link: e.Link, data: e.Data}
	}
	if err := s.restore(before); err != nil {
		return false, err // the record stays for the next call
	}
	if err := os.WriteFile(s.stateFile(), rec.State, 0o644); err != nil {
		return false, fmt.Errorf("simulator: restore state: %w", err)
	}
	if err := os.Remove(s.txFile()); err != nil {
		return false, fmt.Errorf("simulator: %w", err)
	}
	return true, nil
}
