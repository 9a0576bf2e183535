package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// The lock belongs to the PF, not to the state directory: two runs with
// different state directories on one PF serialise, two hosts (roots) do
// not share a lock, and the lock lives in HOST_ROOT/run/lock/vfbypass named
// by the PF's PCI address.
func TestLockIsPerPFAcrossStateDirs(t *testing.T) {
	t.Parallel()
	h, other := testHost(t), testHost(t)
	a, b := journal.Store{Dir: t.TempDir()}, journal.Store{Dir: t.TempDir()}
	l, err := a.Lock(h, "eth3", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, err := b.Lock(h, "eth3", 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still holds it") {
		t.Fatalf("a second state directory locked the same PF: %v", err)
	}
	l2, err := b.Lock(other, "eth3", time.Second)
	if err != nil {
		t.Fatalf("another host root shares the lock: %v", err)
	}
	l2.Unlock()
	if _, err := os.Stat(filepath.Join(h.Root(), journal.LockDir, "0000:04:00.0.lock")); err != nil {
		t.Errorf("no lock named by the PCI address: %v", err)
	}
	for _, s := range []journal.Store{a, b} {
		if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
			t.Errorf("Lock left files in the state directory %s: %v", s.Dir, ents)
		}
	}
}

// Lock on an interface that does not exist is exit 2 and creates nothing:
// no state directory, no lock directory.
func TestLockOfAMissingPFCreatesNothing(t *testing.T) {
	t.Parallel()
	h := testHost(t)
	s := journal.Store{Dir: filepath.Join(t.TempDir(), "state")}
	_, err := s.Lock(h, "eth9", time.Second)
	if !outcome.Is[*outcome.BadInput](err) || !errors.Is(err, sriov.ErrNoInterface) || !strings.Contains(err.Error(), "eth9") {
		t.Fatalf("Lock(eth9) = %v (outcome %T); want exit 2, no such interface", err, outcome.Of(err))
	}
	for _, p := range []string{s.Dir, filepath.Join(h.Root(), "run")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Lock of a missing PF created %s", p)
		}
	}
}

// The lock file and the journal are never followed through a link, and a
// state directory others can write (or owned by someone else) is refused
// with the fix.
func TestLinksAndLaxStateDirsAreRefused(t *testing.T) {
	t.Parallel()
	h := testHost(t)
	s := journal.Store{Dir: t.TempDir()}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lockDir := filepath.Join(h.Root(), journal.LockDir)
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(lockDir, "0000:04:00.0.lock")); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Lock(h, "eth3", time.Second); err == nil {
		l.Unlock()
		t.Error("Lock opened a lock file that is a link")
	}
	if err := os.Symlink(victim, s.Path("eth3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("eth3"); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Load through a link: %v (outcome %T); want exit 2", err, outcome.Of(err))
	}
	if err := os.Remove(s.Path("eth3")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for op, f := range map[string]func() error{
		"Load":          func() error { _, err := s.Load("eth3"); return err },
		"CheckWritable": s.CheckWritable,
	} {
		if err := f(); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(outcome.FixOf(err), "chmod 700 "+s.Dir) {
			t.Errorf("%s on a mode 0777 state directory: %v; want exit 2 and 'chmod 700'", op, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(s.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(s.Dir, 4321, 4321); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load("eth3"); !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "uid 4321") {
			t.Errorf("Load from a directory owned by uid 4321: %v; want exit 2", err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep\n" {
		t.Errorf("the link's target changed: %q", b)
	}
}

// The temporary files of a Save killed half-way (".eth3.json.N", and its
// ".prev" link) are removed by the next Lock; other files stay.
func TestLockRemovesLeftTemporaryFiles(t *testing.T) {
	t.Parallel()
	h := testHost(t)
	s := journal.Store{Dir: t.TempDir()}
	for _, n := range []string{".eth3.json.123", ".eth3.json.456.prev", ".eth3.json.x", ".eth30.json.1", ".eth4.json.7", "eth3.json.bak"} {
		if err := os.WriteFile(filepath.Join(s.Dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Lock(h, "eth3", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	ents, _ := os.ReadDir(s.Dir)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	if got, want := strings.Join(left, " "), ".eth3.json.x .eth30.json.1 .eth4.json.7 eth3.json.bak"; got != want {
		t.Fatalf("left %q, want %q", got, want)
	}
}

// The lock directory lives in a directory everyone can write (/run/lock):
// one writable by others or someone else's is refused. (A link there is
// refused on the running host; under another root it resolves within it.)
func TestLaxLockDirIsRefused(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(dir string) error{
		"mode 0777": func(dir string) error { return os.Mkdir(dir, 0o777|os.ModeSticky) },
		"someone else's": func(dir string) error {
			if os.Geteuid() != 0 {
				return os.Mkdir(dir, 0o777)
			}
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			return os.Chown(dir, 4321, 4321)
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := testHost(t)
			dir := filepath.Join(h.Root(), journal.LockDir)
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := spoil(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil && name == "mode 0777" {
				t.Fatal(err)
			}
			s := journal.Store{Dir: t.TempDir()}
			l, err := s.Lock(h, "eth3", time.Second)
			if err == nil {
				l.Unlock()
			}
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "lock directory") {
				t.Errorf("Lock with a lock directory that is %s: %v (outcome %T); want exit 2", name, err, outcome.Of(err))
			}
		})
	}
}
