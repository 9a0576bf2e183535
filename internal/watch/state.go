package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// The watcher's files beside the PF's journal: PF.watch is its state (what
// status shows), replaced whole after each reconcile; PF.watch.lock is
// locked (flock) while the watcher runs, so status knows whether one does
// and a second watcher for the PF is refused.
const (
	stateExt = ".watch"
	lockExt  = ".watch.lock"
	// maxState bounds what Inspect reads.
	maxState = 1 << 20
)

// stateFile is a running watcher's state and lock.
type stateFile struct {
	dir, pf string
	lock    *os.File
	st      inspect.Watcher
}

func openState(dir, pf string) (*stateFile, error) {
	store := journal.Store{Dir: dir}
	if err := store.CheckWritable(); err != nil {
		if outcome.FixOf(err) != "" {
			return nil, err
		}
		return nil, outcome.Invalid("pass the --state-dir up used (default /run/vfbypass)", "%v", err)
	}
	p := filepath.Join(dir, pf+lockExt)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("watcher lock %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, outcome.Invalid(fmt.Sprintf("stop the other watcher first (systemctl stop vfbypass-watch@%s), or let it watch", pf),
				"%w: %s (it holds %s)", ErrAlreadyWatched, pf, p)
		}
		return nil, fmt.Errorf("watcher lock %s: %w", p, err)
	}
	s := &stateFile{dir: dir, pf: pf, lock: f, st: inspect.Watcher{Running: true, PID: os.Getpid(), Started: time.Now().UTC()}}
	s.removeTemps()
	return s, nil
}

// update records a reconcile and writes the state file.
func (s *stateFile) update(trigger string, at time.Time, drift int, repaired []string, rerr error) error {
	s.st.LastReconcile, s.st.Drift = at.UTC(), drift
	if len(repaired) > 0 || rerr != nil {
		r := &inspect.WatcherRepair{Time: time.Now().UTC(), Trigger: trigger, Fields: repaired}
		if r.Fields == nil {
			r.Fields = []string{}
		}
		if rerr != nil {
			r.Error = rerr.Error()
		}
		s.st.LastRepair = r
	}
	b, err := json.Marshal(s.st)
	if err != nil {
		return err
	}
	if err := journal.ReplaceFile(s.dir, s.pf+stateExt, append(b, '\n')); err != nil {
		return fmt.Errorf("watcher state: %w", err)
	}
	return nil
}

// removeTemps removes the temporary state files of a watcher killed while
// writing one (this watcher holds the lock: no other writes).
func (s *stateFile) removeTemps() { journal.RemoveReplaceTemps(s.dir, s.pf+stateExt) }

// journalStamp changes when the PF's journal is written or removed.
func (s *stateFile) journalStamp() string {
	fi, err := os.Stat(journal.Store{Dir: s.dir}.Path(s.pf))
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
}

// remove deletes the state file and the lock (down took the PF down: the
// state directory is left as it was before up).
func (s *stateFile) remove() {
	os.Remove(filepath.Join(s.dir, s.pf+stateExt))
	os.Remove(filepath.Join(s.dir, s.pf+lockExt))
}

// Forget removes what a watcher of pf left in dir when it stopped before
// down (SIGTERM, a crash): its state file, a temporary one and its lock
// file, so down leaves the state directory as it was before up. A
// watcher still running (it holds the lock) is left alone: it sees the
// journal go and removes its files itself.
func Forget(dir, pf string) error {
	p := filepath.Join(dir, pf+lockExt)
	f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("watcher lock %s: %w", p, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil
		}
		return fmt.Errorf("watcher lock %s: %w", p, err)
	}
	s := &stateFile{dir: dir, pf: pf}
	s.removeTemps()
	s.remove()
	return nil
}

func (s *stateFile) close() {
	unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
	s.lock.Close()
}

// Inspect reads the state a watcher of pf keeps in dir (checked like a
// journal: a regular file owned by root, writable by nobody else), and
// whether the watcher runs now; nil when none ever ran.
func Inspect(dir, pf string) (*inspect.Watcher, error) {
	p := filepath.Join(dir, pf+stateExt)
	b, err := journal.ReadOwned("watcher state", p, maxState)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var w inspect.Watcher
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("watcher state %s: %w", p, err)
	}
	w.Running = false
	if f, err := os.OpenFile(filepath.Join(dir, pf+lockExt), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0); err == nil {
		w.Running = errors.Is(unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
		f.Close()
	}
	return &w, nil
}
