package host_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/netnstest"
)

// TestKernelEventsOnAVeth: on a veth in a namespace of its own, ip link set
// down, an MTU change, ethtool -L and ethtool -K arrive as link, mtu,
// channels and features events, for the veth only (its peer's are not
// delivered); the channel closes with no error when the context ends.
func TestKernelEventsOnAVeth(t *testing.T) {
	if _, err := exec.LookPath("ethtool"); err != nil {
		t.Skip("needs the ethtool command")
	}
	ns := netnstest.New(t)
	ns.Run("ip link add name vfbe0 numtxqueues 4 numrxqueues 4 type veth peer name vfbe1 numtxqueues 4 numrxqueues 4 && ip link set dev vfbe0 up && ip link set dev vfbe1 up")
	nsh := ns.Handle()
	ev := host.NewKernelEvents(&nsh)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := ev.Subscribe(ctx, "vfbe0")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cmd  string
		kind host.EventKind
	}{
		{"ip link set dev vfbe1 mtu 1400", ""}, // the peer: nothing
		{"ip link set dev vfbe0 down", host.EventLink},
		{"ip link set dev vfbe0 mtu 1400", host.EventMTU},
		{"ethtool -L vfbe0 rx 2 tx 2", host.EventChannels},
		{"ethtool -K vfbe0 tx off", host.EventFeatures},
	}
	for _, s := range steps {
		start := time.Now()
		ns.Run(s.cmd)
		if s.kind == "" {
			continue
		}
		// A command may send more than one message (a link down drops the
		// carrier too, a feature change is also a link message): the
		// wanted kind must come among them.
		deadline := time.After(5 * time.Second)
		for got := false; !got; {
			select {
			case e, ok := <-ch:
				if !ok {
					t.Fatalf("%s: channel closed: %v", s.cmd, ev.Err())
				}
				if e.Link != "vfbe0" {
					t.Fatalf("%s: event %+v about another link", s.cmd, e)
				}
				if got = e.Kind == s.kind; got {
					t.Logf("%s: %s %q after %v", s.cmd, e.Kind, e.Detail, time.Since(start).Round(time.Microsecond))
				}
			case <-deadline:
				t.Fatalf("%s: no %s event in 5 s", s.cmd, s.kind)
			}
		}
	}
	cancel()
	for range ch {
	}
	if err := ev.Err(); err != nil {
		t.Fatalf("Err after the context ended: %v", err)
	}
}
