package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// steer add, del and clear with a PF name that is not an interface exit 2
// before they create anything: no state directory, no lock.
func TestSteerBadPFCreatesNothing(t *testing.T) {
	root, state := simHost(t)
	for _, pf := range []string{"eth9", "eth3%", "../x", "eth3:1"} {
		for _, args := range [][]string{
			{"steer", "add", pf, "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
			{"steer", "del", pf, "5"},
			{"steer", "clear", pf},
		} {
			code, _, stderr := vfb(append([]string{"--host-root", root, "--state-dir", state}, args...)...)
			if code != 2 || stderr == "" {
				t.Errorf("%v: exit %d %q; want 2 and a message", args, code, stderr)
			}
			for _, p := range []string{state, filepath.Join(root, "run/lock/vfbypass")} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%v created %s", args, p)
				}
			}
		}
	}
}
