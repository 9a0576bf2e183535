package journal_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

func TestSaveLoadRemove(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	if j, err := s.Load("eth3"); j != nil || err != nil {
		t.Fatalf("Load of a missing journal = %v, %v; want nil, nil", j, err)
	}
	j := &journal.Journal{PF: "eth3", Steps: []*journal.Entry{{ID: "numvfs", Kind: "numvfs", State: journal.Pending, Undo: []byte(`{"old":0,"want":2}`)}}}
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load("eth3")
	if err != nil || got == nil || len(got.Steps) != 1 || got.Steps[0].State != journal.Pending || compact(got.Steps[0].Undo) != `{"old":0,"want":2}` {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if !got.Active() {
		t.Error("a journal with a pending step is not Active")
	}
	got.Steps[0].State = journal.Undone
	if got.Active() {
		t.Error("a journal whose steps are all undone is Active")
	}
	// No temp files are left behind.
	ents, _ := os.ReadDir(s.Dir)
	for _, e := range ents {
		if e.Name() != "eth3.json" {
			t.Errorf("stray file %s in the state directory", e.Name())
		}
	}
	if err := s.Remove("eth3"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path("eth3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal still there after Remove: %v", err)
	}
}

func TestCorruptJournalIsReported(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	for name, content := range map[string]string{
		"truncated":   `{"version":1,"pf":"eth3","steps":[`,
		"other PF":    `{"version":1,"pf":"eth9","steps":[],"rules":[]}`,
		"new version": `{"version":99,"pf":"eth3","steps":[],"rules":[]}`,
		"null step":   `{"version":1,"pf":"eth3","steps":[null],"rules":[]}`,
		"no kind":     `{"version":1,"pf":"eth3","steps":[{"id":"numvfs","state":"applied","undo":{}}],"rules":[]}`,
		"odd state":   `{"version":1,"pf":"eth3","steps":[{"id":"numvfs","kind":"numvfs","state":"weird","undo":{}}],"rules":[]}`,
		"null undo":   `{"version":1,"pf":"eth3","steps":[{"id":"numvfs","kind":"numvfs","state":"applied","undo":null}],"rules":[]}`,
	} {
		if err := os.WriteFile(s.Path("eth3"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load("eth3"); !errors.Is(err, journal.ErrCorrupt) {
			t.Errorf("%s: Load error %v, want ErrCorrupt", name, err)
		}
	}
}

func TestInterfaceNamesCannotEscapeTheStateDir(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	for _, pf := range []string{"../etc", "a/b", "", "..", "0123456789abcdef"} {
		if _, err := s.Load(pf); err == nil {
			t.Errorf("Load(%q) accepted", pf)
		}
		if _, err := s.Lock(testHost(t), pf, time.Second); err == nil {
			t.Errorf("Lock(%q) accepted", pf)
		}
	}
}

// Two holders of one PF's lock run one after the other.
func TestLockSerialises(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	h := testHost(t)
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.Lock(h, "eth3", 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			if inside > maxInside {
				maxInside = inside
			}
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			if err := l.Unlock(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders inside the lock at once", maxInside)
	}
}

func TestLockTimesOutNamingThePF(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	h := testHost(t)
	l, err := s.Lock(h, "eth3", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := s.Lock(h, "eth3", 100*time.Millisecond); err == nil {
		t.Fatal("second Lock succeeded while the first is held")
	}
	other, err := s.Lock(h, "eth4", time.Second)
	if err != nil {
		t.Fatalf("lock of another PF: %v", err)
	}
	other.Unlock()
}

// A Lock that waits longer than WaitNotice says so, once; the run holding
// the lock lets go only once told, so the test waits for nothing else.
func TestLockSaysWhenItWaits(t *testing.T) {
	t.Parallel()
	h := testHost(t)
	dir := t.TempDir()
	held, err := journal.Store{Dir: dir}.Lock(h, "eth3", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	s := journal.Store{Dir: dir, WaitNotice: 30 * time.Millisecond, Waiting: func(m string) {
		told = append(told, m)
		if len(told) == 1 {
			held.Unlock()
		}
	}}
	l, err := s.Lock(h, "eth3", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if len(told) != 1 || !strings.Contains(told[0], "waiting for another vfbypass run on eth3") {
		t.Fatalf("told %q", told)
	}
	told = nil
	l2, err := s.Lock(h, "eth4", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
	if len(told) != 0 {
		t.Fatalf("a lock taken at once told %q", told)
	}
}

func TestUnwritableStateDir(t *testing.T) {
	t.Parallel()
	// Root writes anywhere, but a regular file in the way still fails.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := journal.Store{Dir: filepath.Join(f, "state")}
	if err := s.CheckWritable(); err == nil {
		t.Fatal("CheckWritable under a regular file succeeded")
	}
}

func compact(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "invalid: " + err.Error()
	}
	return out.String()
}

// A state directory that cannot be one is bad input (exit 2) that names the
// path and what is in the way; a bad PF name is bad input too; and
// CheckWritable leaves nothing behind.
func TestStateDirRefusals(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(tmp, "dangling")
	if err := os.Symlink(filepath.Join(tmp, "missing"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir, pf, want string
	}{
		{"", "eth3", `state directory is empty`},
		{file, "eth3", file + " cannot be created"},
		{filepath.Join(file, "sub"), "eth3", "a file is in the way"},
		{dangling, "eth3", "symlink to " + filepath.Join(tmp, "missing") + ", which does not exist"},
		{filepath.Join(tmp, "ok"), "..", `interface name ".." is not valid`},
	} {
		s := journal.Store{Dir: c.dir}
		for op, f := range map[string]func() error{
			"Lock":          func() error { l, err := s.Lock(testHost(t), c.pf, time.Second); l.Unlock(); return err },
			"CheckWritable": func() error { return s.CheckWritable() },
		} {
			// The state directory is CheckWritable's, the PF name Lock's.
			if (op == "CheckWritable") != (c.pf == "eth3") {
				continue
			}
			err := f()
			if err == nil || !strings.Contains(err.Error(), c.want) || !outcome.Is[*outcome.BadInput](err) {
				t.Errorf("%s with --state-dir %q, PF %q: %v (outcome %T); want exit 2 and %q", op, c.dir, c.pf, err, outcome.Of(err), c.want)
			}
		}
	}
	s := journal.Store{Dir: filepath.Join(tmp, "ok")}
	if err := s.CheckWritable(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("CheckWritable left %v behind", ents)
	}
}

// specOf is the hex spec of a rule in ethtool's words.
func specOf(t *testing.T, words string) string {
	t.Helper()
	r, err := flows.Parse(strings.Fields(words))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Spec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeRaw writes a journal file of pf as given, bypassing Save's checks.
func writeRaw(t *testing.T, s journal.Store, j any) {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path("eth3"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A rule record no vfbypass writes makes the journal corrupt: a location of
// 2^31 or more, a spec that is not the hex of 168 bytes, words that are not
// the rule the spec records, a spec of another location, an unknown
// source, a replaces record in a confirmed record, a location recorded
// twice. Save refuses to write any of them.
func TestLoadRefusesBadRuleRecords(t *testing.T) {
	t.Parallel()
	const words = "flow-type tcp4 dst-port 80 action 1 loc 2045"
	spec := specOf(t, words)
	good := journal.Rule{Location: 2045, Words: words, Spec: spec, Source: "steer", State: journal.Applied}
	with := func(f func(r *journal.Rule)) []journal.Rule { r := good; f(&r); return []journal.Rule{r} }
	other := specOf(t, "flow-type tcp4 dst-port 81 action 1 loc 2045")
	for _, c := range []struct {
		name  string
		rules []journal.Rule
		want  string // "" when the record is good
	}{
		{"good", []journal.Rule{good}, ""},
		{"pending with its replaced record", with(func(r *journal.Rule) {
			old := good
			old.Spec, old.Words = other, "flow-type tcp4 dst-port 81 action 1 loc 2045"
			r.State, r.Replaces = journal.Pending, &old
		}), ""},
		{"pending replacing a pending record", with(func(r *journal.Rule) {
			old := good
			old.State = journal.Pending
			r.State, r.Replaces = journal.Pending, &old
		}), "field replaces"},
		{"undone", with(func(r *journal.Rule) { r.State = journal.Undone }), "field state"},
		{"no state", with(func(r *journal.Rule) { r.State = "" }), "field state"},
		{"no spec", with(func(r *journal.Rule) { r.Spec = "" }), "field spec"},
		{"location 2^31", with(func(r *journal.Rule) { r.Location = 1 << 31 }), "field location"},
		{"location max", with(func(r *journal.Rule) { r.Location = 1<<32 - 1 }), "field location"},
		{"spec not hex", with(func(r *journal.Rule) { r.Spec = "xyz" }), "field spec"},
		{"spec odd length", with(func(r *journal.Rule) { r.Spec += "0" }), "field spec"},
		{"spec short", with(func(r *journal.Rule) { r.Spec = r.Spec[:2*167] }), "167 bytes, want 168"},
		{"spec long", with(func(r *journal.Rule) { r.Spec += "00" }), "169 bytes, want 168"},
		{"spec of another location", with(func(r *journal.Rule) { r.Location = 7 }), "the spec is of location 2045"},
		{"words another rule", with(func(r *journal.Rule) { r.Spec = other }), "field words"},
		{"words not a rule", with(func(r *journal.Rule) { r.Words = "rm -rf" }), "field words"},
		{"rss context not the words'", with(func(r *journal.Rule) { r.RSSContext = 3 }), "field words"},
		{"unknown source", with(func(r *journal.Rule) { r.Source = "cron" }), "field source"},
		{"no source", with(func(r *journal.Rule) { r.Source = "" }), "field source"},
		{"replaces in a confirmed record", with(func(r *journal.Rule) { old := good; r.Replaces = &old }), "field replaces"},
		{"location twice", []journal.Rule{good, good}, "recorded twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := journal.Store{Dir: t.TempDir()}
			writeRaw(t, s, map[string]any{"version": 4, "pf": "eth3", "steps": []any{}, "rules": c.rules})
			_, err := s.Load("eth3")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Load: %v; want the rule accepted", err)
			case c.want != "" && (!errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "rule ")):
				t.Errorf("Load: %v; want ErrCorrupt naming the rule and %q", err, c.want)
			}
			// Save writes words from the spec; it refuses the rest.
			serr := s.Save(&journal.Journal{PF: "eth3", Rules: c.rules})
			if (serr == nil) != (c.want == "" || c.want == "field words" && c.rules[0].RSSContext == 0) {
				t.Errorf("Save: %v; want it to refuse what Load refuses but words", serr)
			}
		})
	}
}

// A version 2 record's words are the rule as given; the spec is what was
// installed. Load shows the spec's words, whatever the words said, and a
// version 2 record without a spec is still read (it matches no rule).
func TestVersion2RuleWordsBecomeTheSpecs(t *testing.T) {
	t.Parallel()
	s := journal.Store{Dir: t.TempDir()}
	spec := specOf(t, "flow-type tcp4 dst-port 80 action 1 loc 5")
	writeRaw(t, s, map[string]any{"version": 2, "pf": "eth3", "steps": []any{}, "rules": []journal.Rule{
		{Location: 5, Words: "flow-type tcp4 dst-port 9999 action 1", Spec: spec, Source: "steer"},
		{Location: 6, Words: "flow-type udp4"},
	}})
	j, err := s.Load("eth3")
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Rules[0].Words; got != "flow-type tcp4 dst-port 80 action 1 loc 5" {
		t.Errorf("words %q; want the spec's", got)
	}
}

// testHost is a host root with interfaces eth3 and eth4 on PCI devices
// 0000:04:00.0 and 0000:04:00.1.
func testHost(t *testing.T) host.FS {
	t.Helper()
	root := t.TempDir()
	for i, pf := range []string{"eth3", "eth4"} {
		dev := filepath.Join(root, "sys/devices/pci0000:00", fmt.Sprintf("0000:04:00.%d", i))
		net := filepath.Join(root, "sys/class/net", pf)
		for _, d := range []string{dev, net} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("../../../devices/pci0000:00/"+filepath.Base(dev), filepath.Join(net, "device")); err != nil {
			t.Fatal(err)
		}
	}
	return host.NewRootFS(root)
}
