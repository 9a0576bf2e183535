package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// fullStateDir mounts a small tmpfs for a state directory, for the test;
// fill then takes its last free byte. It skips without the privilege to
// mount.
func fullStateDir(t *testing.T) (dir string, fill func()) {
	t.Helper()
	dir = t.TempDir()
	return dir, mountSmall(t, dir)
}

// mountSmall mounts a 256 KiB tmpfs on dir until the test ends and returns
// what fills it.
func mountSmall(t *testing.T, dir string) (fill func()) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700"); err != nil {
		t.Skipf("cannot mount a small tmpfs for the state directory: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return func() {
		f, err := os.Create(filepath.Join(dir, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				break
			}
		}
		for {
			if _, err := f.Write(buf[:1]); err != nil {
				break
			}
		}
	}
}

// down on a full state file system keeps going in the kernel's order:
// with every undo possible it finishes (exit 0, no journal); with one the
// kernel refuses, exit 3 names exactly that one, and a later down (the
// file system still full) finishes it.
func TestDownOnAFullStateDir(t *testing.T) {
	state, fill := fullStateDir(t)
	state = filepath.Join(state, "s")
	root := filepath.Join(t.TempDir(), "h")
	if code, _, e := vfb("sim", "init", root); code != 0 {
		t.Fatal(e)
	}
	pristine := snapshotOf(t, root)
	g := []string{"--host-root", root, "--state-dir", state}
	setup := [][]string{{"up", "eth3", "--vfs", "2", "--vf", "0", "--trust"}, {"steer", "add", "eth3", "--vf", "1", "flow-type", "tcp4", "dst-port", "80"}}
	for _, args := range setup {
		if code, _, e := vfb(append(g, args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, e)
		}
	}
	fill()
	if err := hostsim.AddFault(root, hostsim.Fault{Op: "write", Match: "*/sriov_numvfs", Errno: unix.EBUSY}); err != nil {
		t.Fatal(err)
	}
	code, _, e := vfb(append(g, "down", "eth3")...)
	if code != 3 || !strings.Contains(e, "still applied: numvfs") || strings.Contains(e, "vf0-bind (") || !strings.Contains(e, "no space left") {
		t.Fatalf("down with numvfs refused on a full state directory: exit %d, want 3 naming numvfs alone:\n%s", code, e)
	}
	code, _, e = vfb(append(g, "down", "eth3")...)
	if code != 0 {
		t.Fatalf("a later down, the state directory still full: exit %d: %s", code, e)
	}
	if got := snapshotOf(t, root); got != pristine {
		t.Errorf("down did not restore the host: %s", firstDiff(pristine, got))
	}
	if _, err := os.Stat(filepath.Join(state, "eth3.json")); err == nil {
		t.Errorf("down left the journal")
	}
}

// up on a full state file system cannot write its first journal record:
// it changes nothing and exits 1, without claiming a journal is left.
func TestUpOnAFullStateDir(t *testing.T) {
	state, fill := fullStateDir(t)
	state = filepath.Join(state, "s")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "h")
	if code, _, e := vfb("sim", "init", root); code != 0 {
		t.Fatal(e)
	}
	pristine := snapshotOf(t, root)
	fill()
	code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--vfs", "2", "--vf", "0")
	if code != 1 || strings.Contains(e, "still applied") || !strings.Contains(e, "no space left") {
		t.Fatalf("up on a full state directory: exit %d, want 1 naming the full file system:\n%s", code, e)
	}
	if got := snapshotOf(t, root); got != pristine {
		t.Errorf("up changed the host: %s", firstDiff(pristine, got))
	}
	if _, err := os.Stat(filepath.Join(state, "eth3.json")); err == nil {
		t.Errorf("up left a journal")
	}
}

// The full-disk matrix: every command of contractScenarios runs with its
// state directory on a small tmpfs filled to the last byte, and must keep
// the exit-code contract (contractHost.check; the filler is removed before
// the check and the down after it).
func TestFullStateDirMatrix(t *testing.T) {
	fullStateDir(t) // skips where no tmpfs can be mounted
	for _, s := range contractScenarios() {
		c := prepareContract(t, s)
		c.countCallsIn(t)
		dir := c.copyTo(t)
		state, saved := filepath.Join(dir, "s"), filepath.Join(dir, "s.saved")
		if err := os.Rename(state, saved); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.Mkdir(state, 0o700); err != nil {
			t.Fatal(err)
		}
		fill := mountSmall(t, state)
		if _, err := os.Stat(saved); err == nil {
			if out, err := exec.Command("cp", "-a", saved+"/.", state).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
		}
		fill()
		code, out := c.runJSON(dir)
		if err := os.Remove(filepath.Join(state, "filler")); err != nil {
			t.Fatal(err)
		}
		if msg := c.check(t, dir, code, out); msg != "" {
			t.Errorf("%s on a full state directory: %s (exit %d: %s)", s.name, msg, code, firstLines(out, 3))
		}
	}
}
