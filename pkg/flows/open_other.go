//go:build !linux

package flows

import (
	"errors"
	"fmt"
)

var (
	errNotSupportedErrno = errors.New("operation not supported")
	errMsgSize           = errors.New("message too long")
)

// Open opens the ntuple rule table of a real interface through SIOCETHTOOL;
// SIOCETHTOOL exists only on Linux.
func Open(ifname string) (Device, error) {
	return nil, fmt.Errorf("open %s: SIOCETHTOOL needs Linux: %w", ifname, ErrNotSupported)
}
