//go:build cgo && !nodpdk

package rx

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/pkg/rx/internal/ringfeed"
)

// TestRestartDueAfterSettle walks restartState through a PF reset: the
// event, while the link is still up, waits for the settle time; a link seen
// down then waits for it to be up that long again; a slow restart (a VF's
// unanswered reset message) stays due and waits again, at most
// restartTries times in a row; a link flap without an event is a reason
// of its own.
func TestRestartDueAfterSettle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := restartState{settle: 2 * time.Second}
	steps := []struct {
		resets uint32
		link   int
		ms     int
		want   bool
	}{
		{0, 1, 0, false},    // nothing happened; the link up for 10 s
		{1, 1, 100, false},  // the event, before the PF's reset drops the link: settle from here
		{1, 0, 200, false},  // down
		{1, 1, 900, false},  // up again: settle from here
		{1, 1, 2800, false}, // 1.9 s
		{1, 1, 2900, true},  // 2 s
	}
	s.upSince = at(0).Add(-10 * time.Second)
	for i, st := range steps {
		if got := s.due(st.resets, st.link, at(st.ms)); got != st.want {
			t.Fatalf("step %d (%+v): due %v, want %v (state %+v)", i, st, got, st.want, s)
		}
	}
	if s.pending != "reset event" {
		t.Fatalf("reason %q, want reset event", s.pending)
	}
	// Slow restarts: tried again after the settle time, restartTries in all.
	now := at(2900)
	for try := 1; try < restartTries; try++ {
		now = now.Add(restartSlow)
		if !s.done(restartSlow, now) {
			t.Fatalf("slow restart %d not to be tried again", try)
		}
		if s.due(1, 1, now.Add(time.Second)) {
			t.Fatalf("slow restart %d: due again before the settle time", try)
		}
		now = now.Add(s.settle)
		if !s.due(1, 1, now) {
			t.Fatalf("slow restart %d: not due again after the settle time", try)
		}
	}
	if s.done(restartSlow, now) {
		t.Fatalf("restart %d tried again: at most %d in a row", restartTries, restartTries)
	}
	if s.count != restartTries || s.due(1, 1, now.Add(time.Hour)) {
		t.Fatalf("after the last try: count %d, want %d, and nothing due", s.count, restartTries)
	}
	// A flap without an event.
	s.due(1, 0, now.Add(time.Hour))
	if s.due(1, 1, now.Add(time.Hour+time.Second)) || !s.due(1, 1, now.Add(time.Hour+3*time.Second)) || s.pending != "link down and up" {
		t.Fatalf("link down and up: state %+v", s)
	}
	if s.done(time.Millisecond, now) || s.pending != "" {
		t.Fatalf("a fast restart left %q due", s.pending)
	}
}

// waitPackets waits until the port's loop has counted at least n packets
// (at most wait), then lets settle pass so that more would show.
func waitPackets(p *Port, n uint64, wait, settle time.Duration) uint64 {
	for deadline := time.Now().Add(wait); Sum(p.Counters()).Packets < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(settle)
	return Sum(p.Counters()).Packets
}

// TestRecoverRestartsOnLinkDownUp takes net_ring0's link down and up under
// a running loop (on a worker lcore): Recover does nothing while the link
// is down, restarts the port once it is up (stop, start, the loop
// relaunched), and the loop then counts exactly what was sent before and
// after.
func TestRecoverRestartsOnLinkDownUp(t *testing.T) {
	prefix, child := inChild(t, "TestRecoverRestartsOnLinkDownUp")
	if !child {
		return
	}
	const n = 1000
	e := childEAL(t, prefix, "-l", "0,1", "--vdev", "net_ring0")
	defer e.Close()
	p, err := e.OpenPort("net_ring0", PortConfig{Mbufs: 2047})
	if err != nil {
		t.Fatal(err)
	}
	p.rs.settle = 0
	l, err := p.Start(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	feed := func() {
		if err := ringfeed.Feed("ETH_RXTX0_net_ring0", n, 64, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	feed()
	if got := waitPackets(p, n, 10*time.Second, 50*time.Millisecond); got != n {
		t.Fatalf("before the flap: %d packets, want %d", got, n)
	}
	if r, err := p.Recover(); r != nil || err != nil {
		t.Fatalf("Recover with nothing happened: %+v, %v; want nil, nil", r, err)
	}
	if err := p.setLink(false); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Recover(); r != nil || err != nil {
		t.Fatalf("Recover with the link down: %+v, %v; want nil, nil (wait for the link)", r, err)
	}
	if err := p.setLink(true); err != nil {
		t.Fatal(err)
	}
	r, err := p.Recover()
	if err != nil || r == nil || r.Reason != "link down and up" || r.Count != 1 {
		t.Fatalf("Recover after the link came up: %+v, %v; want restart 1 for link down and up", r, err)
	}
	if r, err := p.Recover(); r != nil || err != nil {
		t.Fatalf("Recover right after the restart: %+v, %v; want nil, nil", r, err)
	}
	feed()
	if got := waitPackets(p, 2*n, 10*time.Second, 50*time.Millisecond); got != 2*n {
		t.Fatalf("after the restart: %d packets in all, want %d", got, 2*n)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if c := p.Restarts(); c != 1 {
		t.Fatalf("Restarts %d, want 1", c)
	}
}

// TestRecoverRestartsOnResetEvent counts a reset event as the PMD's
// callback does, with the loop on the main lcore (the EAL thread, which
// the restart needs free): Recover restarts the port and the loop goes on
// counting.
func TestRecoverRestartsOnResetEvent(t *testing.T) {
	prefix, child := inChild(t, "TestRecoverRestartsOnResetEvent")
	if !child {
		return
	}
	e := childEAL(t, prefix, "-l", "0", "--vdev", "net_null0")
	defer e.Close()
	p, err := e.OpenPort("net_null0", PortConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if p.resets == nil {
		t.Fatalf("no reset callback registered (warnings %q)", p.Warnings)
	}
	p.rs.settle = 0
	l, err := p.Start(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	before := waitPackets(p, 1, 5*time.Second, 0)
	if before == 0 {
		t.Fatal("the loop counted nothing in 5 s")
	}
	p.fakeReset()
	r, err := p.Recover()
	if err != nil || r == nil || r.Reason != "reset event" || r.Count != 1 {
		t.Fatalf("Recover after a reset event: %+v, %v; want restart 1 for a reset event", r, err)
	}
	mid := Sum(p.Counters()).Packets
	if after := waitPackets(p, mid+1, 5*time.Second, 0); after <= mid {
		t.Fatalf("the loop counted nothing in 5 s after the restart (%d before it)", mid)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverRacingStopAndClose restarts a running port again and again
// from several goroutines while others read its counters and statistics
// and the loop is stopped and the EAL closed: every call either succeeds
// or says ErrClosed. Run it with -race (test-rx-race does).
func TestRecoverRacingStopAndClose(t *testing.T) {
	prefix, child := inChild(t, "TestRecoverRacingStopAndClose")
	if !child {
		return
	}
	e := childEAL(t, prefix, "-l", "0,1", "--vdev", "net_null0")
	p, err := e.OpenPort("net_null0", PortConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p.rs.settle = 0
	l, err := p.Start(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var err error
				if i%2 == 0 {
					p.fakeReset()
					_, err = p.Recover()
				} else {
					p.Counters()
					_, err = p.Stats()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if p.Restarts() == 0 {
		t.Error("no restart before Stop: the race was not run")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call racing Stop and Close: %v, want ErrClosed", err)
		}
	}
}
