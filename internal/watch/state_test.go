package watch

import (
	"os"
	"path/filepath"
	"testing"
)

// Forget removes the files of a watcher that stopped before down, and
// leaves those of a watcher that still runs (it holds the lock).
func TestForgetRemovesAStoppedWatchersFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := openState(dir, "eth3")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.update("resync", s.st.Started, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	files := func() []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	if err := Forget(dir, "eth3"); err != nil {
		t.Fatal(err)
	}
	if got := files(); len(got) != 2 {
		t.Fatalf("Forget with the watcher running left %v, want its state and lock", got)
	}
	s.close()
	if err := os.WriteFile(filepath.Join(dir, ".eth3.watch.123"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Forget(dir, "eth3"); err != nil {
		t.Fatal(err)
	}
	if got := files(); len(got) != 0 {
		t.Fatalf("Forget after the watcher stopped left %v, want nothing", got)
	}
	if err := Forget(dir, "eth3"); err != nil {
		t.Fatalf("Forget without a watcher's files: %v", err)
	}
}
