package setup_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// journalWrites runs f and counts the journal saves and removals in dir:
// each save renames a temporary file over PF.json, each removal unlinks it.
func journalWrites(t *testing.T, dir string, f func()) int {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_DELETE); err != nil {
		t.Fatal(err)
	}
	n := 0
	buf := make([]byte, 1<<16)
	drain := func() {
		for {
			k, err := unix.Read(fd, buf)
			if k <= 0 || err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= k; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				if string(trimNUL(name)) == "eth3.json" {
					n++
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	for {
		select {
		case <-done:
			drain()
			return n
		default:
			drain()
			var fds = []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			unix.Poll(fds, 10)
		}
	}
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// The journal is written a fixed number of times per command, whatever the
// number of rules and VFs: down of 8 VFs and 200 rules saves once after
// the rules and removes the journal after the steps (it saved twice per
// rule and once per step), and a no-op up writes nothing.
func TestJournalWritesDoNotGrowWithRulesAndVFs(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{TotalVFs: 8})
	r := req(8)
	for i := 0; i < 200; i++ {
		r.Rules = append(r.Rules, setup.RuleRequest{VF: ip(i % 8), Flow: fmt.Sprintf("flow-type tcp4 dst-ip 10.0.%d.%d dst-port 80", i/256, i%256)})
	}
	for k := 0; k < 8; k++ {
		r.VFs = append(r.VFs, setup.VFRequest{Index: k, MAC: fmt.Sprintf("02:00:00:00:00:%02x", k+1)})
	}
	ctx := context.Background()
	up := journalWrites(t, l.state, func() {
		if _, err := setup.Up(ctx, l.h, r, l.opts()); err != nil {
			t.Errorf("up: %v", err)
		}
	})
	noop := journalWrites(t, l.state, func() {
		if _, err := setup.Up(ctx, l.h, r, l.opts()); err != nil {
			t.Errorf("no-op up: %v", err)
		}
	})
	down := journalWrites(t, l.state, func() {
		if _, err := setup.Down(ctx, l.h, "eth3", l.opts()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	t.Logf("journal writes: up %d, no-op up %d, down %d", up, noop, down)
	if noop != 0 || down > 2 {
		t.Errorf("journal writes: no-op up %d, down %d; want 0 and at most 2", noop, down)
	}
}
