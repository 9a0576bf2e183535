// Command watchbench measures how long vfbypass watch takes to repair a
// simulated 82599 in queue mode after a reset, from the event to the
// repaired state: a flush of 1, 100 and 2046 ntuple rules, and an RSS table
// refilled with the driver's default. Each case runs -n times against one
// running watcher (the watcher's own latency: the event's time to the end
// of its repair); the median and the worst are printed beside the cost of
// a full up run (setup.Up with the same request) on the same drifted state.
//
//	go run ./tools/watchbench -n 20
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/watch"
)

const pf = "eth3"

func main() {
	n := flag.Int("n", 20, "repairs measured per case")
	ups := flag.Int("ups", 5, "full up runs measured per case")
	flag.Parse()
	fmt.Printf("watch repair latency on a simulated 82599 (queue mode, queue 15), %d repairs per case; up: %d runs\n", *n, *ups)
	fmt.Printf("%-22s %12s %12s %12s %12s\n", "case", "median", "worst", "up median", "up worst")
	for _, c := range []struct {
		name  string
		rules int
		table bool
	}{
		{"flush of 1 rule", 1, false},
		{"flush of 100 rules", 100, false},
		{"flush of 2046 rules", 2046, false},
		{"table rewrite", 1, true},
	} {
		if err := runCase(c.name, c.rules, c.table, *n, *ups); err != nil {
			fmt.Fprintln(os.Stderr, "watchbench:", err)
			os.Exit(1)
		}
	}
}

// bench is one case's simulated host with the PF up.
type bench struct {
	root, state string
	h           *host.Host
	req         setup.Request
	table       bool
}

func newBench(rules int, table bool) (*bench, error) {
	dir, err := os.MkdirTemp("", "watchbench-")
	if err != nil {
		return nil, err
	}
	b := &bench{root: filepath.Join(dir, "host"), state: filepath.Join(dir, "state"), table: table}
	if err := hostsim.Init(b.root, hostsim.Options{PF: pf, Model: "82599"}); err != nil {
		return nil, err
	}
	if b.h, err = hostsim.Open(b.root); err != nil {
		return nil, err
	}
	b.req = setup.Request{PF: pf, Mode: setup.ModeQueue, Queue: 15}
	for i := range rules {
		b.req.Rules = append(b.req.Rules, setup.RuleRequest{Flow: fmt.Sprintf("flow-type udp4 dst-port %d", 10000+i)})
	}
	_, err = setup.Up(context.Background(), b.h, b.req, setup.Options{StateDir: b.state})
	return b, err
}

// drift does what the case's reset does: the rules deleted (ixgbe_close),
// or the table refilled with the default (ixgbe_setup_reta).
func (b *bench) drift() error {
	if b.table {
		return b.h.Ethtool.SetIndir(pf, nil)
	}
	dev, err := b.h.Rules(pf)
	if err != nil {
		return err
	}
	defer dev.Close()
	locs, _, err := dev.RuleLocations()
	if err != nil {
		return err
	}
	for _, l := range locs {
		if err := dev.Delete(l); err != nil {
			return err
		}
	}
	return nil
}

// announce appends the reset's event to the simulator's event feed.
func (b *bench) announce() error {
	line, err := json.Marshal(host.Event{Time: time.Now(), Link: pf, Kind: host.EventReset, Detail: "watchbench"})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(b.root, hostsim.MarkerDir, "events.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func runCase(name string, rules int, table bool, n, ups int) error {
	b, err := newBench(rules, table)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer os.RemoveAll(filepath.Dir(b.root))
	lat, err := b.repairs(n)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var upTimes []time.Duration
	for range ups {
		if err := b.drift(); err != nil {
			return err
		}
		start := time.Now()
		if _, err := setup.Up(context.Background(), b.h, b.req, setup.Options{StateDir: b.state}); err != nil {
			return fmt.Errorf("%s: up: %w", name, err)
		}
		upTimes = append(upTimes, time.Since(start))
	}
	fmt.Printf("%-22s %12s %12s %12s %12s\n", name, median(lat), slices.Max(lat), median(upTimes), slices.Max(upTimes))
	return nil
}

// repairs runs a watcher and measures n repairs, one reset at a time.
func (b *bench) repairs(n int) ([]time.Duration, error) {
	var mu sync.Mutex
	var last []watch.Record
	ready := make(chan struct{})
	cfg := watch.Config{PF: pf, Options: setup.Options{StateDir: b.state}, Resync: time.Hour,
		// A bench repairs the same fields on purpose: no backoff.
		Backoff: watch.Backoff{Window: time.Nanosecond, After: 1 << 30, Min: time.Nanosecond, Max: time.Nanosecond},
		Log: func(r watch.Record) {
			mu.Lock()
			last = append(last, r)
			mu.Unlock()
		},
		Notify: func(s string) error {
			if s == "READY=1" {
				close(ready)
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- watch.Run(ctx, b.h, cfg) }()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		return nil, err
	}
	var lat []time.Duration
	for i := range n {
		mu.Lock()
		last = nil
		mu.Unlock()
		if err := b.drift(); err != nil {
			return nil, err
		}
		if err := b.announce(); err != nil {
			return nil, err
		}
		d, err := waitRepair(&mu, &last, 60*time.Second)
		if err != nil {
			return nil, fmt.Errorf("repair %d: %w", i+1, err)
		}
		lat = append(lat, d)
	}
	return lat, nil
}

// waitRepair waits for the watcher's records of one repair and returns its
// latency; a field it did not repair is an error.
func waitRepair(mu *sync.Mutex, recs *[]watch.Record, timeout time.Duration) (time.Duration, error) {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(time.Millisecond) {
		mu.Lock()
		got := append([]watch.Record(nil), *recs...)
		mu.Unlock()
		var worst float64
		for _, r := range got {
			if r.Field == "" {
				continue
			}
			if r.Result != "repaired" {
				return 0, fmt.Errorf("%s: %s: %s", r.Field, r.Result, r.Message)
			}
			worst = max(worst, r.LatencyMS)
		}
		if worst > 0 {
			return time.Duration(worst * float64(time.Millisecond)), nil
		}
	}
	return 0, errors.New("no repair logged")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Microsecond)
}
