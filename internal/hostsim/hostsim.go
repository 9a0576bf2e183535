// Package hostsim simulates a Linux host with an SR-IOV NIC in a directory
// tree: sysfs, procfs and /dev laid out as the kernel lays them out (with
// relative symlinks, so the tree works wherever it is), and writes that
// follow the kernel's rules: drivers/pci/iov.c for sriov_numvfs, the PCI
// driver core for driver_override/bind/unbind/drivers_probe, vfio for group
// viability and /dev/vfio nodes, rtnetlink's VF settings and ixgbe's RX
// queue layout. What a directory cannot carry (VF settings, features,
// injected faults) persists as JSON in DIR/.vfbypass-sim/, under an flock,
// so separate processes see one consistent host.
package hostsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/host"
)

// MarkerDir is the directory inside a simulated root that holds the
// simulator's own state.
const MarkerDir = host.SimDir

// Is reports whether root is a simulated host made by Init.
func Is(root string) bool { return host.IsSimulated(root) }

// Model is a NIC the simulator knows.
type Model struct {
	Name      string `json:"name"`
	Device    string `json:"device"`    // PF PCI device id
	VFDevice  string `json:"vf_device"` // VF PCI device id
	PFDriver  string `json:"pf_driver"`
	VFDriver  string `json:"vf_driver"`
	MaxVFs    int    `json:"max_vfs"`
	Ntuple    bool   `json:"ntuple"` // has flow-director ntuple filters
	RSSQueues int    `json:"rss_queues"`
}

// Models are the NICs the simulator knows, by name.
var models = map[string]Model{
	"82599": {Name: "82599", Device: "0x10fb", VFDevice: "10ed", PFDriver: "ixgbe", VFDriver: "ixgbevf", MaxVFs: 63, Ntuple: true, RSSQueues: 16},
	"82576": {Name: "82576", Device: "0x10c9", VFDevice: "10ca", PFDriver: "igb", VFDriver: "igbvf", MaxVFs: 7, Ntuple: false, RSSQueues: 8},
}

// vfSettings is a VF's rtnetlink state.
type vfSettings struct {
	MAC      string `json:"mac"`
	VLAN     int    `json:"vlan"`
	QoS      int    `json:"qos"`
	Spoofchk bool   `json:"spoofchk"`
	Trust    bool   `json:"trust"`
}

// state is what the tree cannot carry.
type state struct {
	Model   Model               `json:"model"`
	PF      string              `json:"pf"`
	PFAddr  string              `json:"pf_address"`
	Total   int                 `json:"total_vfs"`
	NoSRIOV bool                `json:"no_sriov,omitempty"`
	Ntuple  bool                `json:"ntuple"`
	VFs     map[int]*vfSettings `json:"vfs"`
	// CPUs is num_online_cpus, which bounds the drivers' RSS queues (0:
	// 16, see rss.go).
	CPUs int `json:"cpus,omitempty"`
	// RSS is the PF's indirection table, channels and LRO (rss.go).
	RSS rssState `json:"rss"`
}

// Sim is an open simulated host.
type Sim struct {
	root string
	fs   *host.RootFS
}

// p is where host path hp is in the tree, every link on the way resolved
// within the root (the last element is not followed): the simulator's own
// file calls never leave the tree. A path the root cannot resolve (a link
// loop) is left to the kernel's lookup, which fails the same way, unless
// that lookup leads out of the tree: then it becomes a path every file call
// refuses (EINVAL, a NUL byte).
func (s *Sim) p(hp string) string {
	q, err := s.fs.InRoot(hp, false)
	if err == nil {
		return q
	}
	lex := s.fs.Path(hp)
	if dir, err := filepath.EvalSymlinks(filepath.Dir(lex)); err == nil && dir != s.root && !strings.HasPrefix(dir, s.root+"/") {
		return lex + "\x00"
	}
	return lex
}

func (s *Sim) stateFile() string { return filepath.Join(s.root, MarkerDir, "state.json") }

// locked runs f with the simulator's lock held and its state loaded; the
// state is saved when f succeeds.
func (s *Sim) locked(f func(st *state) error) error { return s.run(false, f) }

// lockedTx is locked for calls that change the tree: like the kernel's
// attribute writes they are all or nothing, so when a file syscall fails
// inside f (or in saving the state) the tree is put back as it was, and no
// half-made VF or driver link is left for the tool to trip over.
func (s *Sim) lockedTx(f func(st *state) error) error { return s.run(true, f) }

func (s *Sim) run(tx bool, f func(st *state) error) error {
	return s.lockSim(func() error {
		if _, err := s.recover(); err != nil {
			return err
		}
		st, b, err := s.readState()
		if err != nil {
			return err
		}
		var before map[string]treeEntry
		if tx {
			if before, err = s.capture(); err != nil {
				return fmt.Errorf("simulator: %w", err)
			}
			// The kernel finishes an attribute write even when the writer
			// is killed; the simulator runs inside the writer, so it keeps
			// what it needs to put the tree back if the process dies
			// half-way (see recover).
			if err := s.saveTx(before, b); err != nil {
				return err
			}
		}
		err = f(st)
		if err == nil {
			err = s.save(st)
		}
		if err != nil && tx {
			if rerr := s.restore(before); rerr != nil {
				// The record stays: the next call of any process puts
				// the tree back before it reads it (recover).
				return errors.Join(err, rerr)
			}
		}
		if tx {
			if rerr := os.Remove(s.txFile()); rerr != nil && err == nil {
				// The record stays, so the next call would put the tree
				// back and undo a call reported done: undo it now (recover
				// does what that next call would) and report it failed.
				s.recover()
				return fmt.Errorf("simulator: %w", rerr)
			}
		}
		return err
	})
}

// rscLatch is the file that holds state.RSS.NoRSC: a one-way latch of the
// driver (see rssState) that no tool can undo and that every SR-IOV round
// trip on ixgbe sets, so Snapshot leaves it out; tests read it with
// Ethtool.Feature.
const rscLatch = "rsc-cleared"

func (s *Sim) save(st *state) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	latch := filepath.Join(s.root, MarkerDir, rscLatch)
	if st.RSS.NoRSC {
		err = os.WriteFile(latch, []byte("1\n"), 0o644)
	} else {
		err = remove(latch)
	}
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	if err := replaceFile(s.stateFile(), append(b, '\n')); err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	return nil
}

// replaceFile writes data to a temporary file beside p and renames it over
// p, so p is whole or as it was; a failure leaves no temporary file.
func replaceFile(p string, data []byte) error {
	tmp := p + ".tmp"
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Open returns the Host of the simulated tree at root.
func Open(root string) (*host.Host, error) {
	if !Is(root) {
		return nil, fmt.Errorf("%s is not a simulated host (no %s/state.json; make one with 'vfbypass sim init')", root, MarkerDir)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := checkMarkerDir(abs); err != nil {
		return nil, err
	}
	s := &Sim{root: abs, fs: host.NewRootFS(abs)}
	// A call a killed process left half-done is put back before anything
	// reads the tree (run recovers under the simulator's lock); a record
	// that cannot be looked at is left to recover to report.
	if _, err := os.Stat(s.txFile()); !errors.Is(err, fs.ErrNotExist) {
		if err := s.locked(func(*state) error { return nil }); err != nil {
			return nil, err
		}
	} else if err := s.lockSim(func() error { return nil }); err != nil {
		return nil, err // lockSim removes what a killed replaceFile left
	}
	return &host.Host{
		FS:        &simFS{RootFS: s.fs, s: s},
		Links:     &simLinks{s: s},
		Ethtool:   &simEthtool{s: s},
		Modules:   &simModules{s: s},
		Rules:     s.rules,
		Events:    &simEvents{s: s},
		Simulated: true,
		Close:     func() error { return nil },
	}, nil
}

// checkMarkerDir refuses a simulator directory that is a symlink or holds
// one: the simulator opens its own files there by plain paths, and a link
// would lead its writes out of the host root.
func checkMarkerDir(root string) error {
	dir := filepath.Join(root, MarkerDir)
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("simulator: %s is not a directory (%s): it must be the simulator's own, not a link out of the host root", dir, fi.Mode().Type())
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("simulator: %s is a symlink: the simulator's files must be its own, not links out of the host root", filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

func errno(op, path string, e unix.Errno) error {
	return &fs.PathError{Op: op, Path: path, Err: e}
}

// present reports whether p exists on the simulator's own tree. Only
// fs.ErrNotExist means absent: any other Lstat failure (EIO, ENOTDIR, ELOOP,
// EACCES...) is returned with the path, so the model never takes an error
// it met on its own files for a decision of the kernel it models.
func present(p string) (bool, error) {
	_, err := os.Lstat(p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("simulated host: %w", err)
}

// mayExist is present for read-only questions whose caller cannot return
// an error: it is false only when p does not exist, so an error reading
// the tree is never taken for absence.
func mayExist(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// netdev returns nil when interface ifname exists, missing when it does
// not, and the error when the tree cannot tell.
func (s *Sim) netdev(ifname string, missing error) error {
	ok, err := present(s.p("/sys/class/net/" + ifname))
	if err != nil {
		return err
	}
	if !ok {
		return missing
	}
	return nil
}

// readAttr is a file's trimmed content, "" when the file does not exist;
// any other read failure is returned with the path.
func readAttr(p string) (string, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("simulated host: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readlinkOpt is os.Readlink with "" for a link that does not exist; any
// other failure is returned with the path.
func readlinkOpt(p string) (string, error) {
	t, err := os.Readlink(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("simulated host: %w", err)
	}
	return t, nil
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// relLink makes the symlink at (host path) at point to (host path) target
// with a relative path, as sysfs does.
func (s *Sim) relLink(target, at string) error {
	rel, err := filepath.Rel(filepath.Dir(s.p(at)), s.p(target))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.p(at)), 0o755); err != nil {
		return err
	}
	_ = os.Remove(s.p(at))
	return os.Symlink(rel, s.p(at))
}

func (s *Sim) writeFile(hp, content string) error {
	if err := os.MkdirAll(filepath.Dir(s.p(hp)), 0o755); err != nil {
		return err
	}
	real, err := s.fs.InRoot(hp, true)
	if err != nil {
		return err
	}
	return os.WriteFile(real, []byte(content+"\n"), 0o644)
}
