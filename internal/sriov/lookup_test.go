package sriov_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// failFS fails one host path's Stat or Readlink with an errno.
type failFS struct {
	host.FS
	path  string
	errno unix.Errno
}

func (f failFS) Stat(p string) (fs.FileInfo, error) {
	if p == f.path {
		return nil, &fs.PathError{Op: "stat", Path: f.Path(p), Err: f.errno}
	}
	return f.FS.Stat(p)
}

func (f failFS) Readlink(p string) (string, error) {
	if p == f.path {
		return "", &fs.PathError{Op: "readlink", Path: f.Path(p), Err: f.errno}
	}
	return f.FS.Readlink(p)
}

// An I/O error while looking a PF up is that error, with its path and errno,
// not "no such interface" or "not a PCI device" (which are bad input).
func TestLookupPFKeepsTheErrno(t *testing.T) {
	t.Parallel()
	_, h := simtest.Host(t, hostsim.Options{})
	for _, c := range []struct {
		path  string
		errno unix.Errno
		is    error
	}{
		{"/sys/class/net/eth3", unix.EIO, unix.EIO},
		{"/sys/class/net/eth3/device", unix.EACCES, unix.EACCES},
		{"/sys/bus/pci/devices/0000:04:00.1", unix.EIO, unix.EIO},
		{"/sys/class/net/eth3", unix.ENOENT, sriov.ErrNoInterface},
		{"/sys/class/net/eth3/device", unix.ENOENT, sriov.ErrNotPCI},
	} {
		_, err := sriov.LookupPF(failFS{h.FS, c.path, c.errno}, "eth3")
		if !errors.Is(err, c.is) || (c.errno != unix.ENOENT && (errors.Is(err, sriov.ErrNoInterface) || errors.Is(err, sriov.ErrNotPCI) || !strings.Contains(err.Error(), c.path))) {
			t.Errorf("%s failing with %v: LookupPF error %v, want %v naming the path", c.path, c.errno, err, c.is)
		}
	}
}
