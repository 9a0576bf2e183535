package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// Claims says which state directory installed the rule at each location of
// one PF's table. A journal is only its own state directory's word; the
// claims are shared by every state directory on the host (they live beside
// the PF's lock, HOST_ROOT/run/lock/vfbypass/ADDR.claims), so a record in
// one state directory cannot make vfbypass delete a rule another one
// installed: a rule claimed by another state directory is left alone.
//
// A claim is written before its rule is inserted and removed after the rule
// is deleted, under the PF's lock, so a kill leaves at most a claim without
// a rule (the location is empty: the claim is dropped by the next run that
// finds it so) or, for a rule inserted at a location the driver chose, a
// rule without a claim (unclaimed rules are any journal's to delete, and
// the next run of the state directory that records it claims it). The file
// is replaced atomically (rename) and not fsynced: it lives on tmpfs, and
// no rule outlives a reboot either.
type Claims struct {
	fs    host.FS
	pf    string
	dir   string // the lock directory; "" when it does not exist yet
	key   string
	self  string // this state directory, resolved
	owner map[uint32]string
	live  map[string]bool // whether a claiming state directory holds a journal of pf
}

// claimsFile is the format of ADDR.claims.
type claimsFile struct {
	Version int     `json:"version"`
	Claims  []claim `json:"claims"`
}

type claim struct {
	Location uint32 `json:"location"`
	StateDir string `json:"state_dir"`
}

// claimsVersion is the format of the claims file.
const claimsVersion = 1

// maxClaims bounds what LoadClaims reads: a claim per location of a full
// table with long state directory names.
const maxClaims = 64 << 20

// StateDirID is the state directory as claims name it: absolute, with its
// symbolic links resolved, so two spellings of one directory are one
// owner.
func (s Store) StateDirID() string {
	d, err := filepath.Abs(s.Dir)
	if err != nil {
		return filepath.Clean(s.Dir)
	}
	if r, err := filepath.EvalSymlinks(d); err == nil {
		return r
	}
	return d
}

// LoadClaims reads the rule claims of pf on host f (none when there is no
// claims file). It creates nothing. A damaged claims file is refused (exit
// 2) with the fix: remove it.
func (s Store) LoadClaims(f host.FS, pf string) (*Claims, error) {
	dir, key, err := lockPlace(f, pf, false)
	if err != nil {
		return nil, err
	}
	c := &Claims{fs: f, pf: pf, dir: dir, key: key, self: s.StateDirID(), owner: map[uint32]string{}, live: map[string]bool{}}
	if dir == "" {
		return c, nil
	}
	p := c.path()
	b, err := ReadOwned("rule claims file", p, maxClaims)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case outcome.Of(err) != nil:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read rule claims %s: %w", p, err)
	}
	bad := func(why string) error {
		return outcome.Invalid(fmt.Sprintf("remove %s (vfbypass writes it again; until then rules of %s are claimed by no state directory)", p, pf),
			"rule claims %s: %s", p, why)
	}
	var cf claimsFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, bad(err.Error())
	}
	if cf.Version != claimsVersion {
		return nil, bad(fmt.Sprintf("format version %d, this vfbypass reads %d", cf.Version, claimsVersion))
	}
	for _, x := range cf.Claims {
		if x.Location >= 1<<31 || !filepath.IsAbs(x.StateDir) {
			return nil, bad(fmt.Sprintf("claim of location %d by %q: want a location below 2^31 and an absolute state directory", x.Location, x.StateDir))
		}
		c.owner[x.Location] = x.StateDir
	}
	return c, nil
}

func (c *Claims) path() string { return filepath.Join(c.dir, c.key+".claims") }

// Other returns the state directory that claims loc when it is not this
// one, or "".
// A claim by a state directory that holds no journal of the PF any more
// (removed by hand, or moved) is stale and claims nothing.
func (c *Claims) Other(loc uint32) string {
	if c == nil {
		return ""
	}
	o, ok := c.owner[loc]
	if !ok || o == c.self {
		return ""
	}
	live, seen := c.live[o]
	if !seen {
		_, err := os.Lstat(filepath.Join(o, c.pf+".json"))
		live = err == nil
		c.live[o] = live
	}
	if !live {
		return ""
	}
	return o
}

// Claim records this state directory as the owner of the rules at locs
// (before they are inserted).
func (c *Claims) Claim(locs []uint32) error {
	if c == nil {
		return nil
	}
	changed := false
	for _, l := range locs {
		if c.owner[l] != c.self {
			c.owner[l], changed = c.self, true
		}
	}
	return c.saveIf(changed)
}

// Release drops the claims at locs, whoever holds them: the caller has
// just found those locations empty (it deleted their rules, or they were
// gone).
func (c *Claims) Release(locs []uint32) error {
	if c == nil {
		return nil
	}
	changed := false
	for _, l := range locs {
		if _, ok := c.owner[l]; ok {
			delete(c.owner, l)
			changed = true
		}
	}
	return c.saveIf(changed)
}

// Reconcile makes this state directory's claims the locations in ours
// (its journal's rules that are in place): its claims elsewhere go (a run
// killed between a claim and its insert, or between a delete and its
// release, left them), and an unclaimed location in ours is claimed.
func (c *Claims) Reconcile(ours []uint32) error {
	if c == nil {
		return nil
	}
	keep := map[uint32]bool{}
	for _, l := range ours {
		keep[l] = true
	}
	changed := false
	for l, o := range c.owner {
		if o == c.self && !keep[l] {
			delete(c.owner, l)
			changed = true
		}
	}
	for _, l := range ours {
		if _, ok := c.owner[l]; !ok {
			c.owner[l], changed = c.self, true
		}
	}
	return c.saveIf(changed)
}

// saveIf writes the claims when changed (ReplaceFile), or removes the
// file when no claim is left.
func (c *Claims) saveIf(changed bool) error {
	if !changed {
		return nil
	}
	if c.dir == "" {
		dir, _, err := lockPlace(c.fs, c.pf, true)
		if err != nil {
			return err
		}
		c.dir = dir
	}
	p := c.path()
	if len(c.owner) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove rule claims %s: %w", p, err)
		}
		return nil
	}
	cf := claimsFile{Version: claimsVersion, Claims: make([]claim, 0, len(c.owner))}
	for l, o := range c.owner {
		cf.Claims = append(cf.Claims, claim{Location: l, StateDir: o})
	}
	slices.SortFunc(cf.Claims, func(a, b claim) int { return int(a.Location) - int(b.Location) })
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode rule claims %s: %w", p, err)
	}
	if err := ReplaceFile(c.dir, filepath.Base(p), append(b, '\n')); err != nil {
		return fmt.Errorf("rule claims: %w", err)
	}
	return nil
}
