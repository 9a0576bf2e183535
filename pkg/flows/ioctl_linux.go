package flows

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

var (
	errNotSupportedErrno error = unix.EOPNOTSUPP
	errMsgSize           error = unix.EMSGSIZE
)

// Open opens the ntuple rule table of a real interface through SIOCETHTOOL.
// The socket belongs to the network namespace of the calling thread: call
// Open inside the namespace (netns.Set on a locked OS thread); the Device's
// ioctls then act in that namespace from any goroutine. A missing interface
// gives an error wrapping unix.ENODEV; a device without an ntuple table
// answers the rule commands with errors matching ErrNotSupported.
func Open(ifname string) (Device, error) {
	if len(ifname) == 0 || len(ifname) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("open %q: an interface name has 1 to %d bytes", ifname, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: socket for SIOCETHTOOL: %w", ifname, err)
	}
	ifr, err := unix.NewIfreq(ifname)
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", ifname, err)
	}
	return &device{name: ifname, c: &sockConn{fd: fd}}, nil
}

// sockConn issues SIOCETHTOOL on an AF_INET datagram socket.
type sockConn struct{ fd int }

// ifreqData is struct ifreq with ifr_data set: the name, then the union
// (24 bytes on 64-bit Linux, sizeof(struct ifmap)) whose first member is the
// pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtool passes buf to the kernel by pointer. The pointer is kept as an
// unsafe.Pointer inside ifreqData (never as a bare uintptr), so the garbage
// collector sees it; buf was allocated by make (newRxnfc) on the heap, which
// the collector does not move; the ifreq's own address is converted to
// uintptr in the Syscall argument list itself, the form the unsafe rules
// allow; and runtime.KeepAlive holds both until the ioctl has returned.
func (c *sockConn) ethtool(ifname string, buf []byte) error {
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	ifr.data = unsafe.Pointer(&buf[0])
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(c.fd), uintptr(SIOCEthtool), uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ifr)
	runtime.KeepAlive(buf)
	if errno != 0 {
		return errno
	}
	return nil
}

func (c *sockConn) close() error { return unix.Close(c.fd) }
