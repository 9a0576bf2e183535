package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/journal"
)

// TestJournalVersions: Save writes the current version; versions 1 and 2
// are read; a version this vfbypass does not know is refused naming it.
func TestJournalVersions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := journal.Store{Dir: dir}
	if err := s.Save(&journal.Journal{PF: "eth3", Steps: []*journal.Entry{}}); err != nil {
		t.Fatal(err)
	}
	if j, err := s.Load("eth3"); err != nil || j.Version != journal.Version || journal.Version != 3 {
		t.Fatalf("saved journal: %+v %v; want version 3", j, err)
	}
	for _, c := range []struct {
		version string
		ok      bool
	}{{"1", true}, {"2", true}, {"3", true}, {"0", false}, {"4", false}} {
		body := `{"version": ` + c.version + `, "pf": "eth3", "created": "2026-01-01T00:00:00Z", "steps": [], "rules": []}`
		if err := os.WriteFile(filepath.Join(dir, "eth3.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := s.Load("eth3")
		if c.ok && (err != nil || j == nil) {
			t.Errorf("version %s: %v; want it read", c.version, err)
		}
		if !c.ok && (!errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "format version "+c.version)) {
			t.Errorf("version %s: %v; want it refused naming the version", c.version, err)
		}
	}
}
