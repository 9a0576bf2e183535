package host

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RootFS is an FS whose host paths live under a root directory. Its writes
// are plain writes, which is what a sysfs attribute needs on a real kernel.
// Under a root other than "/" every path resolves within the root: files
// are opened with openat2(RESOLVE_IN_ROOT) where the kernel has it (5.6),
// and through InRoot's user-space resolution where it does not.
type RootFS struct {
	root string
	// userspace: resolve with InRoot only (no openat2); for tests, and
	// set once openat2 turns out to be missing.
	userspace bool
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

// maxLinks bounds the symlinks one lookup follows, as the kernel's
// MAXSYMLINKS (40) does.
const maxLinks = 40

// InRoot returns where host path p is on this machine with every symlink on
// the way resolved as if the root were "/": an absolute link target starts
// again at the root and ".." stops at it, so the result never leaves the
// root (openat2's RESOLVE_IN_ROOT, done in user space so that it works on
// every kernel). The last element is resolved too when followLast. Elements
// that do not exist are kept as they are (a path about to be created). On
// the running host (root "/") it is the cleaned path.
func (r *RootFS) InRoot(p string, followLast bool) (string, error) {
	if r.root == "/" {
		return filepath.Clean("/" + p), nil
	}
	todo := strings.Split(filepath.Clean("/"+p), "/")[1:]
	var done []string // resolved elements under the root
	links := 0
	for len(todo) > 0 {
		el := todo[0]
		todo = todo[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{r.root}, append(done, el)...)...)
		if len(todo) == 0 && !followLast {
			done = append(done, el)
			break
		}
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode()&fs.ModeSymlink == 0) {
			done = append(done, el)
			continue
		}
		if err != nil {
			return "", err
		}
		if links++; links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: r.Path(p), Err: syscall.ELOOP}
		}
		t, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(t, "/") {
			done = nil
		}
		todo = append(strings.Split(t, "/"), todo...)
	}
	return filepath.Join(append([]string{r.root}, done...)...), nil
}

// at is InRoot for the FS methods: a path that cannot be resolved within
// the root yields the error, wrapped as the call's own.
func (r *RootFS) at(op, p string, followLast bool) (string, error) {
	q, err := r.InRoot(p, followLast)
	return q, r.named(op, p, err)
}

// named reports a failure on host path p under p's own name (not the
// resolved one), as the kernel's path would read.
func (r *RootFS) named(op, p string, err error) error {
	var pe *fs.PathError
	if err != nil && errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: r.Path(p), Err: pe.Err}
	}
	return err
}

// open opens host path p with flags, resolved within the root: by
// openat2(RESOLVE_IN_ROOT), or by InRoot and O_NOFOLLOW where the kernel
// has no openat2 (ENOSYS, or EPERM from a seccomp filter).
func (r *RootFS) open(p string, flags int) (*os.File, error) {
	if r.root == "/" {
		return os.OpenFile(filepath.Clean("/"+p), flags, 0)
	}
	if !r.userspace {
		f, err := r.openat2(p, flags)
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return f, err
		}
	}
	q, err := r.at("open", p, true)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(q, flags|unix.O_NOFOLLOW, 0)
	return f, r.named("open", p, err)
}

func (r *RootFS) openat2(p string, flags int) (*os.File, error) {
	dir, err := unix.Open(r.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: r.root, Err: err}
	}
	defer unix.Close(dir)
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(dir, rel, &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue // a rename raced the lookup: the kernel asks to retry
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: r.Path(p), Err: err}
		}
		return os.NewFile(uintptr(fd), r.Path(p)), nil
	}
}

// ReadFile implements FS.
func (r *RootFS) ReadFile(p string) ([]byte, error) {
	f, err := r.open(p, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return b, r.named("read", p, err)
}

// Readlink implements FS.
func (r *RootFS) Readlink(p string) (string, error) {
	q, err := r.at("readlink", p, false)
	if err != nil {
		return "", err
	}
	t, err := os.Readlink(q)
	return t, r.named("readlink", p, err)
}

// ReadDir implements FS.
func (r *RootFS) ReadDir(p string) ([]fs.DirEntry, error) {
	f, err := r.open(p, os.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, r.named("readdirent", p, err)
}

// Stat implements FS.
func (r *RootFS) Stat(p string) (fs.FileInfo, error) {
	if r.root == "/" {
		return os.Stat(filepath.Clean("/" + p))
	}
	f, err := r.open(p, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	return fi, r.named("stat", p, err)
}

// Lstat implements FS.
func (r *RootFS) Lstat(p string) (fs.FileInfo, error) {
	q, err := r.at("lstat", p, false)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(q)
	return fi, r.named("lstat", p, err)
}

// WriteAttr implements FS: one write(2) of value plus a newline, like echo.
// The path is resolved within the root (see open).
func (r *RootFS) WriteAttr(p string, value string) error {
	f, err := r.open(p, os.O_WRONLY)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(value + "\n"))
	cerr := f.Close()
	if werr != nil {
		return r.named("write", p, werr)
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
