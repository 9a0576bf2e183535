package host_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
)

// A tree under a root whose links point out of it (absolute, or with more
// ".." than it is deep): every FS call resolves them within the root, as
// openat2's RESOLVE_IN_ROOT does, so nothing outside is read or written.
func TestRootFSLinksStayInTheRoot(t *testing.T) {
	for name, open := range map[string]func(string) *host.RootFS{"openat2": host.NewRootFS, "user space": host.NewRootFSUserspace} {
		t.Run(name, func(t *testing.T) { linksStayInTheRoot(t, open) })
	}
}

func linksStayInTheRoot(t *testing.T, open func(string) *host.RootFS) {
	root, outside := filepath.Join(t.TempDir(), "root"), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sys/a"), 0o755))
	must(os.MkdirAll(filepath.Join(root, outside), 0o755))
	must(os.WriteFile(filepath.Join(outside, "attr"), []byte("outside\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, outside, "attr"), []byte("inside\n"), 0o644))
	must(os.Symlink(filepath.Join(outside, "attr"), filepath.Join(root, "sys/a/abs")))
	must(os.Symlink("../../../../../../../../.."+outside+"/attr", filepath.Join(root, "sys/a/dotdot")))
	must(os.Symlink(outside, filepath.Join(root, "sys/dir")))
	must(os.Symlink("loop", filepath.Join(root, "sys/loop")))
	r := open(root)
	paths := []string{"/sys/a/abs", "/sys/a/dotdot", "/sys/dir/attr"}
	for _, p := range paths {
		b, err := r.ReadFile(p)
		if err != nil || string(b) != "inside\n" {
			t.Errorf("ReadFile(%s) = %q, %v; want the file inside the root", p, b, err)
		}
		if _, err := r.Stat(p); err != nil {
			t.Errorf("Stat(%s): %v", p, err)
		}
	}
	for _, p := range paths {
		if err := r.WriteAttr(p, "written"); err != nil {
			t.Errorf("WriteAttr(%s): %v", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "attr")); string(b) != "outside\n" {
		t.Fatalf("a write through a link left the root: the file outside now holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, outside, "attr")); string(b) != "written\n" {
		t.Errorf("the file inside the root holds %q, want the write", b)
	}
	if ents, err := r.ReadDir("/sys/dir"); err != nil || len(ents) != 1 {
		t.Errorf("ReadDir through an absolute link: %v %v", ents, err)
	}
	if tgt, err := r.Readlink("/sys/dir"); err != nil || tgt != outside {
		t.Errorf("Readlink = %q, %v; want the link itself", tgt, err)
	}
	if fi, err := r.Lstat("/sys/dir"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat does not see the link: %v", err)
	}
	if _, err := r.ReadFile("/sys/loop/x"); err == nil {
		t.Error("a link loop resolved")
	}
	if err := r.WriteAttr("/sys/a/new", "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteAttr of a missing attribute: %v, want ENOENT", err)
	}
}
