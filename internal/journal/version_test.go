package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/journal"
)

// TestJournalVersions: Save writes the current version; versions 1 to 3
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
	if j, err := s.Load("eth3"); err != nil || j.Version != journal.Version || journal.Version != 4 {
		t.Fatalf("saved journal: %+v %v; want version 4", j, err)
	}
	for _, c := range []struct {
		version string
		ok      bool
	}{{"1", true}, {"2", true}, {"3", true}, {"4", true}, {"0", false}, {"5", false}} {
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

// TestVersion3RuleStates: a version 3 rule record's pending flag becomes
// its state (pending when set, applied otherwise, and the record it
// replaces applied), whatever state field it carries; the journal is
// written back as version 4 with states and no flag. A version 3 record
// replacing a pending record is refused, as version 3 refused it.
func TestVersion3RuleStates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := journal.Store{Dir: dir}
	rule := func(words, extra string) string {
		loc := words[strings.LastIndex(words, " ")+1:]
		return `{"location": ` + loc + `, "words": "` + words + `", "spec": "` + specOf(t, words) + `", "source": "steer"` + extra + `}`
	}
	const (
		new5 = "flow-type tcp4 dst-port 80 action 1 loc 5"
		old5 = "flow-type tcp4 dst-port 81 action 1 loc 5"
		at6  = "flow-type tcp4 dst-port 80 action 1 loc 6"
	)
	write := func(rules ...string) {
		t.Helper()
		body := `{"version": 3, "pf": "eth3", "created": "2026-01-01T00:00:00Z", "steps": [], "rules": [` + strings.Join(rules, ", ") + `]}`
		if err := os.WriteFile(filepath.Join(dir, "eth3.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(rule(new5, `, "pending": true, "replaces": `+rule(old5, "")), rule(at6, `, "state": "pending"`))
	j, err := s.Load("eth3")
	if err != nil {
		t.Fatal(err)
	}
	if r := j.Rules[0]; r.State != journal.Pending || r.Replaces == nil || r.Replaces.State != journal.Applied {
		t.Errorf("pending record: %+v; want pending, replacing an applied record", r)
	}
	if r := j.Rules[1]; r.State != journal.Applied {
		t.Errorf("record without the flag: state %q; want applied", r.State)
	}
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "eth3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"version": 4`) || strings.Contains(string(b), `"pending": true`) || strings.Count(string(b), `"state": "applied"`) != 2 {
		t.Errorf("written back:\n%s\nwant version 4, states and no pending flag", b)
	}
	write(rule(new5, `, "pending": true, "replaces": `+rule(old5, `, "pending": true`)))
	if _, err := s.Load("eth3"); !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "field replaces") {
		t.Errorf("version 3 record replacing a pending one: %v; want it refused", err)
	}
}
