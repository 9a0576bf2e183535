package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The lock is found the same way with and without -v: with run/lock a
// symlink to an absolute path, every command locks the file under the
// host root (where the link points inside the root), never the path
// outside it, and a run that holds the lock through the plain FS makes a
// -v run wait.
func TestVerboseTakesTheSameLock(t *testing.T) {
	root, state := simHost(t)
	outside := t.TempDir()
	if err := os.Remove(filepath.Join(root, "run/lock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "run/lock")); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(root, outside, "vfbypass")
	cmds := [][]string{
		{"up", "eth3", "--vfs", "2", "--vf", "0"},
		{"steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80"},
		{"steer", "del", "eth3", "2045"},
		{"steer", "add", "eth3", "--vf", "1", "flow-type", "tcp4", "dst-port", "81"},
		{"steer", "clear", "eth3"},
		{"down", "eth3"},
	}
	for _, verbose := range []bool{false, true} {
		for _, c := range cmds {
			args := append([]string{"--host-root", root, "--state-dir", state}, c...)
			if verbose {
				args = append([]string{"-v"}, args...)
			}
			if code, _, e := vfb(args...); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, e)
			}
			if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
				t.Fatalf("%v: made %v outside the host root (%v)", args, ents, err)
			}
			if locks, err := filepath.Glob(filepath.Join(inside, "*.lock")); err != nil || len(locks) != 1 {
				t.Fatalf("%v: locks under the root: %v (%v), want one", args, locks, err)
			}
		}
	}
	code, e := runWhileLocked(t, root, state, "waiting for another vfbypass run on eth3", "-v", "--host-root", root, "--state-dir", state, "steer", "clear", "eth3")
	if code != 0 || !strings.Contains(e, "waiting for another vfbypass run on eth3") {
		t.Errorf("-v steer clear while the lock is held: exit %d, want it to wait:\n%s", code, e)
	}
}
