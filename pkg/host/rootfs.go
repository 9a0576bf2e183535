package host

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RootFS is an FS whose host paths live under a root directory. Its writes
// are plain writes, which is what a sysfs attribute needs on a real kernel.
type RootFS struct {
	root string
}

// NewRootFS returns an FS rooted at dir ("/" for the running host).
func NewRootFS(dir string) *RootFS {
	if dir == "" {
		dir = "/"
	}
	return &RootFS{root: filepath.Clean(dir)}
}

// Root implements FS.
func (r *RootFS) Root() string { return r.root }

// Path implements FS.
func (r *RootFS) Path(p string) string {
	if r.root == "/" {
		return filepath.Clean("/" + p)
	}
	return filepath.Join(r.root, filepath.Clean("/"+p))
}

// ReadFile implements FS.
func (r *RootFS) ReadFile(p string) ([]byte, error) { return os.ReadFile(r.Path(p)) }

// Readlink implements FS.
func (r *RootFS) Readlink(p string) (string, error) { return os.Readlink(r.Path(p)) }

// ReadDir implements FS.
func (r *RootFS) ReadDir(p string) ([]fs.DirEntry, error) { return os.ReadDir(r.Path(p)) }

// Stat implements FS.
func (r *RootFS) Stat(p string) (fs.FileInfo, error) { return os.Stat(r.Path(p)) }

// Lstat implements FS.
func (r *RootFS) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(r.Path(p)) }

// WriteAttr implements FS: one write(2) of value plus a newline, like echo.
func (r *RootFS) WriteAttr(p string, value string) error {
	f, err := os.OpenFile(r.Path(p), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(value + "\n"))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return cerr
	}
	return nil
}

// ReadString reads a sysfs attribute and trims the trailing newline.
func ReadString(f FS, p string) (string, error) {
	b, err := f.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadInt reads an integer attribute such as sriov_numvfs.
func ReadInt(f FS, p string) (int, error) {
	s, err := ReadString(f, p)
	if err != nil {
		return 0, err
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		return 0, fmt.Errorf("read %s: %q is not a number", p, s)
	}
	return n, nil
}

// LinkBase returns the last element of the symlink at p (for example the
// driver name from DEV/driver), or "" when there is no such link.
func LinkBase(f FS, p string) (string, error) {
	t, err := f.Readlink(p)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil
		}
		return "", err
	}
	return filepath.Base(t), nil
}
