package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// fakeRxEnv makes the test binary act as vfbypass-rx in queue mode on a
// simulated host: it attaches and detaches a native XDP program as
// net_af_xdp does, with the repair handshake of the real loop.
const fakeRxEnv = "VFBYPASS_TEST_FAKE_RX"

// fakeRx is the receive loop's side: starting, the attach (an ixgbe
// reset), attached and the wait for the repair; then it "counts", which
// here is reporting on stdout whether the queue is out of RSS and which
// rules the PF has; then the detach.
func fakeRx(args []string) int {
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	root, pf := flag("--host-root"), flag("--pf")
	q, _ := strconv.Atoi(flag("--queue"))
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "fake rx: %v\n", err)
		return 1
	}
	link, err := cli.ReceiverLink()
	if err != nil || link == nil {
		return fail(fmt.Errorf("no repair link: %v", err))
	}
	if err := link.Send(cli.RepairMsg{Event: cli.RepairStarting, PF: pf, Queue: q, HostRoot: root, StateDir: flag("--state-dir")}); err != nil {
		return fail(err)
	}
	if err := hostsim.AttachXDP(root, pf, hostsim.XDPNative); err != nil {
		return fail(err)
	}
	if m, err := link.Attached(); err != nil || m.Error != "" {
		return fail(fmt.Errorf("repair: %v %s", err, m.Error))
	}
	hidden, rules, err := simQueueState(root, pf, q)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("counting: queue %d hidden %v, rules %v\n", q, hidden, rules)
	if err := hostsim.DetachXDP(root, pf); err != nil {
		return fail(err)
	}
	return 0
}

// simQueueState says whether queue q is out of pf's table and lists pf's
// rule locations.
func simQueueState(root, pf string, q int) (bool, []uint32, error) {
	h, err := hostsim.Open(root)
	if err != nil {
		return false, nil, err
	}
	defer h.Close()
	t, err := h.Ethtool.Indir(pf)
	if err != nil {
		return false, nil, err
	}
	dev, err := h.Rules(pf)
	if err != nil {
		return false, nil, err
	}
	defer dev.Close()
	locs, _, err := dev.RuleLocations()
	slices.Sort(locs)
	return !slices.Contains(t, uint32(q)), locs, err
}

// rx --queue on a PF up in queue mode: the receiver's XDP attach resets the
// 82599 (ixgbe_setup_tc: the table is refilled, the rules flushed); the
// control plane puts the table, vfbypass's rule and the operator's rule
// back before the receiver counts, and again after its detach, within the
// same command.
func TestRxQueueRepairsAfterAttachAndDetach(t *testing.T) {
	root, state := simHost(t, "--ntuple")
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	dev.Close()
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "steer", "add", "eth3", "flow-type", "udp4", "dst-port", "4790", "action", "2", "loc", "100"); code != 0 {
		t.Fatalf("steer add: %d %s", code, e)
	}
	if code, _, e := vfb("--host-root", root, "--state-dir", state, "up", "eth3", "--mode", "queue", "--queue", "15"); code != 0 {
		t.Fatalf("up --mode queue: %d %s", code, e)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, rxBinary)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(fakeRxEnv, "1")
	code, out, errs := vfb("--host-root", root, "--state-dir", state, "rx", "--pf", "eth3", "--queue", "15")
	if code != 0 || !strings.Contains(out, "counting: queue 15 hidden true, rules [100]") {
		t.Fatalf("rx --queue: code %d\nstdout %s\nstderr %s", code, out, errs)
	}
	for _, want := range []string{"take queue 15 out of RSS again after the receiver's XDP attach", "take queue 15 out of RSS again after the receiver's XDP detach"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
	if hidden, rules, err := simQueueState(root, "eth3", 15); err != nil || !hidden || !slices.Equal(rules, []uint32{100}) {
		t.Fatalf("after rx: queue 15 hidden %v, rules %v, %v", hidden, rules, err)
	}
}
