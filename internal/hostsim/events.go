package hostsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
)

// eventsFile is the simulator's event feed: one JSON host.Event a line,
// appended by the calls and sim commands that the real kernel would announce
// with an rtnetlink or ethtool netlink message. It is a log, not host
// state: Snapshot leaves it out.
const eventsFile = "events.jsonl"

// eventPoll is how often a subscription looks for new lines; the kernel's
// netlink messages arrive within microseconds, a poll this short keeps the
// watcher's latency on the simulator in the same order as on a host.
const eventPoll = 5 * time.Millisecond

func (s *Sim) eventsPath() string { return filepath.Join(s.root, MarkerDir, eventsFile) }

// emit appends ev to the event feed. Callers hold the simulator's lock, so
// lines never interleave.
func (s *Sim) emit(ev host.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("simulator: event: %w", err)
	}
	f, err := os.OpenFile(s.eventsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("simulator: event feed: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("simulator: event feed %s: %w", s.eventsPath(), err)
	}
	return nil
}

// simEvents implements host.Events by following the event feed.
type simEvents struct {
	s   *Sim
	mu  sync.Mutex
	err error
}

// Subscribe implements host.Events: lines appended after the call, for
// ifname, are delivered in order.
func (e *simEvents) Subscribe(ctx context.Context, ifname string) (<-chan host.Event, error) {
	var off int64
	switch st, err := os.Stat(e.s.eventsPath()); {
	case err == nil:
		off = st.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("simulator: event feed: %w", err)
	}
	e.setErr(nil)
	ch := make(chan host.Event, 64)
	go e.follow(ctx, ifname, off, ch)
	return ch, nil
}

// Err implements host.Events.
func (e *simEvents) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *simEvents) setErr(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
}

// follow reads complete lines from off on, every eventPoll, until ctx is
// done or the feed cannot be read.
func (e *simEvents) follow(ctx context.Context, ifname string, off int64, ch chan<- host.Event) {
	defer close(ch)
	t := time.NewTicker(eventPoll)
	defer t.Stop()
	for {
		evs, next, err := readEvents(e.s.eventsPath(), off)
		if err != nil {
			e.setErr(err)
			return
		}
		off = next
		for _, ev := range evs {
			if ev.Link != ifname {
				continue
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readEvents returns the complete lines of the feed at path from off on and
// the offset after the last of them; a missing feed has none.
func readEvents(path string, off int64) ([]host.Event, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, off, nil
	}
	if err != nil {
		return nil, off, fmt.Errorf("simulator: event feed: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, off, fmt.Errorf("simulator: event feed %s: %w", path, err)
	}
	var evs []host.Event
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return evs, off, nil // a partial last line waits for its end
		}
		if err != nil {
			return evs, off, fmt.Errorf("simulator: event feed %s: %w", path, err)
		}
		off += int64(len(line))
		var ev host.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return evs, off, fmt.Errorf("simulator: event feed %s at byte %d: %w", path, off-int64(len(line)), err)
		}
		evs = append(evs, ev)
	}
}
