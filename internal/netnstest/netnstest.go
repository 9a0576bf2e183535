// Package netnstest gives tests a network namespace of their own, with veth
// pairs in it, and runs code or commands inside it. Tests that use it skip
// when not root or when namespaces are unavailable.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// NS is a named network namespace (ip netns) that a test created.
type NS struct {
	Name string
	t    testing.TB
}

// New creates a fresh named namespace, deleted when the test ends. It skips
// the test when not root or when `ip netns` fails.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "vfbt-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	ns := &NS{Name: name, t: t}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return ns
}

// Run runs a shell command inside the namespace and fails the test on error.
func (n *NS) Run(cmdline string) string {
	n.t.Helper()
	out, err := exec.Command("ip", "netns", "exec", n.Name, "sh", "-c", cmdline).CombinedOutput()
	if err != nil {
		n.t.Fatalf("in netns %s: %s: %v: %s", n.Name, cmdline, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Handle returns the namespace's handle for netlink.
func (n *NS) Handle() netns.NsHandle {
	n.t.Helper()
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		n.t.Fatalf("open netns %s: %v", n.Name, err)
	}
	n.t.Cleanup(func() { h.Close() })
	return h
}

// Do runs f on an OS thread switched into the namespace.
func (n *NS) Do(f func()) {
	n.t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		n.t.Fatalf("get current netns: %v", err)
	}
	defer orig.Close()
	target := n.Handle()
	if err := netns.Set(target); err != nil {
		n.t.Fatalf("enter netns %s: %v", n.Name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
	}()
	f()
}

// Exec runs the current test binary inside the namespace with only the test
// named by run, with env added, and returns its combined output. The child
// sees the namespace's /proc/net, as any process started by `ip netns exec`.
func (n *NS) Exec(run string, env ...string) (string, error) {
	n.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.Name, os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// SendUDP sends count datagrams of size bytes of payload to addr from
// inside the namespace, in chunks of chunk, each after counted (the
// receiver's count so far) has caught up with what was sent. A receiver
// kept off its CPU by other load then finds every frame still in its ring
// (a chunk must fit in it) rather than missing some; one that loses
// frames fails the test after 20 s with the counts.
func (n *NS) SendUDP(addr *net.UDPAddr, count, size, chunk int, counted func() uint64) {
	n.t.Helper()
	n.Do(func() {
		c, err := net.DialUDP("udp4", nil, addr)
		if err != nil {
			n.t.Fatalf("netns %s: dial %s: %v", n.Name, addr, err)
		}
		defer c.Close()
		payload := make([]byte, size)
		for sent := 0; sent < count; {
			for end := min(sent+chunk, count); sent < end; sent++ {
				if _, err := c.Write(payload); err != nil {
					n.t.Fatalf("netns %s: send datagram %d to %s: %v", n.Name, sent, addr, err)
				}
			}
			for deadline := time.Now().Add(20 * time.Second); counted() < uint64(sent); time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					n.t.Fatalf("the receiver counted %d of the %d datagrams sent so far to %s", counted(), sent, addr)
				}
			}
		}
	})
}
