// Package journal keeps, per PF, the durable record of what vfbypass changed
// so that it can be undone: the write-ahead log of `up`'s steps with the
// state each replaced, and the ntuple rules vfbypass added.
//
// A journal is STATE_DIR/PF.json, replaced atomically (temp file, fsync,
// rename, fsync of the directory), so a process killed at any instruction
// leaves either the old or the new journal. A step's undo record is saved
// before the step touches the kernel; undo is idempotent, so `down` can
// always restore the original state. A journal is input, not authority:
// the state directory must belong to root (or the user running vfbypass)
// and be writable by nobody else, and journals are opened without
// following links. HOST_ROOT/run/lock/vfbypass/PCI_ADDRESS.lock serialises
// runs on one PF with flock(2), whatever state directory each run uses.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/sriov"
)

// Version is the journal format version Save writes (docs/journal.md
// defines every version). Version 4 gives a rule record the state a step
// has (State: pending, then applied) in place of version 3's pending flag.
// Version 3 made a rule record's spec its authority: the spec is
// required, words are the spec's display (flows.Words) and must parse
// back to it, and rss_context is recorded; step ids and rule locations
// are unique. Versions 1 to 3 are still read (upgrade): their rule
// records' pending flags become states, and the words of versions 1 and 2
// are replaced by the display of their spec, since vfbypass never acts on
// those words.
// A new step kind or a new optional field is not a new version: a
// vfbypass that does not know a kind refuses the journal (bad input) rather
// than misreading it.
const Version = 4

// oldestVersion is the oldest format Load still reads.
const oldestVersion = 1

// Entry is one journaled step.
type Entry struct {
	ID    string          `json:"id"`
	Kind  string          `json:"kind"`
	Desc  string          `json:"desc"`
	State State           `json:"state"`
	Undo  json.RawMessage `json:"undo,omitempty"`
}

// Rule is an ntuple rule vfbypass installed.
type Rule struct {
	Location uint32 `json:"location"`
	// Words is the rule in ethtool's words: the display of Spec
	// (flows.Words), written by Save and checked by Load; nothing acts on
	// it.
	Words string `json:"words"`
	// Spec is the hex of the struct ethtool_rx_flow_spec installed: what
	// removal requires the rule at Location to be, and what a reinstall
	// inserts.
	Spec string `json:"spec,omitempty"`
	// RSSContext is the rule's rss_context (with FLOW_RSS in the spec).
	RSSContext uint32 `json:"rss_context,omitempty"`
	// Source is "steer" or "up".
	Source Source `json:"source,omitempty"`
	// State is Pending for a record saved before its insert and not yet
	// confirmed (Location may hold this rule, the rule Replaces records,
	// or neither), Applied once confirmed.
	State State `json:"state"`
	// Replaces is the record of the vfbypass rule at Location this one
	// replaces, kept until the replacement is confirmed: the record a
	// rollback puts back, as an entry's earlier record is for a step.
	Replaces *Rule `json:"replaces,omitempty"`
}

// Journal is the record of one PF.
type Journal struct {
	Version   int             `json:"version"`
	PF        string          `json:"pf"`
	PFAddress string          `json:"pf_address,omitempty"`
	Created   time.Time       `json:"created"`
	Request   json.RawMessage `json:"request,omitempty"`
	Original  json.RawMessage `json:"original,omitempty"`
	Steps     []*Entry        `json:"steps"`
	Rules     []Rule          `json:"rules"`
}

// Entry returns the entry with id, or nil.
func (j *Journal) Entry(id string) *Entry {
	for _, e := range j.Steps {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// DropRule forgets the rule record at loc (a journal holds one per
// location).
func (j *Journal) DropRule(loc uint32) {
	kept := j.Rules[:0]
	for _, r := range j.Rules {
		if r.Location != loc {
			kept = append(kept, r)
		}
	}
	j.Rules = kept
}

// Active reports whether anything in the journal still needs undoing.
func (j *Journal) Active() bool {
	if len(j.Rules) > 0 {
		return true
	}
	for _, e := range j.Steps {
		if e.State.Live() {
			return true
		}
	}
	return false
}

// ErrCorrupt marks a journal that exists but cannot be read.
var ErrCorrupt = errors.New("journal is corrupt")

// Store is the state directory.
type Store struct {
	Dir string
	// Waiting, when set, is told once when Lock has waited WaitNotice for
	// another run on the same PF (for a line on stderr).
	Waiting func(string)
	// WaitNotice is how long Lock waits before it tells Waiting; zero
	// means a second.
	WaitNotice time.Duration
}

func (s Store) path(pf, ext string) (string, error) {
	if err := sriov.CheckIfname(pf); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, pf+ext), nil
}

// checkDir refuses a state directory that someone other than root (or the
// user running vfbypass) can write, as sshd's StrictModes does: whoever
// can write a journal can make down act on it. A missing directory is for
// the caller to handle.
func (s Store) checkDir() error {
	fi, err := os.Stat(s.Dir)
	if err != nil {
		return nil
	}
	return checkOwner("state directory", s.Dir, fi)
}

func checkOwner(what, p string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return outcome.Invalid(fmt.Sprintf("use a state directory owned by root ('chown root: %s', or the default /run/vfbypass)", p),
			"%s %s is owned by uid %d, not by root: its owner could make vfbypass act on any journal in it", what, p, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return outcome.Invalid(fmt.Sprintf("'chmod 700 %s' (vfbypass writes its journals there and nobody else should)", p),
			"%s %s is writable by group or others (mode %04o): whoever can write there could make vfbypass act on another device", what, p, fi.Mode().Perm())
	}
	return nil
}

// maxJournal bounds what Load reads: a journal of a full ixgbe table (8k
// rules) is about 5 MiB.
const maxJournal = 64 << 20

// readJournal reads p without following a link and refuses a file that is
// not vfbypass's: a link, not a regular file, writable by others, too big.
func readJournal(p string) ([]byte, error) {
	b, err := ReadOwned("journal", p, maxJournal)
	if errors.Is(err, errTooBig) {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrCorrupt, p, maxJournal>>20)
	}
	return b, err
}

var errTooBig = errors.New("file too big")

// ReadOwned reads a file vfbypass keeps in the state directory (what names
// its kind: "journal") with the journal's checks: not followed through a
// link, a regular file, owned by root (or the user running vfbypass) and
// writable by nobody else, at most max bytes.
func ReadOwned(what, p string, max int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, outcome.Invalid(fmt.Sprintf("remove the link %s: vfbypass writes its %ss as regular files", p, what), "%s %s is a symbolic link; not followed", what, p)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, outcome.Invalid(fmt.Sprintf("remove %s: vfbypass writes its %ss as regular files", p, what), "%s %s is not a regular file (%s)", what, p, fi.Mode().Type())
	}
	if err := checkOwner(what, p, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s %s: %w: more than %d bytes", what, p, errTooBig, max)
	}
	return b, nil
}

// Path returns the journal file of pf.
func (s Store) Path(pf string) string {
	p, _ := s.path(pf, ".json")
	return p
}

// Load reads pf's journal; it returns (nil, nil) when there is none, and an
// error wrapping ErrCorrupt when the file cannot be parsed.
func (s Store) Load(pf string) (*Journal, error) {
	p, err := s.path(pf, ".json")
	if err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	b, err := readJournal(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case outcome.Of(err) != nil:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read journal %s: %w", p, err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}
	if j.Version < oldestVersion || j.Version > Version {
		return nil, fmt.Errorf("%w: %s: format version %d, this vfbypass reads versions %d to %d (a newer vfbypass wrote it: take the PF down with that version)", ErrCorrupt, p, j.Version, oldestVersion, Version)
	}
	if j.PF != pf {
		return nil, fmt.Errorf("%w: %s: written for interface %q, not %q", ErrCorrupt, p, j.PF, pf)
	}
	if err := j.upgrade(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}
	return &j, nil
}

// Save writes j durably: temp file, fsync, rename, fsync of the directory.
func (s Store) Save(j *Journal) error {
	p, err := s.path(j.PF, ".json")
	if err != nil {
		return err
	}
	j.Version = Version
	if j.Steps == nil {
		j.Steps = []*Entry{}
	}
	if j.Rules == nil {
		j.Rules = []Rule{}
	}
	for i := range j.Rules {
		j.Rules[i].display()
	}
	// What Load would refuse is never written.
	if err := j.check(); err != nil {
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal %s: %w", p, err)
	}
	tmp, err := os.CreateTemp(s.Dir, "."+j.PF+".json.*")
	if err != nil {
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	// Keep the journal being replaced until the new one is durable, so
	// that a failing directory fsync after the rename can put it back:
	// callers take an error from Save to mean the journal is as before.
	prev := ""
	if _, err := os.Lstat(p); err == nil {
		prev = tmpName + ".prev"
		if err := os.Link(p, prev); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmpName, p); err != nil {
		os.Remove(tmpName)
		if prev != "" {
			os.Remove(prev)
		}
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	if err := syncDir(s.Dir); err != nil {
		if prev != "" {
			os.Rename(prev, p)
		} else {
			os.Remove(p)
		}
		syncDir(s.Dir)
		return fmt.Errorf("write journal %s: %w", p, err)
	}
	if prev != "" {
		os.Remove(prev)
	}
	return nil
}

// Remove deletes pf's journal durably.
func (s Store) Remove(pf string) error {
	p, err := s.path(pf, ".json")
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal %s: %w", p, err)
	}
	return syncDir(s.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, err)
	}
	return nil
}

// Lock is a held per-PF lock.
type Lock struct {
	f *os.File
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	if err != nil {
		return err
	}
	return cerr
}

// LockDir holds the per-PF locks, under the host root: one lock per PCI
// device, so that runs with different state directories serialise on one
// PF while simulated hosts (each its own root) do not share locks.
const LockDir = "/run/lock/vfbypass"

// lockFile is the lock of interface pf on host f: keyed by its PCI address,
// or by name for an interface without a PCI device.
func lockFile(f host.FS, pf string) (string, error) {
	dir, key, err := lockPlace(f, pf, true)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, key+".lock"), nil
}

// lockPlace is where pf's lock and rule claims live on host f: the lock
// directory under the host root (made when create; "" when it does not
// exist and !create) and the PF's key, its PCI address or "net-" and its
// name for an interface without a PCI device.
func lockPlace(f host.FS, pf string, create bool) (dir, key string, err error) {
	if _, err := f.Stat(sriov.NetDir(pf)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", outcome.Invalid("check the name with 'ip link' (or 'vfbypass doctor')", "PF %s: %w under %s", pf, sriov.ErrNoInterface, f.Path("/sys/class/net"))
		}
		return "", "", fmt.Errorf("lock %s: %w", pf, err)
	}
	key = "net-" + pf
	t, err := f.Readlink(sriov.NetDir(pf) + "/device")
	switch {
	case err == nil && path.Base(t) != "." && path.Base(t) != ".." && path.Base(t) != "/":
		key = path.Base(t)
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EINVAL):
		return "", "", fmt.Errorf("lock %s: %w", pf, err)
	}
	dir, err = f.InRoot(LockDir, true)
	if err != nil {
		return "", "", fmt.Errorf("lock directory %s: %w", f.Path(LockDir), err)
	}
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", fmt.Errorf("lock directory %s: %w", dir, err)
		}
	}
	// /run/lock is writable by everyone (sticky): a directory or link
	// someone else made there first would let them hold every PF's lock.
	fi, err := os.Lstat(dir)
	if !create && errors.Is(err, fs.ErrNotExist) {
		return "", key, nil
	}
	if err != nil {
		return "", "", fmt.Errorf("lock directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", "", outcome.Invalid(fmt.Sprintf("remove %s (vfbypass makes it, as a directory)", dir), "lock directory %s is not a directory (%s)", dir, fi.Mode().Type())
	}
	if err := checkOwner("lock directory", dir, fi); err != nil {
		return "", "", err
	}
	return dir, key, nil
}

// Lock takes the lock of pf on host f, waiting up to timeout for another
// vfbypass run on the same PF to finish (in any state directory), then
// removes the temporary files a killed run left in the state directory.
// An interface that does not exist is *outcome.BadInput wrapping
// sriov.ErrNoInterface, and nothing is created.
func (s Store) Lock(f host.FS, pf string, timeout time.Duration) (*Lock, error) {
	if _, err := s.path(pf, ".lock"); err != nil {
		return nil, err
	}
	p, err := lockFile(f, pf)
	if err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	start := time.Now()
	deadline, told := start.Add(timeout), false
	for {
		err := unix.Flock(int(fh.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			s.removeTemps(pf)
			RemoveReplaceTemps(filepath.Dir(p), strings.TrimSuffix(filepath.Base(p), ".lock")+".claims")
			return &Lock{f: fh}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			fh.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			fh.Close()
			return nil, fmt.Errorf("lock %s: another vfbypass run on %s still holds it after %s", p, pf, timeout)
		}
		if !told && s.Waiting != nil && time.Since(start) >= s.waitNotice() {
			told = true
			s.Waiting(fmt.Sprintf("waiting for another vfbypass run on %s to finish (it holds %s; at most %s)", pf, p, timeout))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s Store) waitNotice() time.Duration {
	if s.WaitNotice > 0 {
		return s.WaitNotice
	}
	return time.Second
}

// tempName matches the suffix of Save's temporary files after ".PF.json.":
// CreateTemp's digits, and the ".prev" link kept during the rename.
var tempName = regexp.MustCompile(`^[0-9]+(\.prev)?$`)

// removeTemps removes the temporary files of pf's journal that a run killed
// in Save left behind; the caller holds pf's lock, so no Save is under way.
// Best effort: a file that stays is removed by the next run.
func (s Store) removeTemps(pf string) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	prefix := "." + pf + ".json."
	removed := false
	for _, e := range ents {
		if rest, ok := strings.CutPrefix(e.Name(), prefix); ok && tempName.MatchString(rest) {
			removed = os.Remove(filepath.Join(s.Dir, e.Name())) == nil || removed
		}
	}
	if removed {
		syncDir(s.Dir)
	}
}

// CheckWritable reports whether the state directory can hold journals,
// creating it if needed, without leaving anything behind.
func (s Store) CheckWritable() error {
	if err := s.mkdir(); err != nil {
		return err
	}
	if err := s.checkDir(); err != nil {
		return err
	}
	// An unnamed file (O_TMPFILE) proves the directory writable and leaves
	// nothing behind even when the process dies or an unlink fails.
	fd, err := unix.Open(s.Dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("state directory %s is not writable: %w", s.Dir, err)
	}
	// A file system without O_TMPFILE: a named probe.
	f, err := os.CreateTemp(s.Dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", s.Dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("state directory %s: remove the probe file: %w", s.Dir, err)
	}
	return nil
}

// mkdir creates the state directory, explaining what stands in its way.
// Those errors are bad input (*outcome.BadInput) without a fix of their own: the
// caller knows which flag or setting named the directory.
func (s Store) mkdir() error {
	bad := func(format string, args ...any) error {
		return &outcome.BadInput{Err: fmt.Errorf(format, args...)}
	}
	if s.Dir == "" {
		return bad("the state directory is empty (--state-dir \"\")")
	}
	err := os.MkdirAll(s.Dir, 0o755)
	if err == nil {
		return nil
	}
	if fi, lerr := os.Lstat(s.Dir); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		t, _ := os.Readlink(s.Dir)
		if _, serr := os.Stat(s.Dir); errors.Is(serr, fs.ErrNotExist) {
			return bad("state directory %s is a symlink to %s, which does not exist", s.Dir, t)
		}
		return bad("state directory %s is a symlink to %s, which is not a directory", s.Dir, t)
	}
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, fs.ErrExist) {
		return bad("state directory %s cannot be created: %v (a file is in the way)", s.Dir, err)
	}
	return fmt.Errorf("create state directory %s: %w", s.Dir, err)
}

// Rules lists the rules vfbypass installed on pf.
func (s Store) Rules(pf string) ([]Rule, error) {
	j, err := s.Load(pf)
	if err != nil || j == nil {
		return nil, err
	}
	return j.Rules, nil
}
