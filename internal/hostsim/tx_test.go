package hostsim

import (
	"os"
	"testing"
)

// A process killed inside a simulated attribute write leaves the record of
// the call in progress; the next Open puts the tree and state back, as the
// kernel never leaves half a write behind.
func TestKilledWriteIsRolledBackOnOpen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := Init(root, Options{}); err != nil {
		t.Fatal(err)
	}
	before, err := Snapshot(root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s := h.FS.(*simFS).s
	// What a writer killed half-way through creating VFs leaves: the
	// record, then part of the change.
	tree, err := s.capture()
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(s.stateFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.saveTx(tree, state); err != nil {
		t.Fatal(err)
	}
	pf := "/sys/class/net/eth3/device"
	if err := os.WriteFile(s.p(pf+"/sriov_numvfs"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../0000:04:10.1", s.p(pf+"/virtfn0")); err != nil {
		t.Fatal(err)
	}
	if mid, _ := Snapshot(root); mid == before {
		t.Fatal("the half-made change did not show")
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if after, _ := Snapshot(root); after != before {
		t.Fatalf("after Open the tree differs from before the killed call:\n%s", after)
	}
}
