package watch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/simtest"
	"github.com/vfbypass/vfbypass/internal/watch"
)

// sim is a simulated host with a PF that up configured.
type sim struct {
	t           *testing.T
	root, state string
	h           *host.Host
}

func newSim(t *testing.T, req setup.Request) *sim {
	t.Helper()
	s := &sim{t: t, state: simtest.StateDir(t)}
	s.root, s.h = simtest.Host(t, hostsim.Options{PF: "eth3", Model: "82599"})
	if _, err := setup.Up(context.Background(), s.h, req, setup.Options{StateDir: s.state}); err != nil {
		t.Fatalf("up: %v", err)
	}
	return s
}

// event appends ev to the simulator's event feed, as the simulator does
// when it models a driver reset.
func (s *sim) event(kind host.EventKind, detail string) {
	s.t.Helper()
	b, err := json.Marshal(host.Event{Time: time.Now(), Link: "eth3", Kind: kind, Detail: detail})
	if err != nil {
		s.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(s.root, hostsim.MarkerDir, "events.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		s.t.Fatal(err)
	}
}

// flush does what ixgbe's reset does to the PF: every ntuple rule is gone
// and the RSS table is the driver's default again.
func (s *sim) flush() {
	s.t.Helper()
	dev, err := s.h.Rules("eth3")
	if err != nil {
		s.t.Fatal(err)
	}
	defer dev.Close()
	locs, _, err := dev.RuleLocations()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, loc := range locs {
		if err := dev.Delete(loc); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := s.h.Ethtool.SetIndir("eth3", nil); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) drift() []setup.Drift {
	s.t.Helper()
	st, err := inspect.Status(s.h, "eth3", s.state)
	if err != nil {
		s.t.Fatal(err)
	}
	return st.PFs[0].Drift
}

// running is a watcher in a goroutine, with its log.
type running struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{}
	mu     sync.Mutex
	log    []watch.Record
}

func (s *sim) watch(cfg watch.Config) *running {
	s.t.Helper()
	r := &running{t: s.t, done: make(chan error, 1), ready: make(chan struct{})}
	cfg.PF, cfg.Options.StateDir = "eth3", s.state
	cfg.Log = func(rec watch.Record) {
		r.mu.Lock()
		r.log = append(r.log, rec)
		r.mu.Unlock()
	}
	var once sync.Once
	cfg.Notify = func(st string) error {
		if st == "READY=1" {
			once.Do(func() { close(r.ready) })
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- watch.Run(ctx, s.h, cfg) }()
	select {
	case <-r.ready:
	case err := <-r.done:
		s.t.Fatalf("watch ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		s.t.Fatal("watch not ready after 10 s")
	}
	s.t.Cleanup(func() { r.stop() })
	return r
}

func (r *running) stop() error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(10 * time.Second):
		r.t.Fatal("watch did not stop 10 s after its context ended")
	}
	return nil
}

// records returns the log's records with result res for fields starting
// with prefix.
func (r *running) records(prefix, res string) []watch.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []watch.Record
	for _, x := range r.log {
		if x.Result == res && strings.HasPrefix(x.Field, prefix) {
			out = append(out, x)
		}
	}
	return out
}

// until polls cond every 5 ms for up to d.
func until(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestWatchRepairsAResetOnEvents: in queue mode with two rules, a reset
// (rules flushed, table refilled) announced by link events is repaired
// from the events, without waiting for the resync; each field is a log
// record and a metric, status shows the watcher and its last repair.
func TestWatchRepairsAResetOnEvents(t *testing.T) {
	t.Parallel()
	req := setup.Request{PF: "eth3", Mode: setup.ModeQueue, Queue: 15,
		Rules: []setup.RuleRequest{{Flow: "flow-type udp4 dst-port 4789"}, {Flow: "flow-type udp4 dst-port 4790"}}}
	s := newSim(t, req)
	m := watch.NewMetrics("eth3", watch.BuildInfo{Version: "test", Commit: "c", GoVersion: "go"})
	w := s.watch(watch.Config{Resync: time.Hour, Metrics: m})
	s.flush()
	if d := s.drift(); len(d) != 3 {
		t.Fatalf("drift after the flush: %v; want rss.indir and two rules", d)
	}
	s.event(host.EventLink, "down")
	s.event(host.EventLink, "up")
	if !until(5*time.Second, func() bool { return len(s.drift()) == 0 }) {
		t.Fatalf("drift 5 s after the events: %v", s.drift())
	}
	if !until(time.Second, func() bool { return len(w.records("", "repaired")) == 3 }) {
		t.Fatalf("repaired records %v; want 3", w.records("", "repaired"))
	}
	for _, rec := range w.records("", "repaired") {
		if rec.Trigger != "event link down" || rec.LatencyMS <= 0 || rec.Want == "" {
			t.Errorf("record %+v: want trigger 'event link down', a latency and the wanted value", rec)
		}
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	body := simtest.Scrape(t, srv.URL)
	for _, want := range []string{
		`vfbypass_watch_repairs_total{field="rule",pf="eth3",result="repaired"} 2`,
		`vfbypass_watch_repairs_total{field="rss.indir",pf="eth3",result="repaired"} 1`,
		`vfbypass_watch_events_total{kind="link",pf="eth3"} 2`,
		`vfbypass_watch_drift_fields{pf="eth3"} 0`,
		`vfbypass_watch_build_info{commit="c",goversion="go",pf="eth3",version="test"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
	st, err := watch.Inspect(s.state, "eth3")
	if err != nil || st == nil || !st.Running || st.LastRepair == nil || len(st.LastRepair.Fields) != 3 {
		t.Fatalf("watcher state %+v %v; want running, last repair of 3 fields", st, err)
	}
	if err := w.stop(); err != nil {
		t.Fatalf("watch after its context ended: %v", err)
	}
	if st, err := watch.Inspect(s.state, "eth3"); err != nil || st == nil || st.Running {
		t.Fatalf("watcher state after stop %+v %v; want not running", st, err)
	}
}

// TestWatchBacksOffAFight: a VF MAC another manager keeps setting is
// repaired three times, then reported with a backoff, and repaired again
// only when the backoff ends, however many events come meanwhile.
func TestWatchBacksOffAFight(t *testing.T) {
	t.Parallel()
	s := newSim(t, setup.Request{PF: "eth3", NumVFs: 2, Driver: "none", VFs: []setup.VFRequest{{Index: 0, MAC: "02:00:00:00:00:0a"}}})
	w := s.watch(watch.Config{Resync: time.Hour, Backoff: watch.Backoff{Window: time.Minute, After: 3, Min: 700 * time.Millisecond, Max: 5 * time.Second}})
	other, _ := net.ParseMAC("02:00:00:00:00:0b")
	change := func() {
		if err := s.h.Links.SetVFMAC("eth3", 0, other); err != nil {
			t.Fatal(err)
		}
		s.event(host.EventVF, "vf 0 mac")
	}
	for i := 1; i <= 3; i++ {
		change()
		if !until(5*time.Second, func() bool { return len(w.records("vf0.mac", "repaired")) == i }) {
			t.Fatalf("repair %d of vf0.mac not logged: %v", i, w.log)
		}
	}
	if b := w.records("vf0.mac", "backoff"); len(b) != 1 || !strings.Contains(b[0].Message, "700ms") {
		t.Fatalf("backoff records %v; want one saying 700ms", b)
	}
	start := time.Now()
	change()
	time.Sleep(100 * time.Millisecond)
	change()
	time.Sleep(200 * time.Millisecond)
	if n := len(w.records("vf0.mac", "repaired")); n != 3 {
		t.Fatalf("%d repairs during the backoff; want none beyond the 3", n)
	}
	if !until(5*time.Second, func() bool { return len(w.records("vf0.mac", "repaired")) == 4 }) {
		t.Fatal("vf0.mac not repaired after the backoff")
	}
	if e := time.Since(start); e < 600*time.Millisecond {
		t.Fatalf("repaired %v after the change; the backoff was 700ms", e)
	}
	if rec := w.records("vf0.mac", "repaired")[3]; rec.Trigger != "retry" {
		t.Errorf("fourth repair's trigger %q; want retry", rec.Trigger)
	}
	if b := w.records("vf0.mac", "backoff"); len(b) != 2 || !strings.Contains(b[1].Message, "1.4s") {
		t.Fatalf("backoff records %v; want a second saying 1.4s", b)
	}
}

// TestWatchRepairLeavesAFieldInBackoff: while VF 0's MAC is in backoff
// (another manager keeps setting it), VF 1's MAC drifts: the repair puts VF
// 1's back and leaves VF 0's as the other manager set it, logged once as
// held.
func TestWatchRepairLeavesAFieldInBackoff(t *testing.T) {
	t.Parallel()
	s := newSim(t, setup.Request{PF: "eth3", NumVFs: 2, Driver: "none", VFs: []setup.VFRequest{
		{Index: 0, MAC: "02:00:00:00:00:0a"}, {Index: 1, MAC: "02:00:00:00:00:1a"}}})
	w := s.watch(watch.Config{Resync: time.Hour, Backoff: watch.Backoff{Window: time.Minute, After: 3, Min: 10 * time.Second, Max: 20 * time.Second}})
	set := func(vf int, mac string) {
		hw, _ := net.ParseMAC(mac)
		if err := s.h.Links.SetVFMAC("eth3", vf, hw); err != nil {
			t.Fatal(err)
		}
		s.event(host.EventVF, fmt.Sprintf("vf %d mac", vf))
	}
	for i := 1; i <= 3; i++ {
		set(0, "02:00:00:00:00:0b")
		if !until(5*time.Second, func() bool { return len(w.records("vf0.mac", "repaired")) == i }) {
			t.Fatalf("repair %d of vf0.mac not logged: %v", i, w.log)
		}
	}
	if b := w.records("vf0.mac", "backoff"); len(b) != 1 {
		t.Fatalf("backoff records %v; want one", b)
	}
	set(0, "02:00:00:00:00:0b")
	set(1, "02:00:00:00:00:1b")
	if !until(5*time.Second, func() bool { return len(w.records("vf1.mac", "repaired")) == 1 }) {
		t.Fatalf("vf1.mac not repaired while vf0.mac is in backoff: %v", w.log)
	}
	vfs, err := s.h.Links.VFs("eth3")
	if err != nil || vfs[0].MAC.String() != "02:00:00:00:00:0b" || vfs[1].MAC.String() != "02:00:00:00:00:1a" {
		t.Fatalf("VFs after the repair: %+v %v; want VF 0 still 02:00:00:00:00:0b (in backoff), VF 1 back to 02:00:00:00:00:1a", vfs, err)
	}
	if n := len(w.records("vf0.mac", "repaired")); n != 3 {
		t.Fatalf("vf0.mac repaired %d times; want 3 (none during its backoff)", n)
	}
	set(1, "02:00:00:00:00:1c")
	if !until(5*time.Second, func() bool { return len(w.records("vf1.mac", "repaired")) == 2 }) {
		t.Fatalf("vf1.mac not repaired a second time: %v", w.log)
	}
	if h := w.records("vf0.mac", "held"); len(h) != 1 || h[0].Have != "02:00:00:00:00:0b" {
		t.Fatalf("held records of vf0.mac %v; want one, once per backoff, with the other manager's MAC", h)
	}
	if d := s.drift(); len(d) != 1 || d[0].Field != "vf0.mac" {
		t.Fatalf("drift %v; want only vf0.mac", d)
	}
}

// TestWatchEndsWithDown: down makes the watcher return nil and remove its
// files; a watcher of a PF that is not up is refused.
func TestWatchEndsWithDown(t *testing.T) {
	t.Parallel()
	s := newSim(t, setup.Request{PF: "eth3", NumVFs: 2, Driver: "none", VFs: []setup.VFRequest{{Index: 0, MAC: "02:00:00:00:00:0a"}}})
	w := s.watch(watch.Config{Resync: time.Hour})
	if _, err := setup.Down(context.Background(), s.h, "eth3", setup.Options{StateDir: s.state}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup's stop
		if err != nil {
			t.Fatalf("watch after down: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch still runs 5 s after down")
	}
	if ents, err := os.ReadDir(s.state); err != nil || len(ents) != 0 {
		t.Fatalf("state directory after down and the watcher's end: %v %v; want empty", ents, err)
	}
	if err := watch.Run(context.Background(), s.h, watch.Config{PF: "eth3", Options: setup.Options{StateDir: s.state}}); err == nil || !strings.Contains(err.Error(), "vfbypass up eth3") {
		t.Fatalf("watch of a PF that is not up: %v", err)
	}
	if ents, err := os.ReadDir(s.state); err != nil || len(ents) != 0 {
		t.Fatalf("state directory after a watcher of a PF that is not up: %v %v; want empty", ents, err)
	}
}
