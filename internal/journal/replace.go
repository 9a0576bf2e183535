package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReplaceFile writes data to dir/name whole or not at all: to a temporary
// file ".name.DIGITS" beside it, renamed over it; a failure removes the
// temporary file. It does not fsync: its callers (the rule claims, a
// watcher's state) keep files on tmpfs that no reboot needs. The journal
// itself is saved by Store.Save, which also syncs and keeps the previous
// version.
func ReplaceFile(dir, name string, data []byte) error {
	p := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	err = errors.Join(werr, cerr)
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// RemoveReplaceTemps removes the temporary files of ReplaceFile(dir, name)
// that a run killed while writing left; the caller holds the lock that
// orders the writers. Best effort, like removeTemps.
func RemoveReplaceTemps(dir, name string) {
	prefix := "." + name + "."
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if rest, ok := strings.CutPrefix(e.Name(), prefix); ok && tempName.MatchString(rest) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
