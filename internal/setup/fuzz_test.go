package setup_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// ruleState is a rule record's source and state in a journal Save wrote.
var ruleState = regexp.MustCompile(`"source": "up",\s*"state": "applied"`)

// FuzzJournal feeds arbitrary bytes as eth3's journal through every reader
// of it: Load, down's plan (a dry run: load, verify, the undo plan and its
// diff), up's resume and plan (a dry run) and status. None may panic or
// touch the host; a journal Load calls damaged is refused by down and up
// with exit 2 and a fix. The seeds are journals real runs wrote: VF mode
// with a VF's settings, its bind to vfio-pci, vfio's no-IOMMU mode and
// rules (one of them replacing another, pending), and queue mode.
func FuzzJournal(f *testing.F) {
	root := filepath.Join(f.TempDir(), "host")
	if err := hostsim.Init(root, hostsim.Options{TotalVFs: 8, NoVFIO: true, NoIOMMU: true}); err != nil {
		f.Fatal(err)
	}
	h, err := hostsim.Open(root)
	if err != nil {
		f.Fatal(err)
	}
	state := filepath.Join(f.TempDir(), "state")
	opts := setup.Options{StateDir: state}
	ctx := context.Background()
	r := req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01", VLAN: ip(100), Trust: bp(true)})
	r.NoIOMMU = true
	r.Rules = []setup.RuleRequest{{VF: ip(0), Flow: "flow-type tcp4 dst-port 80"}, {VF: ip(1), Flow: "flow-type udp4 dst-port 53"}}
	if _, err := setup.Up(ctx, h, r, opts); err != nil {
		f.Fatalf("up: %v", err)
	}
	p := filepath.Join(state, "eth3.json")
	seed, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	if m := ruleState.FindIndex(seed); m != nil {
		f.Add(slices.Concat(seed[:m[0]], []byte(`"source": "up", "state": "pending"`), seed[m[1]:]))
	} else {
		f.Fatalf("no applied rule record in the seed:\n%s", seed)
	}
	f.Add(bytes.Replace(seed, []byte(`"id": "vf0-config"`), []byte(`"id": "module-vfio-pci"`), 1))
	v3 := bytes.Replace(seed, []byte(`"version": 4`), []byte(`"version": 3`), 1)
	f.Add(v3)
	f.Add(bytes.Replace(v3, []byte(`"source": "up"`), []byte(`"source": "up", "pending": true`), 1))
	f.Add(bytes.Replace(seed, []byte(`"version": 4`), []byte(`"version": 2`), 1))
	f.Add([]byte(`{"version":4,"pf":"eth3","request":{"pf":"eth3","mode":"queue","queue":3},"original":{"num_vfs":0,"drivers_autoprobe":true,"driver":"ixgbe","rx_queues":8},` +
		`"steps":[{"id":"rss-indir","kind":"rss-indir","state":"applied","undo":{"want":[0,1,2],"old":[0,1,2,3],"configured":false}},{"id":"lro","kind":"lro","state":"pending","undo":{"old":true}}],"rules":[]}`))
	f.Add([]byte(`{"version":1,"pf":"eth3","steps":[{"id":"numvfs","kind":"numvfs","state":"pending","undo":{"want":2,"old":0}}],"rules":[{"location":5,"words":"flow-type tcp4"}]}`))
	before, err := hostsim.Snapshot(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, lerr := journal.Store{Dir: state}.Load("eth3")
		dry := opts
		dry.DryRun = true
		_, derr := setup.Down(ctx, h, "eth3", dry)
		_, uerr := setup.Up(ctx, h, r, dry)
		if _, err := inspect.Status(h, "eth3", state); err != nil && !outcome.Is[*outcome.BadInput](err) && !strings.Contains(err.Error(), "journal") {
			t.Errorf("status: %v", err)
		}
		if errors.Is(lerr, journal.ErrCorrupt) {
			for what, err := range map[string]error{"down": derr, "up": uerr} {
				if !outcome.Is[*outcome.BadInput](err) || outcome.FixOf(err) == "" {
					t.Errorf("%s of a journal Load calls damaged (%v): %v (outcome %T, fix %q); want exit 2 with a fix", what, lerr, err, outcome.Of(err), outcome.FixOf(err))
				}
			}
		}
		after, err := hostsim.Snapshot(root)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("a dry run on journal %q changed the host:\n%s", b, diff(before, after))
		}
		if now, err := os.ReadFile(p); err != nil || !bytes.Equal(now, b) {
			t.Fatalf("a dry run changed the journal (%v)", err)
		}
	})
}
