package main

import (
	"os"
	"os/exec"
	"testing"
)

// A closed pipe on stdout and stderr ('vfbypass down eth3 2>&1 | head -1')
// does not stop a change half-way: up and down finish, and exit 0.
func TestClosedPipeFinishesTheChange(t *testing.T) {
	bin := buildBinary(t)
	root, state := simHost(t)
	pristine := snapshot(t, root)
	for _, args := range [][]string{{"up", "eth3", "--vfs", "2", "--vf", "0", "--trust"}, {"down", "eth3"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd := exec.Command(bin, append([]string{"--host-root", root, "--state-dir", state}, args...)...)
		cmd.Stdout, cmd.Stderr = w, w
		err = cmd.Run()
		w.Close()
		if err != nil {
			t.Fatalf("%v with a closed pipe on stdout and stderr: %v", args, err)
		}
		if args[0] == "up" && snapshot(t, root) == pristine {
			t.Fatalf("up with a closed pipe did not finish")
		}
	}
	if got := snapshot(t, root); got != pristine {
		t.Errorf("down with a closed pipe did not restore the host: %s", firstDiff(pristine, got))
	}
}
